"""``obskit graph --service S``: the dependency graph over many traces. Per edge: calls,
error rate and the p95 of the call's duration; per node: the share of the endpoint's latency
its own spans held on the critical path. Text, DOT, Mermaid, HTML (inline SVG) and JSON.

DOT and Mermaid follow :mod:`obskit.render.dot` and :mod:`obskit.render.mermaid`: generated
node ids, names only inside escaped labels.
"""

from __future__ import annotations

from obskit.aggregate.report import AggregateGraph, EdgeStat
from obskit.render.dot import HEADER as DOT_HEADER
from obskit.render.dot import html_label
from obskit.render.labels import plural, shorten
from obskit.render.mermaid import label as mermaid_label
from obskit.units import duration, percent

FORMATS = ("text", "dot", "mermaid", "html", "json")


def _edge_text(edge: EdgeStat) -> tuple[str, str]:
    first = plural(edge.calls, "call")
    if edge.errors:
        first += f", {percent(edge.error_rate)} errors"
    second = f"p95 {duration(edge.duration_ns['p95'])}"
    return first, second


def render_text(graph: AggregateGraph, traces: int) -> str:
    lines = [
        f"Service dependencies over {plural(traces, 'trace')}: "
        f"{plural(sum(1 for n in graph.nodes if not n.external), 'service')}, "
        f"{sum(1 for n in graph.nodes if n.external)} external, "
        f"{plural(len(graph.edges), 'edge')}",
        "",
    ]
    rows = []
    for e in sorted(graph.edges, key=lambda e: (e.caller, -e.critical_ns, e.callee)):
        rows.append(
            (
                shorten(e.caller, 30),
                "→",
                shorten(e.callee, 30) + (" (external)" if e.external else ""),
                plural(e.calls, "call"),
                f"{percent(e.error_rate)} errors",
                f"p95 {duration(e.duration_ns['p95'])}",
            )
        )
    if rows:
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for row in rows:
            cells = [
                c.rjust(widths[i]) if i in (3, 4, 5) else c.ljust(widths[i])
                for i, c in enumerate(row)
            ]
            lines.append("  ".join(cells).rstrip())
    else:
        lines.append("(no calls between services in these traces)")
    lines += ["", "Critical-path share per node:"]
    for node in sorted(graph.nodes, key=lambda n: (-n.critical_ns, n.id)):
        lines.append(f"  {shorten(node.id, 40)}  {percent(node.share)}")
    return "\n".join(lines) + "\n"


def render_dot(graph: AggregateGraph) -> str:
    ids = {node.id: f"n{i}" for i, node in enumerate(graph.nodes)}
    lines = list(DOT_HEADER)
    for node in graph.nodes:
        style = ', style="rounded,dashed"' if node.external else ""
        lines.append(
            f"  {ids[node.id]} [label={html_label(node.id, f'CP {percent(node.share)}')}{style}];"
        )
    for edge in graph.edges:
        for end in (edge.caller, edge.callee):
            if end not in ids:
                ids[end] = f"n{len(ids)}"
                lines.append(f"  {ids[end]} [label={html_label(end)}];")
        style = ", color=red, penwidth=2" if edge.critical_ns else ""
        lines.append(
            f"  {ids[edge.caller]} -> {ids[edge.callee]} "
            f"[label={html_label(*_edge_text(edge))}{style}];"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_mermaid(graph: AggregateGraph) -> str:
    ids = {node.id: f"n{i}" for i, node in enumerate(graph.nodes)}
    lines = ["flowchart LR"]
    for node in graph.nodes:
        text = mermaid_label(f"{node.id} (CP {percent(node.share)})")
        lines.append(f"  {ids[node.id]}" + (f"[({text})]" if node.external else f"[{text}]"))
    critical = []
    for i, edge in enumerate(graph.edges):
        for end in (edge.caller, edge.callee):
            if end not in ids:
                ids[end] = f"n{len(ids)}"
                lines.append(f"  {ids[end]}[{mermaid_label(end)}]")
        if edge.critical_ns:
            critical.append(i)
        text = mermaid_label(", ".join(_edge_text(edge)))
        lines.append(f"  {ids[edge.caller]} -->|{text}| {ids[edge.callee]}")
    lines += [f"  linkStyle {i} stroke:#d33,stroke-width:3px" for i in critical]
    return "\n".join(lines) + "\n"


def render_html(graph: AggregateGraph, traces: int) -> str:
    """A self-contained page with the graph as inline SVG (the single-trace layout), and the
    edge table."""
    import jinja2

    from obskit.analysis.reports import DependencyGraph, GraphEdge, GraphNode
    from obskit.render import labels, layout

    # the single-trace layout places nodes and edges; labels come from the aggregate
    placed = layout.layout(
        DependencyGraph(
            tuple(GraphNode(n.id, n.external, n.spans) for n in graph.nodes),
            tuple(
                GraphEdge(
                    e.caller, e.callee, e.calls, e.errors, e.duration_ns["p95"], e.critical_ns
                )
                for e in graph.edges
            ),
        ),
        entry=None,
    )
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("obskit.render", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        finalize=lambda v: labels.printable(v) if isinstance(v, str) else v,
    )
    template = env.get_template("aggregate_graph.html.j2")
    shares = {n.id: n.share for n in graph.nodes}
    return template.render(graph=graph, placed=placed, traces=traces, shares=shares, fmt=labels)
