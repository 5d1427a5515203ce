"""Step 1 of the analysis: who hangs on whom (critical-path.md §1).

The tree is a projection of the trace into parallel lists indexed by span position, because
per-span Python objects are what makes a 1M-span analysis slow. The trace itself is never
touched. Big traces are linked a column at a time (``_link_arrays``, over the arrays of
:mod:`obskit.analysis.arrays`, from the reader's columns when it handed them over); the
span-by-span code (``_link_lists``) is the reference both are tested against.

The parent rule, used everywhere (graph, tree, walk):

* the first ``CHILD_OF`` reference, when that span is in the trace; a span whose ``CHILD_OF``
  parent is missing is an **orphan root** (warned);
* otherwise, if the span has no ``CHILD_OF`` reference at all, its first ``FOLLOWS_FROM``
  reference that is in the trace (the span then hangs on its parent "through FOLLOWS_FROM only");
* duplicate span ids: the first span keeps the id, later ones are left out (warned);
* reference cycles: the span that closes the loop becomes a root (warned).
"""

from __future__ import annotations

import itertools
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING

from obskit.model import Reference, RefType, Span, Trace, TraceWarning
from obskit.model.columns import SpanColumns

if TYPE_CHECKING:  # numpy is loaded by the array path only: 0.12 s of a small trace's analysis
    import numpy as np

    from obskit.analysis.arrays import IdIndex, TreeArrays

CHILD_OF = RefType.CHILD_OF
FOLLOWS_FROM = RefType.FOLLOWS_FROM
NO_PARENT = -1
_MISSING = -2  # the first CHILD_OF parent is not in the trace
_OTHER = -3  # the first reference is not CHILD_OF: the slow path decides
# traces of at least this many spans take the array path
BULK_FROM = 2048
_SPAN_ID, _START, _END, _KIND = (attrgetter(f) for f in ("span_id", "start_ns", "end_ns", "kind"))
_FIRST = itemgetter(0)
_REFERENCES, _REF_TYPE, _REF_SPAN_ID = (
    attrgetter(f) for f in ("references", "ref_type", "span_id")
)


class SpanTree:
    """The spans that take part in the analysis and their parent/child links.

    ``spans[i]``, ``ids[i]``, ``starts[i]``, ``ends[i]``, ``kinds[i]``, ``parent[i]`` describe
    span ``i``; ``children[i]`` is ``None`` for a leaf, else the child positions in trace order;
    ``follows`` holds the spans that hang on their parent through ``FOLLOWS_FROM`` only;
    ``roots`` are chronological (start, then span id); ``primary`` is the longest root.
    """

    __slots__ = (
        "_children",
        "_index_get",
        "_order",
        "arrays",
        "ends",
        "follows",
        "ids",
        "kinds",
        "orphans",
        "parent",
        "primary",
        "roots",
        "spans",
        "starts",
        "warnings",
    )

    def __init__(self, trace: Trace, *, bulk: bool | None = None) -> None:
        """``bulk`` forces (or rules out) the array path; by default traces of
        :data:`BULK_FROM` spans and more take it."""
        self.warnings: list[TraceWarning] = []
        spans: tuple[Span, ...] | list[Span] = trace.spans
        columns = trace.own_columns
        ids = columns.ids if columns is not None else list(map(_SPAN_ID, spans))
        self.follows: set[int] = set()
        # orphan position -> the missing parent id
        self.orphans: dict[int, str] = {}
        self.arrays: TreeArrays | None = None
        self._children: list[list[int] | None] | None = None
        self._order: list[int] | None = None
        wanted = len(ids) >= BULK_FROM if bulk is None else bulk
        if not (wanted and self._link_arrays(spans, ids, trace.trace_id, columns)):
            self._link_lists(spans, ids, trace.trace_id)
        self.roots: list[int] = self._sorted_roots()
        self.primary: int = self._primary_root()

    @property
    def children(self) -> list[list[int] | None]:
        """``children[i]``: span ``i``'s children in trace order, or None for a leaf."""
        if self._children is None:
            assert self.arrays is not None
            self._children = self.arrays.children.lists()
        return self._children

    def kids(self, u: int) -> list[int] | None:
        """``children[u]``, without building every span's list on the array path."""
        if self._children is not None:
            return self._children[u]
        assert self.arrays is not None
        return self.arrays.children.of(u)

    @property
    def order(self) -> list[int]:
        """Every span, parents before children (breadth-first from the roots)."""
        if self._order is None:
            self._order = [i for i, p in enumerate(self.parent) if p == NO_PARENT]
            self._extend_breadth_first(self._order, 0)
        return self._order

    # -- construction steps -------------------------------------------------------------

    def _link_lists(
        self, spans: tuple[Span, ...] | list[Span], ids: list[str], trace_id: str
    ) -> None:
        index = dict(zip(ids, range(len(ids)), strict=True))
        if len(index) != len(ids):
            spans = self._unique_spans(spans, ids)
            ids = [s.span_id for s in spans]
            index = dict(zip(ids, range(len(ids)), strict=True))
        self.spans = spans
        self.ids: list[str] = ids
        self._index_get = index.get
        self.starts: list[int] = [s.start_ns for s in spans]
        self.ends: list[int] = [s.end_ns for s in spans]
        self.kinds = [s.kind for s in spans]
        self._children = [None] * len(ids)
        self.parent: list[int] = self._link_parents(trace_id)
        self._order = self._break_cycles()

    def _link_arrays(
        self,
        spans: tuple[Span, ...] | list[Span],
        ids: list[str],
        trace_id: str,
        columns: SpanColumns | None,
    ) -> bool:
        """The list path's parent rule, a column at a time (see :mod:`obskit.analysis.arrays`),
        from the reader's ``columns`` when it has them; False, having changed nothing, for ids or
        times the arrays cannot hold."""
        from obskit.analysis.arrays import IdIndex, TreeArrays, hex_keys, id_keys, times

        if columns is not None:
            keys: np.ndarray | None = hex_keys(columns.id_hex)
            starts, ends, kinds = columns.starts, columns.ends, columns.kinds
        else:
            keys = id_keys(ids)
            starts, ends = list(map(_START, spans)), list(map(_END, spans))
            kinds = list(map(_KIND, spans))
        start_array, end_array = times(starts), times(ends)
        if keys is None or start_array is None or end_array is None:
            return False
        index = IdIndex(keys)
        if index.has_duplicates():
            kept = self._unique_positions(ids)
            spans = [spans[i] for i in kept]
            ids, kinds = [ids[i] for i in kept], [kinds[i] for i in kept]
            starts, ends = [starts[i] for i in kept], [ends[i] for i in kept]
            start_array, end_array = start_array[kept], end_array[kept]
            index = IdIndex(keys[kept])
            columns = None  # its parents are by the old positions
        self.spans, self.ids, self.starts, self.ends, self.kinds = spans, ids, starts, ends, kinds
        # IdIndex.get(span_id) answers as dict.get does, for the one-argument calls made here
        self._index_get = index.get  # type: ignore[assignment]  # see the line above
        if columns is not None:
            parent = self._column_parents(index, columns)
        else:
            parent = self._array_parents(index, trace_id)
        for closer in self._cycle_closers(parent):
            parent[closer] = NO_PARENT
        self.parent = parent.tolist()
        self.arrays = TreeArrays(parent, start_array, end_array, self.kinds)
        return True

    def _column_parents(self, index: IdIndex, columns: SpanColumns) -> np.ndarray:
        """Parents from the reader's columns: every reference there is one CHILD_OF."""
        import numpy as np

        from obskit.analysis.arrays import hex_keys

        parent = np.full(len(self.ids), NO_PARENT, np.int64)
        with_parent = np.flatnonzero(np.frombuffer(columns.has_parent, np.uint8))
        positions = index.positions(hex_keys(columns.parent_hex))
        found = positions >= 0
        parent[with_parent[found]] = positions[found]
        for i in with_parent[~found].tolist():
            self._orphan(i, self.spans[i].references[0].span_id)
        return parent

    def _array_parents(self, index: IdIndex, trace_id: str) -> np.ndarray:
        import numpy as np

        refs = list(map(_REFERENCES, self.spans))
        parent = np.full(len(refs), NO_PARENT, np.int64)
        with_refs = np.flatnonzero(np.fromiter(map(len, refs), np.int64, len(refs)))
        firsts = list(map(_FIRST, itertools.compress(refs, refs)))
        if not firsts:
            return parent
        positions = index.find(list(map(_REF_SPAN_ID, firsts)))
        linked = positions >= 0
        types = list(map(_REF_TYPE, firsts))
        if types.count(CHILD_OF) != len(types):  # identity compares: no Enum.__hash__ calls
            linked &= np.fromiter((t is CHILD_OF for t in types), bool, len(types))
        parent[with_refs[linked]] = positions[linked]
        for i in with_refs[~linked].tolist():  # in trace order, as the list path warns
            first = refs[i][0]
            if first.ref_type is CHILD_OF:
                self._orphan(i, first.span_id)
            else:
                p = self._slow_parent(i, refs[i], trace_id)
                parent[i] = NO_PARENT if p is None else p
        return parent

    def _cycle_closers(self, parent: np.ndarray) -> list[int]:
        """The list path's cycle rule (see ``_break_cycles``), for spans no root reaches."""
        from obskit.analysis.arrays import unreached

        stuck = unreached(parent)
        if not len(stuck):
            return []
        links = parent.tolist()
        closers: list[int] = []
        settled: set[int] = set()
        for start in stuck.tolist():
            seen: dict[int, int] = {}
            u = start
            while u != NO_PARENT and u not in settled and u not in seen:
                seen[u] = len(seen)
                u = links[u]
            settled.update(seen)
            if u == NO_PARENT or u not in seen:
                continue  # reaches a root, or a loop already broken
            loop = list(seen)[seen[u] :]
            links[u] = NO_PARENT
            self.follows.discard(u)
            self._cycle_warning(u, loop)
            closers.append(u)
        return closers

    def _unique_spans(self, spans: tuple[Span, ...] | list[Span], ids: list[str]) -> list[Span]:
        return [spans[i] for i in self._unique_positions(ids)]

    def _unique_positions(self, ids: list[str]) -> list[int]:
        """The first span of each id, in trace order; warns about the others."""
        first = dict(zip(reversed(ids), range(len(ids) - 1, -1, -1), strict=True))
        kept = sorted(first.values())
        duplicated = sorted({ids[i] for i in range(len(ids)) if first[ids[i]] != i})
        extra = len(ids) - len(kept)
        self.warnings.append(
            TraceWarning(
                "duplicate-id",
                f"{extra} span(s) reuse the id of an earlier span "
                f"({len(duplicated)} id(s)); kept the first span of each id",
                tuple(duplicated),
            )
        )
        return kept

    def _link_parents(self, trace_id: str) -> list[int]:
        index_get = self._index_get
        # the common case in one comprehension: the first reference is CHILD_OF and present
        parent = [
            (index_get(refs[0].span_id, _MISSING) if refs[0].ref_type is CHILD_OF else _OTHER)
            if refs
            else NO_PARENT
            for refs in [s.references for s in self.spans]
        ]
        for i in [i for i, p in enumerate(parent) if p < NO_PARENT]:
            refs = self.spans[i].references
            if parent[i] == _MISSING:
                self._orphan(i, refs[0].span_id)
                parent[i] = NO_PARENT
            else:
                p = self._slow_parent(i, refs, trace_id)
                parent[i] = NO_PARENT if p is None else p
        children = self.children
        for i, p in enumerate(parent):
            if p >= 0:
                kids = children[p]
                if kids is None:
                    children[p] = [i]
                else:
                    kids.append(i)
        return parent

    def _slow_parent(self, i: int, refs: tuple[Reference, ...], trace_id: str) -> int | None:
        """The parent rule when the first reference is not CHILD_OF."""
        for ref in refs:
            if ref.ref_type is CHILD_OF:
                p = self._index_get(ref.span_id)
                if p is None:
                    self._orphan(i, ref.span_id)
                return p
        missing = None
        for ref in refs:
            p = self._index_get(ref.span_id)
            if p is not None:
                self.follows.add(i)
                return p
            if missing is None and ref.trace_id in ("", trace_id):
                missing = ref.span_id
        # FOLLOWS_FROM into another trace is a legitimate root; into this one, a lost span.
        if missing is not None:
            self._orphan(i, missing)
        return None

    def _orphan(self, i: int, missing_id: str) -> None:
        self.orphans[i] = missing_id
        self.warnings.append(
            TraceWarning(
                "orphan",
                f"incomplete trace: parent {missing_id} of {self.ids[i]} was not collected",
                (self.ids[i],),
            )
        )

    def _break_cycles(self) -> list[int]:
        """Spans not reachable from a root sit on (or below) a reference cycle."""
        parent = self.parent
        order = [i for i, p in enumerate(parent) if p == NO_PARENT]
        self._extend_breadth_first(order, 0)
        if len(order) == len(parent):
            return order
        reached = bytearray(len(parent))
        for u in order:
            reached[u] = 1
        for start in range(len(parent)):
            if reached[start]:
                continue
            # follow parents until a span repeats: that span closes the loop
            seen: dict[int, int] = {}
            u = start
            while u not in seen:
                seen[u] = len(seen)
                u = parent[u]
            # dicts keep insertion order: the loop is everything met from ``u`` on
            loop = list(seen)[seen[u] :]
            closer = u
            kids = self.children[parent[closer]]
            assert kids is not None
            kids.remove(closer)
            if not kids:
                self.children[parent[closer]] = None  # a leaf now
            parent[closer] = NO_PARENT
            self.follows.discard(closer)
            self._cycle_warning(closer, loop)
            first_new = len(order)
            order.append(closer)
            self._extend_breadth_first(order, first_new)
            for v in order[first_new:]:
                reached[v] = 1
        return order

    def _cycle_warning(self, closer: int, loop: list[int]) -> None:
        self.warnings.append(
            TraceWarning(
                "cycle",
                f"reference cycle through {len(loop)} span(s); "
                f"{self.ids[closer]} closes the loop and is analysed as a root",
                tuple(self.ids[v] for v in loop),
            )
        )

    def _extend_breadth_first(self, order: list[int], first: int) -> None:
        """Append the descendants of ``order[first:]`` to ``order``, parents first."""
        children = self.children
        for u in itertools.islice(order, first, None):  # grows while iterating: no recursion
            kids = children[u]
            if kids is not None:
                order.extend(kids)

    def _sorted_roots(self) -> list[int]:
        # positions in trace order, not breadth-first: the sort below decides the order, and
        # walking the parent list sequentially is much kinder to the cache at 1M spans
        if self.arrays is not None:
            roots = (self.arrays.parent < 0).nonzero()[0].tolist()
        else:
            roots = [i for i, p in enumerate(self.parent) if p == NO_PARENT]
        roots.sort(key=lambda r: (self.starts[r], self.ids[r]))
        return roots

    def _primary_root(self) -> int:
        if not self.roots:
            return NO_PARENT
        starts, ends, ids = self.starts, self.ends, self.ids
        # longest; ties: earliest start, then smallest span id
        return min(self.roots, key=lambda r: (starts[r] - ends[r], starts[r], ids[r]))

    # -- queries ------------------------------------------------------------------------

    def untraced_gaps(self) -> list[tuple[int, int]]:
        """Intervals between the roots that no root covers (several roots only)."""
        gaps: list[tuple[int, int]] = []
        covered_to: int | None = None
        for r in self.roots:  # chronological
            start, end = self.starts[r], self.ends[r]
            if covered_to is not None and start > covered_to:
                gaps.append((covered_to, start))
            covered_to = end if covered_to is None else max(covered_to, end)
        return gaps
