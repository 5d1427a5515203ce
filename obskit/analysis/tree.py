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

from obskit.model import RefType, Span, Trace, TraceWarning

CHILD_OF = RefType.CHILD_OF
FOLLOWS_FROM = RefType.FOLLOWS_FROM
NO_PARENT = -1


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
        spans = self._unique_spans(trace.spans)
        self.spans: tuple[Span, ...] | list[Span] = spans
        n = len(spans)
        self.ids: list[str] = [s.span_id for s in spans]
        self.starts: list[int] = [s.start_ns for s in spans]
        self.ends: list[int] = [s.end_ns for s in spans]
        self.kinds = [s.kind for s in spans]
        self.index: dict[str, int] = dict(zip(self.ids, range(n), strict=True))
        self.parent: list[int] = [NO_PARENT] * n
        self.children: list[list[int] | None] = [None] * n
        self.follows: set[int] = set()
        # orphan position -> the missing parent id
        self.orphans: dict[int, str] = {}
        self._link_parents(trace.trace_id)
        self._break_cycles()
        self.roots: list[int] = self._sorted_roots()
        self.primary: int = self._primary_root()

    # -- construction steps -------------------------------------------------------------

    def _unique_spans(self, spans: tuple[Span, ...]) -> tuple[Span, ...] | list[Span]:
        ids = [s.span_id for s in spans]
        first = dict(zip(reversed(ids), range(len(ids) - 1, -1, -1), strict=True))
        if len(first) == len(ids):
            return spans
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

    def _link_parents(self, trace_id: str) -> None:
        index_get = self.index.get
        parent = self.parent
        children = self.children
        for i, span in enumerate(self.spans):
            refs = span.references
            if not refs:
                continue
            ref = refs[0]
            if ref.ref_type is CHILD_OF:  # the common case: one OTLP parentSpanId
                p = index_get(ref.span_id)
                if p is None:
                    self._orphan(i, ref.span_id)
                    continue
            else:
                p = self._slow_parent(i, refs, trace_id)
                if p is None:
                    continue
            parent[i] = p
            kids = children[p]
            if kids is None:
                children[p] = [i]
            else:
                kids.append(i)

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

    def _break_cycles(self) -> None:
        """Spans not reachable from a root sit on (or below) a reference cycle."""
        parent = self.parent
        reached = bytearray(len(parent))
        self._mark_reachable([i for i, p in enumerate(parent) if p == NO_PARENT], reached)
        if all(reached):
            return
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
            old_parent = parent[closer]
            kids = self.children[old_parent]
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
            self._mark_reachable([closer], reached)

    def _mark_reachable(self, starts: list[int], reached: bytearray) -> None:
        children = self.children
        todo = starts
        for u in todo:  # grows while iterating: breadth-first, no recursion
            reached[u] = 1
            kids = children[u]
            if kids is not None:
                todo.extend(kids)

    def _sorted_roots(self) -> list[int]:
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
