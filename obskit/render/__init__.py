"""Renderers: a report in, text out. One module per format, one registry for every kind.

:data:`FORMATS` maps each kind of output to the formats it offers: ``report`` (one trace's
:class:`~obskit.analysis.reports.TraceReport`, ``obskit analyze --format``), ``graph`` (its
dependency graph, ``obskit graph``), ``aggregate`` and ``aggregate-graph`` (the same over many
traces, an :class:`~obskit.aggregate.report.AggregateReport`, with ``--service``).
:func:`render` draws a report in one of them; :func:`format_for_path` picks a format from
``-o``'s file extension when ``--format`` is not given. Renderers read the report only: what
they draw (the span tree with its critical-path times, the graph) the analysis put there.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from obskit.errors import InputError

# (report, color, width) -> text; color and width matter to the terminal formats only
Draw = Callable[[Any, bool, int], str]


@dataclass(frozen=True)
class Format:
    name: str
    extensions: tuple[str, ...]
    draw: Draw


def _function(target: str) -> Callable[..., str]:
    """``module:function``, imported when first drawn (jinja2 and rich load only if used)."""
    module, _, name = target.partition(":")
    function: Callable[..., str] = getattr(importlib.import_module(module), name)
    return function


def _whole(target: str) -> Draw:
    return lambda report, color, width: _function(target)(report)


def _terminal(target: str) -> Draw:
    return lambda report, color, width: _function(target)(report, color=color, width=width)


def _graph(target: str) -> Draw:
    return lambda report, color, width: _function(target)(report.graph)


def _formats(*formats: Format) -> dict[str, Format]:
    return {f.name: f for f in formats}


R = "obskit.render."
FORMATS: dict[str, dict[str, Format]] = {
    "report": _formats(
        Format("text", (".txt",), _terminal(R + "terminal:render")),
        Format("json", (".json",), _whole(R + "json_report:render")),
        Format("html", (".html", ".htm"), _whole(R + "html:render")),
        Format("markdown", (".md", ".markdown"), _whole(R + "markdown:render")),
    ),
    "graph": _formats(
        Format(
            "text",
            (".txt",),
            lambda report, color, width: _function(R + "graph_text:render_graph")(
                report.graph, trace_id=report.trace_id
            ),
        ),
        Format("dot", (".dot", ".gv"), _graph(R + "dot:render_graph")),
        Format("mermaid", (".mmd", ".mermaid"), _graph(R + "mermaid:render_graph")),
        Format("json", (".json",), _graph(R + "json_report:render_graph")),
    ),
    "aggregate": _formats(
        Format("text", (".txt",), _terminal(R + "aggregate_terminal:render")),
        Format("json", (".json",), _whole(R + "aggregate_json:render")),
        Format("html", (".html", ".htm"), _whole(R + "aggregate_html:render")),
        Format("folded", (".folded",), _whole(R + "aggregate_folded:render")),
    ),
    "aggregate-graph": _formats(
        Format(
            "text",
            (".txt",),
            lambda report, color, width: _function(R + "aggregate_graph:render_text")(
                report.graph, report.traces
            ),
        ),
        Format("dot", (".dot", ".gv"), _graph(R + "aggregate_graph:render_dot")),
        Format("mermaid", (".mmd", ".mermaid"), _graph(R + "aggregate_graph:render_mermaid")),
        Format(
            "html",
            (".html", ".htm"),
            lambda report, color, width: _function(R + "aggregate_graph:render_html")(
                report.graph, report.traces
            ),
        ),
        Format("json", (".json",), _graph(R + "aggregate_json:render_graph")),
    ),
}
REPORT_FORMATS = FORMATS["report"]
GRAPH_FORMATS = FORMATS["graph"]
AGGREGATE_FORMATS = FORMATS["aggregate"]
AGGREGATE_GRAPH_FORMATS = FORMATS["aggregate-graph"]


def render(kind: str, report: Any, fmt: str, *, color: bool = False, width: int = 100) -> str:
    """``report`` drawn as ``fmt``, one of ``FORMATS[kind]``."""
    return FORMATS[kind][fmt].draw(report, color, width)


def format_for_path(path: str, formats: dict[str, Format], *, option: str = "--format") -> str:
    """The format whose extension ``path`` has; :class:`InputError` naming the choices if none."""
    suffix = PurePath(path).suffix.lower()
    for fmt in formats.values():
        if suffix in fmt.extensions:
            return fmt.name
    known = ", ".join(ext for fmt in formats.values() for ext in fmt.extensions)
    raise InputError(
        f"cannot tell the output format from {path!r} (known extensions: {known})",
        hint=f"pass {option} {'|'.join(formats)}",
    )


def render_report(report: Any, fmt: str, *, color: bool = False, width: int = 100) -> str:
    """One trace's report (``FORMATS["report"]``)."""
    return render("report", report, fmt, color=color, width=width)


def render_graph(report: Any, fmt: str) -> str:
    """One trace's dependency graph (``FORMATS["graph"]``)."""
    return render("graph", report, fmt)


__all__ = [
    "AGGREGATE_FORMATS",
    "AGGREGATE_GRAPH_FORMATS",
    "FORMATS",
    "GRAPH_FORMATS",
    "REPORT_FORMATS",
    "Format",
    "format_for_path",
    "render",
    "render_graph",
    "render_report",
]
