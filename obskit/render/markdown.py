"""``--format markdown``: the report for a ticket or a pull-request comment (GitHub-flavoured).

Trace strings are escaped for Markdown *and* HTML, since GitHub renders inline HTML: a service
called ``<img src=x>`` or ``a|b`` must come out as text and not break the table.
"""

from __future__ import annotations

import re

from obskit.analysis.reports import TraceReport
from obskit.render.labels import plural, printable
from obskit.units import duration, percent

TABLE_ROWS = 15
_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")


def text(value: str) -> str:
    """``value`` as literal Markdown text, safe in a table cell."""
    value = printable(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SPECIAL.sub(r"\\\1", value)


def render(report: TraceReport) -> str:
    root = report.root
    lines = [
        f"### Trace `{report.trace_id}`: {text(root.operation)} ({text(root.service)}), "
        f"{duration(report.duration_ns)}",
        "",
        f"{plural(report.span_count, 'span')} · {plural(len(report.services), 'service')}: "
        + ", ".join(text(s) for s in report.services),
        "",
    ]
    flagged = report.flagged_hops
    if flagged:
        lines.append(
            f"**Slow hops** (≥ {percent(report.threshold)} of the request on the critical path):"
        )
        lines.append("")
        for hop in flagged:
            external = " (external)" if hop.external else ""
            lines.append(
                f"- **{text(hop.caller)} → {text(hop.callee)}**{external} {text(hop.operation)}: "
                f"{duration(hop.critical_ns)} on the critical path ({percent(hop.share)})"
                + (f". {text(hop.reason)}" if hop.reason else "")
            )
    else:
        lines.append(
            f"No slow hop: none takes {percent(report.threshold)} or more of the request "
            "on the critical path."
        )
    lines += [
        "",
        "| service | operation | CP time | share |",
        "|---|---|---:|---:|",
    ]
    for op in report.by_operation[:TABLE_ROWS]:
        lines.append(
            f"| {text(op.service)} | {text(op.operation)} | {duration(op.critical_ns)} | "
            f"{percent(op.share)} |"
        )
    rest = report.by_operation[TABLE_ROWS:]
    if rest:
        lines.append(
            f"| {len(rest)} more | | {duration(sum(o.critical_ns for o in rest))} | "
            f"{percent(sum(o.share for o in rest))} |"
        )
    if report.warnings:
        lines += ["", f"<details><summary>{plural(len(report.warnings), 'warning')}</summary>", ""]
        lines += [f"- **{text(w.code)}**: {text(w.message)}" for w in report.warnings]
        lines += ["", "</details>"]
    lines += ["", "<sub>obskit analyze</sub>"]
    return "\n".join(lines) + "\n"
