"""The SLO dashboard: per service and objective, the SLI over the SLO window, the error budget
left, and burn rates over the windows the burn-rate alerts use.

Objectives, alert windows and burn-rate factors come from :mod:`obskit.stack.rules`, so the
dashboard draws the thresholds the alerts fire at. Expressions use the raw series (not the
recording rules) so the dashboard shows the truth while rules change: availability is the share
of non-5xx responses, latency the share of requests within the threshold, both from the
services' ``http.server.request.duration`` histograms, as in the SLO rules.
"""

from __future__ import annotations

from typing import Any

from obskit.stack import rules
from obskit.stack.grafana import panels as p
from obskit.stack.grafana import queries as q
from obskit.stack.promql import duration, number
from obskit.stack.rules import Objective
from obskit.stack.spec import Spec

UID = "obskit-slo"
BURN_WINDOWS = tuple(duration(seconds) for seconds in rules.SLO_WINDOWS)
COLLAPSE_ABOVE = 4  # more SLO rows than this start collapsed: 30-day queries are not free


def bad_ratio(objective: Objective, window: str) -> str:
    if objective.kind == rules.LATENCY:
        assert objective.threshold_ms is not None
        return q.slow_ratio(objective.service, objective.threshold_ms, window)
    return q.error_ratio(objective.service, window)


def burn_rate(objective: Objective, window: str) -> str:
    return f"({bad_ratio(objective, window)}) / {number(objective.budget)}"


def title(objective: Objective) -> str:
    what = (
        f"latency under {objective.threshold_ms} ms"
        if objective.kind == rules.LATENCY
        else "availability (non-5xx)"
    )
    return (
        f"{objective.service}: {what}, objective {objective.target:g}% "
        f"over {objective.window_days}d"
    )


def alert_factors(objective: Objective) -> dict[str, float]:
    """Long window -> burn-rate factor, for the alert tiers that can fire at all."""
    return {tier.long: tier.factor(objective.window_days) for tier in objective.tiers()}


def _ref(i: int) -> str:
    return chr(ord("A") + i)


def _objective_panels(board: p.Board, objective: Objective) -> None:
    period = f"{objective.window_days}d"
    board.add(
        p.stat(
            f"SLI over {period}",
            [p.target(f"1 - ({bad_ratio(objective, period)})", "A", instant=True)],
            unit="percentunit",
            decimals=3,
            steps=p.thresholds((float(number(objective.target / 100)), "green"), base="red"),
            description=f"Share of good requests over the last {period}; "
            f"green at or above the objective, {objective.target:g}%.",
        ),
        w=5,
        h=5,
    )
    board.add(
        p.stat(
            f"Error budget left ({period})",
            [
                p.target(
                    f"1 - ({bad_ratio(objective, period)}) / {number(objective.budget)}",
                    "A",
                    instant=True,
                )
            ],
            unit="percentunit",
            decimals=1,
            steps=p.thresholds((0, "orange"), (0.25, "green"), base="red"),
            description="100% = no bad requests yet; 0% = the budget is spent; below 0 the "
            "objective is missed.",
        ),
        w=5,
        h=5,
    )
    factors = alert_factors(objective)
    levels = sorted(set(factors.values()))
    colors = ["yellow", "orange", "red", "dark-red"]
    steps = p.thresholds(*((f, colors[i]) for i, f in enumerate(levels)))
    tiers = "; ".join(
        f"{tier.severity} at {tier.factor(objective.window_days):.3g}x over {tier.long} and "
        f"{tier.short}"
        for tier in objective.tiers()
    )
    board.add(
        p.stat(
            "Burn rate by window",
            [
                p.target(burn_rate(objective, window), _ref(i), legend=window, instant=True)
                for i, window in enumerate(BURN_WINDOWS)
            ],
            unit="none",
            decimals=2,
            steps=steps,
            text_mode="value_and_name",
            description="1 = spending the budget exactly over the SLO window. Alerts: "
            f"{tiers or 'none (the objective is too loose for any tier)'}.",
        ),
        w=14,
        h=5,
    )
    board.add(
        p.timeseries(
            "Burn rate over the long alert windows",
            [
                p.target(burn_rate(objective, window), _ref(i), legend=f"{window} ({factor:.3g}x)")
                for i, (window, factor) in enumerate(factors.items())
            ]
            or [p.target(burn_rate(objective, "1h"), "A", legend="1h")],
            unit="none",
            steps=steps,
            show_thresholds=True,
            minimum=0,
        ),
        w=24,
        h=7,
    )


def dashboard(spec: Spec) -> dict[str, Any]:
    board = p.Board()
    found = [objective for service in spec.services for objective in rules.objectives(service)]
    if not found:
        board.add(
            p.text(
                "No SLOs yet",
                "No service in `obskit.yaml` has an `slo`. Add one, for example\n\n"
                "```yaml\nslo:\n  availability: 99.9\n  latency: {threshold_ms: 300, target: 99}\n"
                "```\n\nand run `obskit init` again.",
            ),
            w=24,
            h=8,
        )
    collapsed = len(found) > COLLAPSE_ABOVE
    for objective in found:
        board.row(title(objective), collapsed=collapsed)
        _objective_panels(board, objective)
    return p.dashboard(
        uid=UID,
        title=f"{spec.project} / SLOs and error budgets",
        description="Per service: SLI, error budget left and burn rates, from raw series.",
        board=board,
        tags=["obskit", "slo"],
        time_from="now-24h",
    )
