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
``skew``; children that end late are ``clipped``; the lost ones are ``dropped``.
"""

from __future__ import annotations

from obskit.analysis.tree import SpanTree
from obskit.model import TraceWarning

KEPT, DROPPED, SKIPPED = 1, 2, 3


class Projection:
    """Clipped ``starts``/``ends``; ``kept[i] == KEPT`` for a span that takes part in its
    root's walk (blocking, not dropped); otherwise it says why the span is out."""

    __slots__ = ("clipped", "dropped", "ends", "kept", "skewed", "starts")

    def __init__(self, tree: SpanTree, skipped: set[int]) -> None:
        self.starts = list(tree.starts)
        self.ends = list(tree.ends)
        # KEPT, DROPPED (with an ancestor) or SKIPPED (non-blocking, with an ancestor)
        self.kept = bytearray(len(self.starts))
        self.clipped: list[int] = []
        self.skewed: list[int] = []
        self.dropped: list[int] = []
        self._fit(tree, skipped)

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
