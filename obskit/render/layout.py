"""A layered left-to-right layout of the dependency graph, for the inline SVG in the HTML
report: callers left of callees (layer = shortest call distance from an entry service),
nodes in a layer ordered by their callers' positions to limit crossings. No JavaScript and no
Graphviz needed; fine for the tens of services a trace touches."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from obskit.analysis.reports import DependencyGraph, GraphEdge, GraphNode

NODE_W = 170
NODE_H = 44
GAP_X = 90
GAP_Y = 26
MARGIN = 20


@dataclass(frozen=True)
class PlacedNode:
    node: GraphNode
    x: float
    y: float
    w: float = NODE_W
    h: float = NODE_H


@dataclass(frozen=True)
class PlacedEdge:
    edge: GraphEdge
    path: str  # an SVG path ("M x y C ...")
    label_x: float
    label_y: float
    critical: bool


@dataclass(frozen=True)
class Layout:
    width: float
    height: float
    nodes: tuple[PlacedNode, ...]
    edges: tuple[PlacedEdge, ...]


def layout(graph: DependencyGraph, *, entry: str | None = None) -> Layout:
    ids = [node.id for node in graph.nodes]
    nodes = {node.id: node for node in graph.nodes}
    for edge in graph.edges:  # tolerate edges naming a node the list lacks
        for end in (edge.caller, edge.callee):
            if end not in nodes:
                nodes[end] = GraphNode(id=end, external=False, span_count=0)
                ids.append(end)
    out: dict[str, list[str]] = {i: [] for i in ids}
    has_caller = set()
    for edge in graph.edges:
        out[edge.caller].append(edge.callee)
        if edge.caller != edge.callee:
            has_caller.add(edge.callee)
    starts = [i for i in ids if i not in has_caller]
    if entry in nodes and entry not in starts:
        starts.insert(0, entry)
    layer = _bfs_layers(ids, starts, out)
    columns: dict[int, list[str]] = {}
    for node_id in ids:
        columns.setdefault(layer[node_id], []).append(node_id)
    row: dict[str, float] = {}
    for depth in sorted(columns):
        members = columns[depth]
        if depth > 0:
            callers: dict[str, list[float]] = {m: [] for m in members}
            for edge in graph.edges:
                if edge.callee in callers and edge.caller in row:
                    callers[edge.callee].append(row[edge.caller])
            members.sort(key=lambda m: sum(callers[m]) / len(callers[m]) if callers[m] else 1e9)
        for index, member in enumerate(members):
            row[member] = index
    placed = {
        node_id: PlacedNode(
            nodes[node_id],
            MARGIN + layer[node_id] * (NODE_W + GAP_X),
            MARGIN + row[node_id] * (NODE_H + GAP_Y),
        )
        for node_id in ids
    }
    edges = tuple(_place_edge(edge, placed) for edge in graph.edges)
    width = MARGIN * 2 + (max(layer.values(), default=0) + 1) * (NODE_W + GAP_X) - GAP_X
    height = MARGIN * 2 + max((len(c) for c in columns.values()), default=1) * (NODE_H + GAP_Y)
    return Layout(width, height + 20, tuple(placed[i] for i in ids), edges)


def _bfs_layers(ids: list[str], starts: list[str], out: dict[str, list[str]]) -> dict[str, int]:
    layer: dict[str, int] = {}
    queue: deque[str] = deque()
    for start in starts:
        if start not in layer:
            layer[start] = 0
            queue.append(start)
    while True:
        while queue:
            current = queue.popleft()
            for callee in out[current]:
                if callee not in layer:
                    layer[callee] = layer[current] + 1
                    queue.append(callee)
        rest = [i for i in ids if i not in layer]  # a cycle with no way in
        if not rest:
            return layer
        layer[rest[0]] = 0
        queue.append(rest[0])


def _place_edge(edge: GraphEdge, placed: dict[str, PlacedNode]) -> PlacedEdge:
    a, b = placed[edge.caller], placed[edge.callee]
    critical = edge.critical_ns > 0
    if b.x > a.x:  # forward: right side of the caller to the left side of the callee
        x1, y1 = a.x + a.w, a.y + a.h / 2
        x2, y2 = b.x, b.y + b.h / 2
        mid = (x1 + x2) / 2
        path = f"M {x1:.1f} {y1:.1f} C {mid:.1f} {y1:.1f}, {mid:.1f} {y2:.1f}, {x2:.1f} {y2:.1f}"
        return PlacedEdge(edge, path, mid, (y1 + y2) / 2 - 4, critical)
    # same layer or backwards (a call back up, or a self call): loop below the boxes
    x1, y1 = a.x + a.w / 2, a.y + a.h
    x2, y2 = b.x + b.w / 2 + (12 if a is b else 0), b.y + b.h
    low = max(y1, y2) + GAP_Y
    path = f"M {x1:.1f} {y1:.1f} C {x1:.1f} {low:.1f}, {x2:.1f} {low:.1f}, {x2:.1f} {y2:.1f}"
    return PlacedEdge(edge, path, (x1 + x2) / 2, low - 2, critical)
