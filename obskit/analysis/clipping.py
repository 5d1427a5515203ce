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


class Projection:
    """Clipped ``starts``/``ends``; ``kept[i]`` is 1 for a span that takes part in its root's
    walk (blocking, not dropped)."""

    __slots__ = ("clipped", "dropped", "ends", "kept", "skewed", "starts")

    def __init__(self, tree: SpanTree, skipped: set[int]) -> None:
        self.starts = list(tree.starts)
        self.ends = list(tree.ends)
        self.kept = bytearray(len(self.starts))
        self.clipped: list[int] = []
        self.skewed: list[int] = []
        self.dropped: list[int] = []
        self._fit(tree, skipped)

    def _fit(self, tree: SpanTree, skipped: set[int]) -> None:
        starts, ends, kept, children = self.starts, self.ends, self.kept, tree.children
        clipped, skewed, dropped_heads = self.clipped, self.skewed, []
        order = list(tree.roots)
        for u in order:  # grows while iterating: parent before child, no recursion
            kept[u] = 1
            kids = children[u]
            if kids is None:
                continue
            ps, pe = starts[u], ends[u]
            for c in kids:
                if skipped and c in skipped:
                    continue
                cs, ce = starts[c], ends[c]
                if cs >= ps:
                    if cs >= pe:
                        dropped_heads.append(c)
                        continue
                    if ce > pe:
                        ends[c] = pe
                        clipped.append(c)
                elif ce <= ps:
                    dropped_heads.append(c)
                    continue
                else:
                    starts[c] = ps
                    if ce > pe:
                        ends[c] = pe
                    skewed.append(c)
                order.append(c)
        self.dropped = _with_subtrees(dropped_heads, tree, skipped)

    def warnings(self, tree: SpanTree) -> list[TraceWarning]:
        ids = tree.ids
        found: list[TraceWarning] = []
        if self.skewed:
            found.append(
                TraceWarning(
                    "skew",
                    f"{len(self.skewed)} span(s) start before their parent (clock skew?); "
                    "their start was moved to the parent's",
                    tuple(ids[i] for i in self.skewed),
                )
            )
        if self.clipped:
            found.append(
                TraceWarning(
                    "clipped",
                    f"{len(self.clipped)} span(s) end after their parent; "
                    "their end was clipped to the parent's",
                    tuple(ids[i] for i in self.clipped),
                )
            )
        if self.dropped:
            found.append(
                TraceWarning(
                    "dropped",
                    f"{len(self.dropped)} span(s) dropped from the critical path: "
                    "they (or an ancestor) lie outside their parent's time",
                    tuple(ids[i] for i in self.dropped),
                )
            )
        return found


def _with_subtrees(heads: list[int], tree: SpanTree, skipped: set[int]) -> list[int]:
    """The dropped spans and their blocking descendants, parent before child."""
    children = tree.children
    out = list(heads)
    for u in out:
        kids = children[u]
        if kids is not None:
            out.extend(c for c in kids if c not in skipped)
    return out
