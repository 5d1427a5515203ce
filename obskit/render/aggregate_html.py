"""``--format html`` for the aggregate report: one self-contained page (no CDN, no script):
the hop ranking next to a heat map of the top operations × a sample of traces (fastest left,
slowest right; a cell's colour is the CP time that operation held in that trace), the
operations, the call paths, what-if projections and the comparison.

Strings from traces reach the page only through Jinja2 with autoescaping on, and the page's
Content-Security-Policy forbids scripts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from obskit.aggregate.report import AggregateReport
from obskit.render import labels
from obskit.render.aggregate_terminal import endpoint_name
from obskit.units import duration


@dataclass(frozen=True)
class Cell:
    level: int  # 0..9, colour step
    title: str


def render(report: AggregateReport) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("obskit.render", "templates"),
        autoescape=True,
        finalize=lambda value: labels.printable(value) if isinstance(value, str) else value,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("aggregate.html.j2").render(**context(report))


def context(report: AggregateReport) -> dict[str, Any]:
    heat = report.heat_map
    peak = max((v for row in heat.cells for v in row), default=0)
    rows = []
    for (service, operation), values in zip(heat.operations, heat.cells, strict=True):
        cells = [
            Cell(
                round(9 * value / peak) if peak else 0,
                f"{service} {operation} · trace {tid} · {duration(total)} · CP {duration(value)}",
            )
            for value, tid, total in zip(values, heat.trace_ids, heat.durations, strict=True)
        ]
        rows.append((service, operation, cells))
    return {
        "report": report,
        "endpoint": endpoint_name(report),
        "heat_rows": rows,
        "heat_columns": len(heat.trace_ids),
        "fastest": duration(heat.durations[0]) if heat.durations else "",
        "slowest": duration(heat.durations[-1]) if heat.durations else "",
        "fmt": labels,
    }
