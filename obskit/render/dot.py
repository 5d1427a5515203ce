"""The dependency graph in Graphviz DOT.

Names never appear in DOT syntax itself: node ids are generated (``n0``, ``n1``...) and names
go into HTML-like labels (``label=<...>``) with XML escaping. Quoted DOT strings cannot carry
every name safely (Graphviz's lexer reads ``\\\\"`` as an escaped quote, so a name ending in a
backslash would run on); XML entities can. Edges on the critical path are red and thicker.
"""

from __future__ import annotations

from html import escape

from obskit.analysis.reports import DependencyGraph
from obskit.render.labels import plural, printable
from obskit.units import duration

HEADER = (
    "digraph dependencies {",
    "  rankdir=LR;",
    '  node [shape=box, style="rounded", fontname="Helvetica"];',
    '  edge [fontname="Helvetica", fontsize=10];',
)


def html_label(*lines: str) -> str:
    return "<" + "<BR/>".join(escape(printable(line), quote=True) for line in lines) + ">"


def render_graph(graph: DependencyGraph) -> str:
    ids = {node.id: f"n{i}" for i, node in enumerate(graph.nodes)}
    lines = list(HEADER)
    for node in graph.nodes:
        style = ', style="rounded,dashed"' if node.external else ""
        label = html_label(node.id, plural(node.span_count, "span"))
        lines.append(f"  {ids[node.id]} [label={label}{style}];")
    for edge in graph.edges:
        for end in (edge.caller, edge.callee):
            if end not in ids:  # an edge to a node the graph did not list: still draw it
                ids[end] = f"n{len(ids)}"
                lines.append(f"  {ids[end]} [label={html_label(end)}];")
        first = plural(edge.calls, "call")
        if edge.errors:
            first += f", {plural(edge.errors, 'error')}"
        second = duration(edge.duration_ns)
        style = ""
        if edge.critical_ns:
            second += f", CP {duration(edge.critical_ns)}"
            style = ", color=red, penwidth=2"
        label = html_label(first, second)
        lines.append(f"  {ids[edge.caller]} -> {ids[edge.callee]} [label={label}{style}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
