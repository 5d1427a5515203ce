"""The stack-health dashboard: is the observability stack itself working? Scrape targets,
the collector's span pipeline, Prometheus' rule evaluation and Alertmanager's notifications."""

from __future__ import annotations

from typing import Any

from obskit.stack import vocabulary as v
from obskit.stack.grafana import panels as p
from obskit.stack.grafana.queries import RATE_INTERVAL
from obskit.stack.spec import Spec

UID = "obskit-stack-health"

UP_MAPPINGS = [
    {
        "type": "value",
        "options": {
            "0": {"text": "DOWN", "color": "red", "index": 0},
            "1": {"text": "UP", "color": "green", "index": 1},
        },
    }
]


def _rate_by(label: str, metric: str) -> str:
    return f"sum by ({label}) (rate({metric}[{RATE_INTERVAL}]))"


def _failures_by(label: str, failed: str, done: str) -> str:
    """A failure counter's rate, 0 where ``done`` counts work but nothing failed yet: the
    Collector creates some failure counters at the first failure only."""
    return f"{_rate_by(label, failed)} or 0 * {_rate_by(label, done)}"


def _series(board: p.Board, title: str, unit: str, rows: list[tuple[str, str]]) -> None:
    targets = [
        p.target(expr, chr(ord("A") + i), legend=legend) for i, (expr, legend) in enumerate(rows)
    ]
    board.add(p.timeseries(title, targets, unit=unit, minimum=0), w=12, h=8)


def dashboard(spec: Spec) -> dict[str, Any]:
    board = p.Board()
    board.add(
        p.stat(
            "Scrape targets",
            [p.target("up", "A", legend="{{job}} {{instance}}", instant=True)],
            unit="none",
            mappings=UP_MAPPINGS,
            steps=p.thresholds((1, "green"), base="red"),
            text_mode="value_and_name",
            description="Every target Prometheus scrapes; DOWN means the last scrape failed.",
        ),
        w=24,
        h=6,
    )
    _series(
        board,
        "Scrape duration by job",
        "s",
        [("max by (job) (scrape_duration_seconds)", "{{job}}")],
    )
    _series(
        board,
        "Targets down",
        "none",
        # 0 for a job whose targets are all up, rather than no data at all
        [("sum by (job) (up == bool 0)", "{{job}}")],
    )

    board.row("Collector: spans")
    _series(
        board,
        "Spans received",
        "short",
        [
            (_rate_by("receiver", v.COLLECTOR_ACCEPTED_SPANS), "accepted {{receiver}}"),
            (
                _failures_by("receiver", v.COLLECTOR_REFUSED_SPANS, v.COLLECTOR_ACCEPTED_SPANS),
                "refused {{receiver}}",
            ),
        ],
    )
    _series(
        board,
        "Spans exported",
        "short",
        [
            (_rate_by("exporter", v.COLLECTOR_SENT_SPANS), "sent {{exporter}}"),
            (
                _failures_by("exporter", v.COLLECTOR_SEND_FAILED_SPANS, v.COLLECTOR_SENT_SPANS),
                "failed {{exporter}}",
            ),
            (
                _failures_by("exporter", v.COLLECTOR_ENQUEUE_FAILED_SPANS, v.COLLECTOR_SENT_SPANS),
                "queue full {{exporter}}",
            ),
        ],
    )

    board.row("Prometheus and Alertmanager")
    _series(
        board,
        "Rule evaluation failures",
        "short",
        [
            (
                f"sum by (rule_group) (increase(prometheus_rule_evaluation_failures_total"
                f"[{RATE_INTERVAL}]))",
                "{{rule_group}}",
            ),
            (
                f"sum(rate(prometheus_notifications_dropped_total[{RATE_INTERVAL}]))",
                "alerts dropped on the way to Alertmanager",
            ),
        ],
    )
    _series(
        board,
        "Alertmanager notifications",
        "short",
        [
            (_rate_by("integration", "alertmanager_notifications_total"), "sent {{integration}}"),
            (
                _rate_by("integration", "alertmanager_notifications_failed_total"),
                "failed {{integration}}",
            ),
        ],
    )
    return p.dashboard(
        uid=UID,
        title=f"{spec.project} / Stack health",
        description="Scrape targets, the collector's span pipeline, rule evaluation and "
        "alert notifications.",
        board=board,
        tags=["obskit", "health"],
    )
