"""The per-trace service dependency graph.

Nodes are the trace's services (with their span counts) and the external callees of hops.
An edge ``caller → callee`` counts calls, errors, total duration and critical-path time:

* every hop (CLIENT/PRODUCER span) is one call to its callee; its error is the client span's
  or the callee span's; its critical time is the hop's CP time (``hops.py``);
* a span whose parent runs in another service without a hop in between (no client span was
  recorded) is a call too, and costs the CP time of its subtree up to the next call.

``DependencyGraph.to_networkx()`` gives the same graph as a ``networkx.DiGraph`` for graph
algorithms, DOT or Mermaid output.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from operator import attrgetter
from typing import TYPE_CHECKING

from obskit.analysis.hops import HOP_KINDS, HopRun
from obskit.analysis.reports import DependencyGraph, GraphEdge, GraphNode
from obskit.analysis.tree import NO_PARENT, SpanTree
from obskit.model import StatusCode

if TYPE_CHECKING:
    import numpy as np

_SERVICE = attrgetter("service")


class _EdgeTotals:
    __slots__ = ("calls", "critical", "duration", "errors")

    def __init__(self) -> None:
        self.calls = self.errors = self.duration = self.critical = 0


class Calls:
    """Calls as columns (caller, callee, error, the span, its critical time), summed per edge:
    a big trace has a call for every client span, too many for one Python object each."""

    __slots__ = ("callees", "callers", "critical", "errors", "spans")

    def __init__(
        self,
        callers: list[str],
        callees: list[str],
        errors: list[bool],
        spans: list[int],
        critical: list[int],
    ) -> None:
        self.callers, self.callees, self.errors = callers, callees, errors
        self.spans, self.critical = spans, critical

    def add(self, caller: str, callee: str, error: bool, span: int, critical: int) -> None:
        self.callers.append(caller)
        self.callees.append(callee)
        self.errors.append(error)
        self.spans.append(span)
        self.critical.append(critical)

    def totals(self, tree: SpanTree) -> dict[tuple[str, str], _EdgeTotals]:
        if tree.arrays is not None and self.spans:
            return self._array_totals(tree.arrays.starts, tree.arrays.ends)
        edges: dict[tuple[str, str], _EdgeTotals] = {}
        starts, ends = tree.starts, tree.ends
        for row in zip(
            self.callers, self.callees, self.errors, self.spans, self.critical, strict=True
        ):
            caller, callee, error, span, critical = row
            totals = edges.get((caller, callee))
            if totals is None:
                totals = edges[(caller, callee)] = _EdgeTotals()
            totals.calls += 1
            totals.errors += error
            totals.duration += ends[span] - starts[span]
            totals.critical += critical
        return edges

    def _array_totals(
        self, starts: np.ndarray, ends: np.ndarray
    ) -> dict[tuple[str, str], _EdgeTotals]:
        import numpy as np

        pairs = list(dict.fromkeys(zip(self.callers, self.callees, strict=True)))
        number = {pair: k for k, pair in enumerate(pairs)}
        edge_of = np.fromiter(
            map(number.__getitem__, zip(self.callers, self.callees, strict=True)),
            np.int64,
            len(self.spans),
        )
        spans = np.array(self.spans, np.int64)
        calls = np.bincount(edge_of, minlength=len(pairs))
        errors = np.bincount(edge_of, weights=np.array(self.errors, bool), minlength=len(pairs))
        by_edge = np.argsort(edge_of, kind="stable")  # integer sums, exact: no float weights
        first = np.searchsorted(edge_of[by_edge], np.arange(len(pairs)))
        durations = np.add.reduceat((ends - starts)[spans][by_edge], first)
        critical = np.add.reduceat(np.array(self.critical, np.int64)[by_edge], first)
        edges: dict[tuple[str, str], _EdgeTotals] = {}
        rows = zip(
            calls.tolist(), errors.tolist(), durations.tolist(), critical.tolist(), strict=True
        )
        for pair, (n, failed, duration, cp) in zip(pairs, rows, strict=True):
            totals = edges[pair] = _EdgeTotals()
            totals.calls, totals.errors = n, int(failed)
            totals.duration, totals.critical = duration, cp
        return edges


def dependency_graph(
    tree: SpanTree, hop_run: HopRun, span_cp: Mapping[int, int], entered: list[int]
) -> DependencyGraph:
    spans = tree.spans
    services = list(map(_SERVICE, spans))
    counts = Counter(services)
    error = StatusCode.ERROR
    hops = set(hop_run.positions)
    implicit = _implicit_calls(tree, services, counts, hops)
    implicit_cp = _critical_below(tree, span_cp, entered, implicit, hops)

    # every call as a row: caller, callee, error, the span, critical time; the hops first
    positions, hop_critical = hop_run.positions, hop_run.critical
    calls = Calls(
        list(hop_run.callers),
        list(hop_run.callees),
        [
            spans[h].status is error or (c is not None and spans[c].status is error)
            for h, c in zip(positions, hop_run.callee_spans, strict=True)
        ],
        list(positions),
        [hop_critical.get(h, 0) for h in positions],
    )
    parent = tree.parent
    for c in implicit:
        span = spans[c]
        calls.add(services[parent[c]], span.service, span.status is error, c, implicit_cp.get(c, 0))
    edges = calls.totals(tree)

    nodes = [GraphNode(name, False, counts[name]) for name in sorted(counts)]
    called = {name for name, out in zip(hop_run.callees, hop_run.external, strict=True) if out}
    externals = sorted(called - counts.keys())
    nodes += [GraphNode(name, True, 0) for name in externals]
    ordered = sorted(edges.items(), key=lambda item: (-item[1].critical, item[0]))
    return DependencyGraph(
        nodes=tuple(nodes),
        edges=tuple(
            GraphEdge(caller, callee, t.calls, t.errors, t.duration, t.critical)
            for (caller, callee), t in ordered
        ),
    )


def _implicit_calls(
    tree: SpanTree, services: list[str], counts: Counter[str], hops: set[int]
) -> list[int]:
    """Spans whose parent is in another service and is not a hop: calls with no client span."""
    if tree.arrays is not None:
        import numpy as np

        parent, kinds = tree.arrays.parent, tree.arrays.kinds
        code = {name: number for number, name in enumerate(counts)}
        codes = np.fromiter(map(code.__getitem__, services), np.int32, len(services))
        child = np.flatnonzero(parent >= 0)
        crossing = child[codes[child] != codes[parent[child]]]
        # every CLIENT/PRODUCER span is a hop
        unhopped: list[int] = crossing[~np.isin(kinds[parent[crossing]], HOP_KINDS)].tolist()
        return unhopped
    crossings = [
        i for i, p in enumerate(tree.parent) if p != NO_PARENT and services[i] != services[p]
    ]
    parents = tree.parent
    return [i for i in crossings if parents[i] not in hops]


def _critical_below(
    tree: SpanTree,
    span_cp: Mapping[int, int],
    entered: list[int],
    implicit: list[int],
    hops: set[int],
) -> dict[int, int]:
    """CP time of each implicit call's subtree, up to the next call (hop or implicit)."""
    if not implicit:
        return {}
    owners = set(implicit)
    parent = tree.parent
    nearest: dict[int, int] = {}
    totals: dict[int, int] = {}
    for u in entered:  # parents first
        if u in owners:
            owner = u
        elif u in hops:
            owner = NO_PARENT
        else:
            owner = nearest.get(parent[u], NO_PARENT)
        nearest[u] = owner
        cp = span_cp.get(u, 0)
        if owner != NO_PARENT and cp:
            totals[owner] = totals.get(owner, 0) + cp
    return totals
