"""``obskit graph --format text``: the dependency graph as an aligned plain-text table, one
edge per line, callers grouped."""

from __future__ import annotations

from obskit.analysis.reports import DependencyGraph
from obskit.render.labels import plural, shorten
from obskit.units import duration


def render_graph(graph: DependencyGraph, *, trace_id: str | None = None) -> str:
    external = {node.id for node in graph.nodes if node.external}
    services = [node for node in graph.nodes if not node.external]
    head = f"Service dependencies of trace {trace_id}" if trace_id else "Service dependencies"
    lines = [
        f"{head}: {plural(len(services), 'service')}, "
        f"{len(external)} external, {plural(len(graph.edges), 'edge')}",
        "",
    ]
    if not graph.edges:
        lines.append("(no calls between services in this trace)")
    rows = []
    last_caller = None
    for edge in sorted(graph.edges, key=lambda e: (e.caller, -e.critical_ns, e.callee)):
        callee = shorten(edge.callee, 40) + (" (external)" if edge.callee in external else "")
        caller = shorten(edge.caller, 40) if edge.caller != last_caller else ""
        last_caller = edge.caller
        rows.append(
            (
                caller,
                "→",
                callee,
                plural(edge.calls, "call"),
                plural(edge.errors, "error") if edge.errors else "",
                duration(edge.duration_ns),
                f"CP {duration(edge.critical_ns)}" if edge.critical_ns else "",
            )
        )
    if rows:
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        right = {3, 5}  # numbers line up on the right
        for row in rows:
            cells = [
                cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
                for i, cell in enumerate(row)
            ]
            lines.append("  ".join(cells).rstrip())
    lines += [
        "",
        "Nodes: " + ", ".join(f"{shorten(n.id, 40)} ({n.span_count})" for n in graph.nodes),
    ]
    return "\n".join(lines) + "\n"
