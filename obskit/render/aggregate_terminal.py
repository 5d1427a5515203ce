"""The aggregate report in a terminal: where the endpoint's latency goes over many traces.

Header (endpoint, traces, latency percentiles), flagged hops with their reason, the hop
ranking (bottom-up by total critical-path time), the operations, the call paths carrying most
CP time, what-if projections, the window comparison, and warnings. Every trace string goes in
as ``Text`` after :func:`printable`, never as markup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from obskit.aggregate.report import AggregateReport
from obskit.render import labels
from obskit.render.console import capture
from obskit.render.labels import printable, shorten
from obskit.units import duration, format_ns, percent

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

HOP_ROWS = 15
OP_ROWS = 12
PATH_ROWS = 5
CHANGE_ROWS = 10


def render(report: AggregateReport, *, width: int = 100, color: bool = False) -> str:
    return capture(lambda console: print_report(report, console), width=width, color=color)


def print_report(report: AggregateReport, console: Console) -> None:
    from rich.text import Text

    for block in blocks(report):
        console.print(block, soft_wrap=isinstance(block, Text))


def blocks(report: AggregateReport) -> list[RenderableType]:
    out: list[RenderableType] = [_header(report), _flagged(report)]
    if report.traces:
        out += [_hops(report), _operations(report), _paths(report)]
    if report.what_if:
        out.append(_what_if(report))
    if report.comparison is not None:
        out.append(_comparison(report))
    if report.warnings:
        out.append(_warnings(report))
    return out


def endpoint_name(report: AggregateReport) -> str:
    service = report.endpoint.get("service")
    operation = report.endpoint.get("operation")
    if service is None:
        return "the traces' roots"
    return printable(service) + (f" {printable(operation)}" if operation else "")


def _header(report: AggregateReport) -> RenderableType:
    from rich.text import Text

    text = Text()
    text.append("Endpoint ", style="bold")
    text.append(endpoint_name(report), style="bold cyan")
    text.append(f" · {labels.plural(report.traces, 'trace')} analysed")
    if report.traces_found != report.traces:
        text.append(f" of {report.traces_found} found", style="yellow")
    text.append("\n")
    if report.traces:
        d = report.duration_ns
        text.append("Latency ", style="dim")
        text.append(
            f"p50 {duration(d['p50'])} · p95 {duration(d['p95'])} · p99 {duration(d['p99'])}"
        )
        if report.accuracy:
            text.append(f" (quantiles ±{report.accuracy:.0%})", style="dim")
        text.append("\n")
    else:
        text.append("No trace to analyse.\n", style="yellow")
    return text


def _flagged(report: AggregateReport) -> RenderableType:
    from rich.text import Text

    text = Text()
    flagged = report.flagged_hops
    if not report.traces:
        return text
    if not flagged:
        text.append(
            f"No slow hop: none holds {percent(report.threshold)} of the latency on the "
            f"critical path, and none has a p95 over {report.slow_factor:g}× its p50.\n",
            style="green",
        )
        return text
    text.append("Slow hops\n", style="bold red")
    for hop in flagged[:8]:
        text.append("  ▲ ", style="bold red")
        text.append(printable(hop.caller), style="bold")
        text.append(" → ")
        text.append(printable(hop.callee), style="bold")
        if hop.external:
            text.append(" (external)", style="magenta")
        text.append(f"  CP p95 {duration(hop.critical_ns.p95)} ({percent(hop.share)})\n")
        text.append(f"    {printable(hop.reason)}\n", style="italic")
        if hop.exemplar_trace_id:
            text.append(
                f"    e.g. obskit analyze --trace-id {hop.exemplar_trace_id}\n", style="dim"
            )
    if len(flagged) > 8:
        text.append(f"  … {len(flagged) - 8} more flagged hops (see --format json)\n")
    return text


def _table(title: str):  # type: ignore[no-untyped-def]  # rich's Table, imported when drawn
    from rich import box
    from rich.table import Table

    return Table(
        title=title,
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        expand=False,
    )


def _hops(report: AggregateReport) -> RenderableType:
    from rich.text import Text

    table = _table("Hops by total critical-path time (▲ flagged; CP time per trace)")
    table.add_column("caller → callee", no_wrap=True, overflow="ellipsis", max_width=46)
    for name in ("p50", "p95", "p99", "total"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("share", justify="right", no_wrap=True)
    table.add_column("critical in", justify="right", no_wrap=True)
    for hop in report.hops[:HOP_ROWS]:
        name = (
            f"{'▲' if hop.flagged else ' '} {shorten(hop.caller, 20)} → {shorten(hop.callee, 20)}"
        )
        if hop.external:
            name += " (ext)"
        cp = hop.critical_ns
        table.add_row(
            Text(name, style="bold red" if hop.flagged else ""),
            Text(format_ns(cp.p50)),
            Text(format_ns(cp.p95)),
            Text(format_ns(cp.p99)),
            Text(format_ns(cp.total)),
            Text(percent(hop.share)),
            Text(f"{hop.critical_in}/{report.traces}"),
        )
    if len(report.hops) > HOP_ROWS:
        table.add_row(Text(f"… {len(report.hops) - HOP_ROWS} more", style="dim"))
    return table


def _operations(report: AggregateReport) -> RenderableType:
    from rich.text import Text

    table = _table("Operations by total critical-path time (bottom-up)")
    table.add_column("service", no_wrap=True, overflow="ellipsis", max_width=22)
    table.add_column("operation", no_wrap=True, overflow="ellipsis", max_width=32)
    table.add_column("p50", justify="right", no_wrap=True)
    table.add_column("p95", justify="right", no_wrap=True)
    table.add_column("share", justify="right", no_wrap=True)
    table.add_column("", no_wrap=True, min_width=20)
    for op in report.operations[:OP_ROWS]:
        table.add_row(
            Text(printable(op.service)),
            Text(printable(op.operation)),
            Text(duration(op.critical_ns.p50)),
            Text(duration(op.critical_ns.p95)),
            Text(percent(op.share)),
            Text(labels.bar(op.share), style="red" if op.share >= report.threshold else "cyan"),
        )
    if len(report.operations) > OP_ROWS:
        table.add_row(Text(f"… {len(report.operations) - OP_ROWS} more", style="dim"))
    return table


def _paths(report: AggregateReport) -> RenderableType:
    from rich.text import Text

    text = Text()
    text.append("Call paths carrying most critical-path time\n", style="bold")
    for path in report.paths[:PATH_ROWS]:
        frames = [shorten(f, 40) for f in path.frames]
        shown = frames if len(frames) <= 4 else [frames[0], "…", *frames[-2:]]
        text.append(f"  {percent(path.share):>6}  ", style="bold")
        text.append(" → ".join(shown))
        text.append(f"  ({duration(path.critical_ns)} in {path.critical_in} traces)\n", style="dim")
    return text


def _what_if(report: AggregateReport) -> RenderableType:
    from rich.text import Text

    text = Text()
    text.append("What if\n", style="bold")
    for w in report.what_if:
        text.append(f"  {printable(w.target)} {w.change}: ", style="bold")
        if not w.matched_spans:
            text.append("no span matches\n", style="yellow")
            continue
        for p in ("p50", "p95", "p99"):
            before, after = w.before[p], w.after[p]
            text.append(f"{p} {duration(before)} → ")
            text.append(duration(after), style="bold green" if after < before else "bold")
            text.append("  ")
        text.append(
            f"\n    {w.matched_spans} spans in {w.matched_traces} traces shortened; "
            f"saves {duration(w.saved_total_ns // max(report.traces, 1))} per trace "
            f"on average (at most {duration(w.bound_total_ns // max(report.traces, 1))}"
            " if nothing else became critical)\n",
            style="dim",
        )
    return text


def _comparison(report: AggregateReport) -> RenderableType:
    from rich.text import Text

    comparison = report.comparison
    assert comparison is not None
    base = comparison.baseline
    table = _table(
        f"Changes against {printable(comparison.window)} ({base.traces} traces, "
        f"p50 {duration(base.duration_ns['p50'])} → {duration(report.duration_ns['p50'])})"
    )
    table.add_column("what", no_wrap=True, overflow="ellipsis", max_width=50)
    table.add_column("mean before", justify="right", no_wrap=True)
    table.add_column("mean now", justify="right", no_wrap=True)
    table.add_column("change", justify="right", no_wrap=True)
    for change in comparison.changes[:CHANGE_ROWS]:
        a, b = change.name
        name = (
            f"{shorten(a, 22)} → {shorten(b, 22)}"
            if change.kind == "hop"
            else (f"{shorten(a, 20)}: {shorten(b, 26)}")
        )
        sign = "+" if change.change_ns > 0 else ""
        table.add_row(
            Text(name),
            Text(duration(change.before["mean"])),
            Text(duration(change.after["mean"])),
            Text(
                sign + duration(change.change_ns),
                style="bold red" if change.change_ns > 0 else "green",
            ),
        )
    return table


def _warnings(report: AggregateReport) -> RenderableType:
    from rich.text import Text

    text = Text()
    text.append("Warnings\n", style="bold yellow")
    for warning in report.warnings:
        text.append(f"  ! [{printable(warning.code)}] ", style="yellow")
        text.append(printable(warning.message) + "\n")
    return text
