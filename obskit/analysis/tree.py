"""Step 1 of the analysis: who hangs on whom (critical-path.md §1).

The tree is a projection of the trace into parallel lists indexed by span position, because
per-span Python objects are what makes a 1M-span analysis slow. The trace itself is never
touched.

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

from obskit.model import RefType, Span, Trace, TraceWarning

CHILD_OF = RefType.CHILD_OF
FOLLOWS_FROM = RefType.FOLLOWS_FROM
NO_PARENT = -1
_MISSING = -2  # the first CHILD_OF parent is not in the trace
_OTHER = -3  # the first reference is not CHILD_OF: the slow path decides


class SpanTree:
    """The spans that take part in the analysis and their parent/child links.

    ``spans[i]``, ``ids[i]``, ``starts[i]``, ``ends[i]``, ``kinds[i]``, ``parent[i]`` describe
    span ``i``; ``children[i]`` is ``None`` for a leaf, else the child positions in trace order;
    ``follows`` holds the spans that hang on their parent through ``FOLLOWS_FROM`` only;
    ``roots`` are chronological (start, then span id); ``primary`` is the longest root.
    """

    __slots__ = (
        "children",
        "ends",
        "follows",
        "ids",
        "index",
        "kinds",
        "order",
        "orphans",
        "parent",
        "primary",
        "roots",
        "spans",
        "starts",
        "warnings",
    )

    def __init__(self, trace: Trace) -> None:
        self.warnings: list[TraceWarning] = []
        spans: tuple[Span, ...] | list[Span] = trace.spans
        ids = [s.span_id for s in spans]
        index = dict(zip(ids, range(len(ids)), strict=True))
        if len(index) != len(ids):
            spans = self._unique_spans(spans, ids)
            ids = [s.span_id for s in spans]
            index = dict(zip(ids, range(len(ids)), strict=True))
        self.spans = spans
        self.ids: list[str] = ids
        self.index: dict[str, int] = index
        self.starts: list[int] = [s.start_ns for s in spans]
        self.ends: list[int] = [s.end_ns for s in spans]
        self.kinds = [s.kind for s in spans]
        self.children: list[list[int] | None] = [None] * len(ids)
        self.follows: set[int] = set()
        # orphan position -> the missing parent id
        self.orphans: dict[int, str] = {}
        self.parent: list[int] = self._link_parents(trace.trace_id)
        # every span, parents before children (breadth-first from the roots)
        self.order: list[int] = self._break_cycles()
        self.roots: list[int] = self._sorted_roots()
        self.primary: int = self._primary_root()

    # -- construction steps -------------------------------------------------------------

    def _unique_spans(self, spans: tuple[Span, ...] | list[Span], ids: list[str]) -> list[Span]:
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
        return [spans[i] for i in kept]

    def _link_parents(self, trace_id: str) -> list[int]:
        index_get = self.index.get
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

    def _slow_parent(self, i: int, refs: tuple, trace_id: str) -> int | None:
        """The parent rule when the first reference is not CHILD_OF."""
        for ref in refs:
            if ref.ref_type is CHILD_OF:
                p = self.index.get(ref.span_id)
                if p is None:
                    self._orphan(i, ref.span_id)
                return p
        missing = None
        for ref in refs:
            p = self.index.get(ref.span_id)
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
            parent[closer] = NO_PARENT
            self.follows.discard(closer)
            self.warnings.append(
                TraceWarning(
                    "cycle",
                    f"reference cycle through {len(loop)} span(s); "
                    f"{self.ids[closer]} closes the loop and is analysed as a root",
                    tuple(self.ids[v] for v in loop),
                )
            )
            first_new = len(order)
            order.append(closer)
            self._extend_breadth_first(order, first_new)
            for v in order[first_new:]:
                reached[v] = 1
        return order

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
