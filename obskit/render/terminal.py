"""The terminal report: one screen that answers "why was this request slow?".

Header, flagged hops with their reason, the critical path by operation, a compact span tree
with the critical sections marked, and warnings. Drawn with rich; every trace string goes in
as ``Text`` (never as markup) after :func:`printable`, so names cannot style or drive the
terminal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from obskit.analysis.reports import TraceReport
from obskit.render import labels, tree
from obskit.render.console import capture
from obskit.render.labels import printable
from obskit.units import duration, percent

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

TABLE_ROWS = 12  # operations in the critical-path table
TREE_ROWS = 40  # lines of span tree
HOP_LIMIT = 8  # flagged hops listed


def render(report: TraceReport, *, width: int = 100, color: bool = False) -> str:
    """The report as text; ``color`` adds ANSI styles (for a terminal)."""
    return capture(lambda console: print_report(report, console), width=width, color=color)


def print_report(report: TraceReport, console: Console) -> None:
    from rich.text import Text

    for block in blocks(report):
        # Text lines are one line each (a long reason should not break mid-sentence into the
        # next row); the terminal may still wrap them visually.
        console.print(block, soft_wrap=isinstance(block, Text))


def blocks(report: TraceReport) -> list[RenderableType]:
    return [
        _header(report),
        _flagged(report),
        _critical_path(report),
        _tree(report),
        *([_warnings(report)] if report.warnings else []),
    ]


def _header(report: TraceReport) -> RenderableType:
    from rich.text import Text

    root = report.root
    text = Text()
    text.append("Trace ", style="bold")
    text.append(report.trace_id, style="bold cyan")
    text.append("  ")
    text.append(printable(root.operation), style="bold")
    text.append(f" ({printable(root.service)})\n")
    text.append(duration(report.duration_ns), style="bold")
    text.append(f" · {labels.plural(report.span_count, 'span')}")
    text.append(f" · {labels.plural(len(report.services), 'service')}: ")
    text.append(", ".join(printable(s) for s in report.services))
    if report.by_service:
        text.append("\nCritical path by service: ", style="dim")
        holding = [s for s in report.by_service if s.critical_ns > 0]
        parts = [f"{printable(s.service)} {percent(s.share)}" for s in holding[:6]]
        more = len(holding) - 6
        text.append(" · ".join(parts) + (f" · {more} more" if more > 0 else ""))
    if len(report.roots) > 1:
        text.append(
            f"\n{len(report.roots)} roots; the critical path follows the primary root "
            f"{root.span_id}",
            style="yellow",
        )
    text.append("\n")
    return text


def _flagged(report: TraceReport) -> RenderableType:
    from rich.text import Text

    flagged = report.flagged_hops
    text = Text()
    if not flagged:
        text.append(
            f"No slow hop: none takes {percent(report.threshold)} or more of the request "
            "on the critical path.\n",
            style="green",
        )
        return text
    text.append(
        f"Slow hops (≥ {percent(report.threshold)} of the request on the critical path)\n",
        style="bold red",
    )
    for hop in flagged[:HOP_LIMIT]:
        text.append("  ▲ ", style="bold red")
        text.append(printable(hop.caller), style="bold")
        text.append(" → ")
        text.append(printable(hop.callee), style="bold")
        if hop.external:
            text.append(" (external)", style="magenta")
        text.append(f"  {printable(hop.operation)}  ")
        text.append(f"CP {duration(hop.critical_ns)}", style="bold")
        text.append(f" ({percent(hop.share)})\n")
        if hop.reason:
            text.append(f"    {printable(hop.reason)}\n", style="italic")
    if len(flagged) > HOP_LIMIT:
        text.append(f"  … {len(flagged) - HOP_LIMIT} more flagged hops (see --format json)\n")
    return text


def _critical_path(report: TraceReport) -> RenderableType:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(
        title="Critical path by operation",
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        expand=False,
    )
    table.add_column("service", no_wrap=True, overflow="ellipsis", max_width=24)
    table.add_column("operation", no_wrap=True, overflow="ellipsis", max_width=36)
    table.add_column("CP time", justify="right", no_wrap=True, min_width=9)
    table.add_column("share", justify="right", no_wrap=True, min_width=6)
    table.add_column("", no_wrap=True, min_width=20)
    for op in report.by_operation[:TABLE_ROWS]:
        table.add_row(
            Text(printable(op.service)),
            Text(printable(op.operation)),
            Text(duration(op.critical_ns)),
            Text(percent(op.share)),
            Text(labels.bar(op.share), style="red" if op.share >= report.threshold else "cyan"),
        )
    rest = report.by_operation[TABLE_ROWS:]
    if rest:
        table.add_row(
            Text(f"… {len(rest)} more", style="dim"),
            Text(""),
            Text(duration(sum(o.critical_ns for o in rest)), style="dim"),
            Text(percent(sum(o.share for o in rest)), style="dim"),
            Text(""),
        )
    return table


def _tree(report: TraceReport) -> RenderableType:
    from rich.text import Text

    text = Text()
    text.append("Span tree", style="bold")
    text.append("  (● = the request waited on this span itself; CP = that time)\n", style="dim")
    if report.outline is None:
        text.append("  (the report carries no span tree; nothing to draw)\n", style="dim")
        return text
    spans_tree = report.outline
    # where an uninstrumented call went, when the analysis could name it
    external = {
        hop.span_id: hop.callee for hop in report.hops if hop.external and hop.callee != "unknown"
    }
    rows, cut = tree.rows(spans_tree, max_rows=TREE_ROWS)
    for row in rows:
        text.append(row.guides, style="dim")
        if row.span is None and row.run is not None:
            run = row.run
            text.append(
                f"⋯ {run.count} more {printable(run.service)} {printable(run.operation)}",
                style="dim",
            )
            if row.critical_ns:
                text.append(
                    f"  ({run.on_path} on the critical path, CP {duration(row.critical_ns)})",
                    style="dim",
                )
            text.append("\n")
            continue
        span = row.span
        assert span is not None
        critical = row.critical_ns > 0
        text.append("● " if critical else "  ", style="bold red" if critical else "")
        text.append(labels.shorten(span.service, 30), style="bold" if critical else "")
        text.append("  ")
        text.append(labels.shorten(span.name, 50))
        text.append(f"  {duration(span.duration_ns)}", style="dim")
        if critical:
            text.append(f"  CP {duration(row.critical_ns)}", style="red")
        if span.span_id in external:
            text.append(f"  → {labels.shorten(external[span.span_id], 30)}", style="magenta")
        if span.is_error:
            text.append("  error", style="bold red")
        if row.hidden:
            text.append(f"  (+{labels.plural(row.hidden, 'span')} off the path)", style="dim")
        text.append("\n")
    if cut:
        text.append(
            f"… {labels.plural(cut, 'more span')} not shown; --format html draws them all\n",
            style="dim",
        )
    return text


def _warnings(report: TraceReport) -> RenderableType:
    from rich.text import Text

    text = Text()
    text.append("Warnings\n", style="bold yellow")
    for warning in report.warnings:
        text.append(f"  ! [{printable(warning.code)}] ", style="yellow")
        text.append(printable(warning.message) + "\n")
    return text
