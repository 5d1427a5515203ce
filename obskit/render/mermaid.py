"""The dependency graph as a Mermaid flowchart, for Markdown that renders it (GitHub, GitLab).

Node ids are generated (``n0``, ``n1``...), so no name can break the syntax; labels are quoted
with Mermaid's entity codes for ``"``, ``#``, ``<``, ``>`` and ``&``."""

from __future__ import annotations

from obskit.analysis.reports import DependencyGraph
from obskit.render.labels import plural, printable
from obskit.units import duration

_ENTITIES = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "&": "#amp;", "`": "#96;"}


def label(value: str) -> str:
    value = printable(value)
    return '"' + "".join(_ENTITIES.get(c, c) for c in value) + '"'


def render_graph(graph: DependencyGraph) -> str:
    ids = {node.id: f"n{i}" for i, node in enumerate(graph.nodes)}
    lines = ["flowchart LR"]
    for node in graph.nodes:
        text = label(f"{node.id} ({plural(node.span_count, 'span')})")
        shape = f"[({text})]" if node.external else f"[{text}]"
        lines.append(f"  {ids[node.id]}{shape}")
    critical: list[int] = []
    for i, edge in enumerate(graph.edges):
        for end in (edge.caller, edge.callee):
            if end not in ids:  # an edge to a node the graph did not list: still draw it
                ids[end] = f"n{len(ids)}"
                lines.append(f"  {ids[end]}[{label(end)}]")
        text = plural(edge.calls, "call")
        if edge.errors:
            text += f", {plural(edge.errors, 'error')}"
        if edge.critical_ns:
            text += f", CP {duration(edge.critical_ns)}"
            critical.append(i)
        lines.append(f"  {ids[edge.caller]} -->|{label(text)}| {ids[edge.callee]}")
    lines += [f"  linkStyle {i} stroke:#d33,stroke-width:3px" for i in critical]
    return "\n".join(lines) + "\n"
