"""What if a callee or operation were faster? Re-time the trace, then walk it again.

``--what-if 'payments-gateway=-300ms'`` (or ``=-50%``) shortens every matching span and moves
what waited on it, then walks the critical path of the re-timed trace (critical-path.md §4).
The projected latency is that new path's length, never ``latency - Δ``: when a parallel call
was only slightly shorter, it becomes the critical one and the saving stops there.

**Which spans match** a target ``T``, in the endpoint's subtree:

* a hop (CLIENT/PRODUCER span) whose callee is external and named ``T``: the client span;
* an entry span of service ``T`` (its parent is in another service, or it is the endpoint);
* a span whose operation is ``T``.

**Shortening a span** removes time from its *own* work, never from its children: the span's
own time is its list of gaps (from its start, or from the end of the last sibling that had
finished, to each child's start; and from its last child's end to its end). ``-Δ`` cuts
``min(Δ, own time)``, ``-p%`` cuts ``p %`` of the own time; the cut is spread over the gaps in
proportion to their length (exactly, in integer nanoseconds). A leaf's own time is its duration.

**Dependants move.** Spans are re-timed parent before child, siblings in start order:

* a child that started after some siblings had ended waited for them: it starts the same gap
  after the latest of their *new* ends (fork-join: it waited for all of them);
* a child that started while no sibling had ended yet keeps its offset from its parent's
  *new* start (work running in parallel does not move because a sibling got faster);
* a parent ends the same tail gap after the latest new end of its children.

Only spans that take part in the walk are re-timed (blocking, after clipping); asynchronous
children and dropped spans stay out, as in the single-trace analysis. So a span shortened by
Δ saves at most ``min(Δ, its CP time)`` per trace (critical-path.md §7).
"""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass
from typing import Any

from obskit.analysis.clipping import KEPT, Projection
from obskit.analysis.tree import SpanTree
from obskit.errors import InputError

_SPEC = re.compile(
    r"^(?P<target>.+?)\s*=\s*-\s*(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>ns|us|µs|ms|s|m|%)$"
)
_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60 * 10**9}


@dataclass(frozen=True, slots=True)
class WhatIf:
    """Shorten ``target`` by ``cut_ns`` nanoseconds or by ``percent`` % of its own time."""

    target: str
    text: str  # the change as the user wrote it, e.g. "-300ms"
    cut_ns: int | None = None
    percent: float | None = None

    def cut(self, own_ns: int) -> int:
        if self.percent is not None:
            return min(own_ns, int(own_ns * self.percent / 100))
        assert self.cut_ns is not None
        return min(own_ns, self.cut_ns)


def parse_what_if(spec: str) -> WhatIf:
    """``NAME=-300ms`` / ``NAME=-50%`` → :class:`WhatIf`; InputError naming the form otherwise."""
    match = _SPEC.match(spec.strip())
    if not match:
        raise InputError(
            f"--what-if {spec!r}: expected NAME=-DURATION or NAME=-PERCENT%",
            hint="e.g. --what-if 'payments-gateway=-300ms' or --what-if 'payments=-50%'",
        )
    target, amount, unit = match["target"].strip(), match["amount"], match["unit"]
    text = f"-{amount}{unit}"
    if unit == "%":
        percent = float(amount)
        if percent > 100:
            raise InputError(f"--what-if {spec!r}: a span cannot get more than 100% faster")
        return WhatIf(target, text, percent=percent)
    return WhatIf(target, text, cut_ns=round(float(amount) * _UNITS[unit]))


def kept_children(tree: SpanTree, projection: Projection, u: int) -> list[int]:
    """``u``'s children that take part in the walk, by (start, end, span id)."""
    kids = tree.kids(u)
    if kids is None:
        return []
    kept, starts, ends, ids = projection.kept, projection.starts, projection.ends, tree.ids
    mine = [c for c in kids if kept[c] == KEPT]
    if len(mine) > 1:
        mine.sort(key=lambda c: (starts[c], ends[c], ids[c]))
    return mine


def own_gaps(starts: list[int], ends: list[int], u: int, kids: list[int]) -> list[int]:
    """``u``'s own time as gaps: one before each child (in ``kids`` order), then the tail."""
    gaps = []
    finished: list[int] = []  # ends of earlier children, a min-heap
    latest = None
    for c in kids:
        cs = starts[c]
        while finished and finished[0] <= cs:
            end = heapq.heappop(finished)
            latest = end if latest is None or end > latest else latest
        gaps.append(cs - (starts[u] if latest is None else latest))
        heapq.heappush(finished, ends[c])
    last = max([starts[u], *(ends[c] for c in kids)])
    gaps.append(ends[u] - last)
    return gaps


def spread(gaps: list[int], cut: int) -> list[int]:
    """Cut ``cut`` ns from ``gaps`` in proportion to their length, exactly: cumulative
    rounding, so the cuts add up to ``cut`` and none exceeds its gap."""
    own = sum(gaps)
    if cut <= 0 or own <= 0:
        return list(gaps)
    out, running, done = [], 0, 0
    for gap in gaps:
        running += gap
        upto = running * cut // own
        out.append(gap - (upto - done))
        done = upto
    return out


def retime(
    tree: SpanTree, projection: Projection, root: int, cuts: dict[int, WhatIf]
) -> tuple[list[int], list[int], dict[int, int]]:
    """New (starts, ends) for ``root``'s subtree with the spans in ``cuts`` shortened, and the
    cut applied to each of them. Iterative depth-first, children in start order."""
    starts, ends = projection.starts, projection.ends
    new_starts, new_ends = list(starts), list(ends)
    applied: dict[int, int] = {}

    def enter(u: int) -> list[Any]:
        kids = kept_children(tree, projection, u)
        gaps = own_gaps(starts, ends, u, kids)
        what = cuts.get(u)
        if what is not None:
            cut = what.cut(sum(gaps))
            applied[u] = cut
            gaps = spread(gaps, cut)
        # frame: span, children, next child, new gaps, heap of (end, new end) of finished
        # children not yet counted, latest (end, new end) counted
        return [u, kids, 0, gaps, [], None]

    stack = [enter(root)]
    while stack:
        frame = stack[-1]
        u, kids, i, gaps, finished, latest = frame
        if i > 0:  # the child just done joins the finished ones
            done = kids[i - 1]
            heapq.heappush(finished, (ends[done], new_ends[done]))
        if i < len(kids):
            c = kids[i]
            while finished and finished[0][0] <= starts[c]:
                end, new_end = heapq.heappop(finished)
                latest = (
                    (end, new_end)
                    if latest is None
                    else (
                        max(latest[0], end),
                        max(latest[1], new_end),
                    )
                )
            frame[5] = latest
            anchor = new_starts[u] if latest is None else latest[1]
            new_starts[c] = anchor + gaps[i]
            frame[2] = i + 1
            stack.append(enter(c))
            continue
        last_new = new_starts[u]
        for _end, new_end in finished:
            last_new = max(last_new, new_end)
        if latest is not None:
            last_new = max(last_new, latest[1])
        new_ends[u] = last_new + gaps[-1]
        stack.pop()
    return new_starts, new_ends, applied


class Retimed:
    """A projection with re-timed starts and ends, for :func:`obskit.analysis.walk.walk`."""

    __slots__ = ("ends", "kept", "starts")

    def __init__(self, projection: Projection, starts: list[int], ends: list[int]) -> None:
        self.starts, self.ends, self.kept = starts, ends, projection.kept
