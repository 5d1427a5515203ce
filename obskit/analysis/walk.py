"""Step 4: the walk that emits a root's critical-path sections (critical-path.md §4).

Start at the root with ``boundary = root.end`` and repeat:

1. among the current span's kept children not picked before, take the one with the greatest
   (clipped) end such that ``end <= boundary`` (ties: earliest clipped start, then smallest
   span id);
2. if there is one, ``C``: emit ``[C.end, boundary)`` for the current span, and continue inside
   ``C`` with ``boundary = C.end``;
3. if there is none: emit ``[span.start, boundary)``, go back to the parent with
   ``boundary = span.start``; at the root, stop.

    |-------------------P-------------------|      P[0,10] B[10,50] C[50,80] P[80,100]
         |------B------||-----C-----|              B and C are back to back: with
    +++++ +++++++++++++ +++++++++++++ ++++++       ``end <= boundary`` B is found again.

Iterative (Python's recursion limit is 1,000 and real traces are deeper) and O(n log n): each
span's kept children are sorted once by (end desc, start asc, id asc) and read through one
cursor, since the boundary only moves back in time a child skipped for ending after it never
becomes eligible again.

``jaeger_compat`` reproduces Jaeger UI: after returning from a child a sibling must end
*strictly* before the boundary (so case 1 loses B), sections are not merged, and children that
end together are taken in Jaeger's order: by unclipped start, then position in the trace (not
clipped start, then span id). Nothing else changes. Zero-length sections are never emitted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from obskit.analysis.clipping import KEPT, Projection
from obskit.analysis.tree import SpanTree


@dataclass(slots=True)
class RootPath:
    """One root's critical path: ``sections`` are ``(span position, start_ns, end_ns)``,
    chronological; ``entered`` lists the spans the walk went into, parents first."""

    root: int
    sections: list[tuple[int, int, int]]
    entered: list[int]


def walk(
    tree: SpanTree, projection: Projection, root: int, *, jaeger_compat: bool = False
) -> RootPath:
    starts, ends, kept = projection.starts, projection.ends, projection.kept
    kids_of, ids = tree.kids, tree.ids
    merge = not jaeger_compat

    # Ties on end: earliest clipped start, then smallest span id. Jaeger UI instead keeps the
    # first child with the greatest end in its order: own (unclipped) start, then position.
    order_starts: Sequence[int] = tree.starts if jaeger_compat else starts
    tiebreak: Sequence[int | str] = range(len(ids)) if jaeger_compat else ids

    def by_end_desc(c: int) -> tuple[int, int, int | str]:
        return (-ends[c], order_starts[c], tiebreak[c])

    def kept_children(u: int) -> list[int]:
        kids = kids_of(u)
        if kids is None:
            return []
        mine = [c for c in kids if kept[c] == KEPT]
        if len(mine) > 1:
            mine.sort(key=by_end_desc)
        return mine

    # emitted newest first; reversed at the end
    sections: list[tuple[int, int, int]] = []
    entered = [root]
    stack: list[tuple[int, list[int], int]] = []  # (parent, its sorted children, cursor)
    span, kids, pos = root, kept_children(root), 0
    boundary = ends[root]
    returning = False  # Jaeger's strict `<` applies only after coming back from a child
    while True:
        # step 1: skip children that end after the boundary; they never qualify again
        n_kids = len(kids)
        if jaeger_compat and returning:
            while pos < n_kids and ends[kids[pos]] >= boundary:
                pos += 1
        else:
            while pos < n_kids and ends[kids[pos]] > boundary:
                pos += 1
        if pos < n_kids:
            # step 2: descend into the latest-ending child
            child = kids[pos]
            child_end = ends[child]
            if child_end < boundary:
                _emit(sections, span, child_end, boundary, merge)
            stack.append((span, kids, pos + 1))
            span, kids, pos = child, kept_children(child), 0
            entered.append(span)
            boundary = child_end
            returning = False
            continue
        # step 3: nothing left inside this span: the rest of it, back to its start
        span_start = starts[span]
        if span_start < boundary:
            _emit(sections, span, span_start, boundary, merge)
        if not stack:
            break
        boundary = span_start
        span, kids, pos = stack.pop()
        returning = True
    sections.reverse()
    return RootPath(root, sections, entered)


def _emit(
    sections: list[tuple[int, int, int]], span: int, start: int, end: int, merge: bool
) -> None:
    """Add ``[start, end)`` of ``span`` (walking backwards in time), merging with the section
    just after it when that one belongs to the same span."""
    if merge and sections:
        last_span, last_start, last_end = sections[-1]
        if last_span == span and last_start == end:
            sections[-1] = (span, start, last_end)
            return
    sections.append((span, start, end))
