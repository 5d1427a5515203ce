"""Renderers: a report (or its dependency graph) in, text out. One module per format.

``REPORT_FORMATS`` are what ``obskit analyze --format`` offers, ``GRAPH_FORMATS`` what
``obskit graph --format`` offers. :func:`format_for_path` picks a format from ``-o``'s file
extension when ``--format`` is not given.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING

from obskit.errors import InputError

if TYPE_CHECKING:
    from obskit.analysis.reports import TraceReport


@dataclass(frozen=True)
class Format:
    name: str
    module: str  # exposes render(report) for report formats, render_graph(graph) for graphs
    extensions: tuple[str, ...]


REPORT_FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("text", "obskit.render.terminal", (".txt",)),
        Format("json", "obskit.render.json_report", (".json",)),
        Format("html", "obskit.render.html", (".html", ".htm")),
        Format("markdown", "obskit.render.markdown", (".md", ".markdown")),
    )
}

GRAPH_FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("text", "obskit.render.graph_text", (".txt",)),
        Format("dot", "obskit.render.dot", (".dot", ".gv")),
        Format("mermaid", "obskit.render.mermaid", (".mmd", ".mermaid")),
        Format("json", "obskit.render.json_report", (".json",)),
    )
}


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


def render_report(report: TraceReport, fmt: str, *, color: bool = False, width: int = 100) -> str:
    module = importlib.import_module(REPORT_FORMATS[fmt].module)
    if fmt == "text":
        return str(module.render(report, color=color, width=width))
    return str(module.render(report))


def render_graph(report: TraceReport, fmt: str) -> str:
    module = importlib.import_module(GRAPH_FORMATS[fmt].module)
    if fmt == "text":
        return str(module.render_graph(report.graph, trace_id=report.trace_id))
    return str(module.render_graph(report.graph))


__all__ = [
    "GRAPH_FORMATS",
    "REPORT_FORMATS",
    "Format",
    "format_for_path",
    "render_graph",
    "render_report",
]
