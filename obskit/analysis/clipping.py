"""Step 3: fit each child into its parent's clipped interval (critical-path.md §3).

Works on a projection (fresh start/end lists); the spans are never changed. Spans are visited
parent-before-child from every root, so each child meets its parent's *already clipped*
interval ``[ps, pe)``. For a child ``[cs, ce)``:

    cs >= ps, cs >= pe   drop it and its subtree      |--parent--|
                                                                  |--child--|
    cs >= ps, ce > pe    clip its end to pe           |--parent--|
                                                           |--child--|
    cs >= ps, ce <= pe   keep as is                   |--parent--|
                                                        |-child-|
    cs < ps, ce <= ps    drop it and its subtree              |--parent--|
                                                       |-child-|
    cs < ps, ce <= pe    move its start to ps             |--parent--|
                                                       |--child--|
    cs < ps, ce > pe     clip to exactly [ps, pe)         |--parent--|
                                                       |------child------|

A child that starts before its parent can only come from clock skew: those are reported as
``skew``; children that end late are ``clipped``; the lost ones are ``dropped``. Big trees
take the array path (``_fit_arrays``), which gives the same projection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from obskit.analysis.tree import SpanTree
from obskit.model import TraceWarning

if TYPE_CHECKING:
    from obskit.analysis.arrays import TreeArrays

KEPT, DROPPED, SKIPPED = 1, 2, 3


class Projection:
    """Clipped ``starts``/``ends``; ``kept[i] == KEPT`` for a span that takes part in its
    root's walk (blocking, not dropped); otherwise it says why the span is out."""

    __slots__ = ("clipped", "dropped", "ends", "kept", "skewed", "starts")

    def __init__(self, tree: SpanTree, skipped: set[int]) -> None:
        # each list in trace order
        self.clipped: list[int] = []
        self.skewed: list[int] = []
        self.dropped: list[int] = []
        if tree.arrays is not None:
            self._fit_arrays(tree.arrays, skipped, tree.starts, tree.ends)
            return
        self.starts = list(tree.starts)
        self.ends = list(tree.ends)
        # KEPT, DROPPED (with an ancestor) or SKIPPED (non-blocking, with an ancestor)
        self.kept = bytearray(len(self.starts))
        self._fit(tree, skipped)
        self.clipped.sort()
        self.skewed.sort()
        self.dropped.sort()

    def _fit_arrays(
        self, tree: TreeArrays, skipped: set[int], tree_starts: list[int], tree_ends: list[int]
    ) -> None:
        """``_fit`` as prefix operations (see :mod:`obskit.analysis.arrays`): a kept span's
        clipped interval is its latest start and earliest end along its path from the root, and
        the first span on that path that is dropped or skipped decides for its whole subtree."""
        import numpy as np

        from obskit.analysis.arrays import path_extremes, topmost

        parent, starts, ends = tree.parent, tree.starts, tree.ends
        latest_start, earliest_end = path_extremes(parent, starts, ends)
        child = np.flatnonzero(parent >= 0)
        cs, ce = starts[child], ends[child]
        ps, pe = latest_start[parent[child]], earliest_end[parent[child]]
        outside = np.where(cs >= ps, cs >= pe, ce <= ps)  # the six cases above
        local = np.zeros(len(parent), np.uint8)
        local[child[outside]] = DROPPED
        if skipped:
            local[np.fromiter(skipped, np.int64, len(skipped))] = SKIPPED
        state = topmost(parent, local)
        kept = state == 0
        state[kept] = KEPT
        self.kept = bytearray(state.tobytes())
        moved = kept & (starts < latest_start)
        cut = kept & (ends > earliest_end)
        self.skewed = np.flatnonzero(moved).tolist()
        self.clipped = np.flatnonzero(cut & ~moved).tolist()
        self.dropped = np.flatnonzero(state == DROPPED).tolist()
        # few spans change: copy the lists and set those, rather than convert whole arrays
        self.starts, self.ends = list(tree_starts), list(tree_ends)
        for i, start in zip(self.skewed, latest_start[moved].tolist(), strict=True):
            self.starts[i] = start
        changed = np.flatnonzero(cut)
        for i, end in zip(changed.tolist(), earliest_end[changed].tolist(), strict=True):
            self.ends[i] = end

    def _fit(self, tree: SpanTree, skipped: set[int]) -> None:
        starts, ends, state, children = self.starts, self.ends, self.kept, tree.children
        clipped, skewed, dropped = self.clipped, self.skewed, self.dropped
        for r in tree.roots:
            state[r] = KEPT
        for u in tree.order:  # parents before children
            kids = children[u]
            if kids is None:
                continue
            mine = state[u]
            if mine != KEPT:  # a dropped or skipped span takes its subtree with it
                for c in kids:
                    state[c] = mine
                if mine == DROPPED:
                    dropped.extend(kids)
                continue
            ps, pe = starts[u], ends[u]
            for c in kids:
                if skipped and c in skipped:
                    state[c] = SKIPPED
                    continue
                cs, ce = starts[c], ends[c]
                if cs >= ps:
                    if cs >= pe:
                        state[c] = DROPPED
                        dropped.append(c)
                        continue
                    if ce > pe:
                        ends[c] = pe
                        clipped.append(c)
                elif ce <= ps:
                    state[c] = DROPPED
                    dropped.append(c)
                    continue
                else:
                    starts[c] = ps
                    if ce > pe:
                        ends[c] = pe
                    skewed.append(c)
                state[c] = KEPT

    def warnings(self, tree: SpanTree) -> list[TraceWarning]:
        ids = tree.ids
        found: list[TraceWarning] = []
        if self.skewed:
            found.append(
                TraceWarning(
                    "skew",
                    f"{len(self.skewed)} span(s) start before their parent (clock skew?); "
                    "their start was moved to the parent's",
                    tuple([ids[i] for i in self.skewed]),
                )
            )
        if self.clipped:
            found.append(
                TraceWarning(
                    "clipped",
                    f"{len(self.clipped)} span(s) end after their parent; "
                    "their end was clipped to the parent's",
                    tuple([ids[i] for i in self.clipped]),
                )
            )
        if self.dropped:
            found.append(
                TraceWarning(
                    "dropped",
                    f"{len(self.dropped)} span(s) dropped from the critical path: "
                    "they (or an ancestor) lie outside their parent's time",
                    tuple([ids[i] for i in self.dropped]),
                )
            )
        return found
