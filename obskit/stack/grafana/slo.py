"""The SLO dashboard: per service and objective, the SLI over the SLO window, the error budget
left, and burn rates over the alerting windows.

Computed from raw series (not recording rules) so the dashboard shows the truth even when
rules are being changed. Availability: share of non-5xx responses in the service's own
``http.server.request.duration`` histogram. Latency: share of server spans faster than the
threshold in the collector's span metrics, whose buckets contain every SLO threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from obskit.stack.grafana import panels as p
from obskit.stack.grafana import queries as q
from obskit.stack.spec import Service, Spec

UID = "obskit-slo"
BURN_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
# (long window, share of the budget that window may burn) -> page/ticket thresholds; at a
# 30-day SLO window these are the classic 14.4x, 6x, 3x and 1x.
ALERT_WINDOWS = (("1h", 0.02), ("6h", 0.05), ("1d", 0.10), ("3d", 0.10))
_HOURS = {"1h": 1, "6h": 6, "1d": 24, "3d": 72}
COLLAPSE_ABOVE = 4  # more SLO rows than this start collapsed: 30-day queries are not free


@dataclass(frozen=True)
class Objective:
    service: Service
    kind: str  # "availability" or "latency"
    target: float  # percent
    threshold_ms: int | None = None

    @property
    def budget(self) -> str:
        """The allowed bad-event ratio as a PromQL number (``0.001`` for 99.9%)."""
        return f"{(100 - self.target) / 100:.6g}"

    @property
    def ratio(self) -> float:
        return float(f"{self.target / 100:.6g}")

    @property
    def days(self) -> int:
        assert self.service.slo is not None
        return self.service.slo.window_days

    def bad_ratio(self, window: str) -> str:
        if self.kind == "latency":
            assert self.threshold_ms is not None
            return q.slow_ratio(self.service.name, self.threshold_ms, window)
        return q.error_ratio(self.service.name, window)

    def burn_rate(self, window: str) -> str:
        return f"({self.bad_ratio(window)}) / {self.budget}"

    def title(self) -> str:
        what = (
            f"latency under {self.threshold_ms} ms"
            if self.kind == "latency"
            else "availability (non-5xx)"
        )
        return f"{self.service.name}: {what}, objective {self.target:g}% over {self.days}d"


def objectives(spec: Spec) -> list[Objective]:
    found: list[Objective] = []
    for service in spec.services:
        slo = service.slo
        if slo is None:
            continue
        if slo.availability is not None:
            found.append(Objective(service, "availability", slo.availability))
        if slo.latency is not None:
            found.append(
                Objective(service, "latency", slo.latency.target, slo.latency.threshold_ms)
            )
    return found


def burn_factor(days: int, long_window: str, budget_share: float) -> float:
    """Burn rate at which ``budget_share`` of a ``days``-day budget goes in ``long_window``."""
    return round(budget_share * days * 24 / _HOURS[long_window], 2)


def _objective_panels(board: p.Board, objective: Objective) -> None:
    period = f"{objective.days}d"
    board.add(
        p.stat(
            f"SLI over {period}",
            [p.target(f"1 - ({objective.bad_ratio(period)})", "A", instant=True)],
            unit="percentunit",
            decimals=3,
            steps=p.thresholds((objective.ratio, "green"), base="red"),
            description=f"Share of good events over the last {period}; "
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
                    f"1 - ({objective.bad_ratio(period)}) / {objective.budget}", "A", instant=True
                )
            ],
            unit="percentunit",
            decimals=1,
            steps=p.thresholds((0, "orange"), (0.25, "green"), base="red"),
            description="100% = no bad events yet; 0% = the budget is spent; below 0 the "
            "objective is missed.",
        ),
        w=5,
        h=5,
    )
    factors = {w: burn_factor(objective.days, w, share) for w, share in ALERT_WINDOWS}
    steps = p.thresholds((1, "yellow"), (factors["6h"], "orange"), (factors["1h"], "red"))
    board.add(
        p.stat(
            "Burn rate by window",
            [
                p.target(objective.burn_rate(window), chr(ord("A") + i), legend=window, instant=True)
                for i, window in enumerate(BURN_WINDOWS)
            ],
            unit="none",
            decimals=2,
            steps=steps,
            text_mode="value_and_name",
            description="1 = spending the budget exactly over the SLO window. Pages at "
            f"{factors['1h']:g}x (1h and 5m) or {factors['6h']:g}x (6h and 30m); tickets at "
            f"{factors['1d']:g}x (1d and 2h) or {factors['3d']:g}x (3d and 6h).",
        ),
        w=14,
        h=5,
    )
    board.add(
        p.timeseries(
            "Burn rate over the long alert windows",
            [
                p.target(
                    objective.burn_rate(window), chr(ord("A") + i), legend=f"{window} ({factor:g}x)"
                )
                for i, (window, factor) in enumerate(factors.items())
            ],
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
    found = objectives(spec)
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
        board.row(objective.title(), collapsed=collapsed)
        _objective_panels(board, objective)
    return p.dashboard(
        uid=UID,
        title=f"{spec.project} / SLOs and error budgets",
        description="Per service: SLI, error budget left and burn rates, from raw series.",
        board=board,
        tags=["obskit", "slo"],
        time_from="now-24h",
    )
