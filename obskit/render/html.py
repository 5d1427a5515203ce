"""``--format html``: one self-contained file (no CDN, no script, no external request): the
header, the slow hops, the critical path by operation, the dependency graph as inline SVG and
a waterfall with the critical sections highlighted.

Every string from the trace reaches the page through Jinja2 with autoescaping on, and the page
carries a Content-Security-Policy that forbids scripts, so even a name like
``<script>alert(1)</script>`` is only text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from obskit.analysis.reports import TraceReport
from obskit.render import labels, layout, tree
from obskit.units import duration

WATERFALL_ROWS = 2000  # beyond this a browser slows down; off-path subtrees fold first


@dataclass(frozen=True)
class Bar:
    left: float  # % of the timeline
    width: float


@dataclass(frozen=True)
class WaterfallRow:
    depth: int
    service: str
    operation: str
    duration: str
    critical: str  # "" when the span holds no CP time
    error: bool
    hidden: int
    bar: Bar
    sections: tuple[Bar, ...]
    title: str


def render(report: TraceReport) -> str:
    env = _environment()
    template = env.get_template("report.html.j2")
    return template.render(**context(report))


def context(report: TraceReport) -> dict[str, Any]:
    rows, cut = _waterfall(report)
    return {
        "report": report,
        "root": report.root,
        "duration": duration(report.duration_ns),
        "flagged": report.flagged_hops,
        "operations": report.by_operation,
        "graph": layout.layout(report.graph, entry=report.root.service),
        "rows": rows,
        "cut": cut,
        "ticks": _ticks(report),
        "fmt": labels,
    }


def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("obskit.render", "templates"),
        autoescape=True,  # every template here is HTML/SVG
        # control characters in names (an ESC, a NUL) shown as \xNN, like the terminal does
        finalize=lambda value: labels.printable(value) if isinstance(value, str) else value,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _span_window(report: TraceReport) -> tuple[int, int]:
    window = report.outline.window if report.outline is not None else None
    if window is not None:
        start, end = window
    else:
        start, end = report.root.start_ns, report.root.end_ns
    return start, max(end, start + 1)


def _ticks(report: TraceReport) -> list[tuple[float, str]]:
    start, end = _span_window(report)
    return [(i * 20.0, duration((end - start) * i // 5)) for i in range(6)]


def _waterfall(report: TraceReport) -> tuple[list[WaterfallRow], int]:
    if report.outline is None:
        return [], 0
    start, end = _span_window(report)
    span_total = end - start

    def bar(a: int, b: int) -> Bar:
        left = (a - start) * 100 / span_total
        width = max((b - a) * 100 / span_total, 0.05)
        return Bar(round(left, 3), round(min(width, 100 - left), 3))

    sections: dict[str, list[Bar]] = {}
    for step in report.critical_path:
        sections.setdefault(step.span_id, []).append(bar(step.start_ns, step.end_ns))
    spans_tree = report.outline
    rows, cut = tree.rows(spans_tree, max_rows=WATERFALL_ROWS, collapse_runs=False)
    out = []
    for row in rows:
        span = row.span
        if span is None:
            continue
        crit = duration(row.critical_ns) if row.critical_ns else ""
        title = f"{span.service} {span.name} · {duration(span.duration_ns)}"
        if crit:
            title += f" · CP {crit}"
        out.append(
            WaterfallRow(
                depth=row.depth,
                service=labels.printable(span.service),
                operation=labels.printable(span.name),
                duration=duration(span.duration_ns),
                critical=crit,
                error=span.is_error,
                hidden=row.hidden,
                bar=bar(span.start_ns, span.end_ns),
                sections=tuple(sections.get(span.span_id, ())),
                title=labels.printable(title),
            )
        )
    return out, cut
