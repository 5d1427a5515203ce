"""``--format json``: ``TraceReport.to_dict()`` as indented JSON, keys in schema order, one
trailing newline: the same report always gives the same bytes. (Named so as not to shadow the
standard library's ``json``.)"""

from __future__ import annotations

from typing import Any

from obskit.analysis.reports import DependencyGraph, TraceReport


def render(report: TraceReport) -> str:
    return dumps(report.to_dict())


def render_graph(graph: DependencyGraph) -> str:
    from dataclasses import asdict

    return dumps(
        {
            "nodes": [asdict(node) for node in graph.nodes],
            "edges": [asdict(edge) for edge in graph.edges],
        }
    )


def dumps(data: Any) -> str:
    """Indented JSON; trace strings keep their characters, but bidi and other invisible marks
    are written as ``\\uNNNN`` escapes (the same data, inert when the file is shown)."""
    import orjson

    from obskit.text import escape_json_unprintable

    return escape_json_unprintable(orjson.dumps(data, option=orjson.OPT_INDENT_2)).decode() + "\n"
