"""The span tree the critical path was computed on, as a renderer draws it: children in
start order, each span's own critical-path time, and per subtree its critical time and size.

The analysis hands it over in the report (:attr:`TraceReport.outline`), so a drawing follows
the one parent rule (and its handling of duplicate ids, orphans and cycles) the numbers came
from, and no renderer links spans again. It is built on first use: a report printed as JSON
never pays for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from obskit.analysis.tree import NO_PARENT, SpanTree
from obskit.model import Span


class SpanOutline:
    """``spans[i]`` with ``children[i]`` (None for a leaf; in start order, a stable sort so
    trace order breaks ties), ``roots`` in start order, ``own_critical[i]`` (span ``i``'s own
    CP time), ``subtree_critical[i]`` and ``subtree_size[i]`` (span ``i`` and below);
    ``window`` is (first start, last end) over every span of the trace."""

    def __init__(
        self, tree: SpanTree, span_critical_ns: Mapping[str, int], all_spans: Sequence[Span]
    ) -> None:
        self._tree: SpanTree | None = tree
        self._critical = span_critical_ns
        self._all_spans = all_spans
        self._built = False
        self._spans: Sequence[Span] = ()
        self._roots: list[int] = []
        self._children: list[list[int] | None] = []
        self._own: list[int] = []
        self._sub_critical: list[int] = []
        self._size: list[int] = []

    @property
    def spans(self) -> Sequence[Span]:
        self._build()
        return self._spans

    @property
    def roots(self) -> list[int]:
        self._build()
        return self._roots

    @property
    def children(self) -> list[list[int] | None]:
        self._build()
        return self._children

    @property
    def own_critical(self) -> list[int]:
        self._build()
        return self._own

    @property
    def subtree_critical(self) -> list[int]:
        self._build()
        return self._sub_critical

    @property
    def subtree_size(self) -> list[int]:
        self._build()
        return self._size

    @property
    def window(self) -> tuple[int, int] | None:
        spans = self._all_spans
        if not spans:
            return None
        return min(s.start_ns for s in spans), max(s.end_ns for s in spans)

    def _build(self) -> None:
        if self._built:
            return
        linked = self._tree
        assert linked is not None
        by_start = linked.starts.__getitem__
        children: list[list[int] | None] = [
            kids if kids is None or len(kids) < 2 else sorted(kids, key=by_start)
            for kids in linked.children
        ]
        roots = sorted(linked.roots, key=by_start)
        order = _preorder(roots, children)
        critical = self._critical
        own = [critical.get(span_id, 0) for span_id in linked.ids]
        sub_crit = own.copy()
        size = [1] * len(linked.spans)
        parent = linked.parent
        for i in reversed(order):  # children before parents
            p = parent[i]
            if p != NO_PARENT:
                sub_crit[p] += sub_crit[i]
                size[p] += size[i]
        self._spans, self._roots, self._children = linked.spans, roots, children
        self._own, self._sub_critical, self._size = own, sub_crit, size
        self._tree = None  # the analysis' tree is no longer needed
        self._built = True


def _preorder(roots: list[int], children: list[list[int] | None]) -> list[int]:
    order: list[int] = []
    stack = roots[::-1]
    while stack:
        i = stack.pop()
        order.append(i)
        kids = children[i]
        if kids:
            stack.extend(reversed(kids))
    return order
