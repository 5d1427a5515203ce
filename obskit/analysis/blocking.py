"""Step 2: which children do not block their parent (critical-path.md §2).

A non-blocking child is skipped together with its whole subtree:

* the parent is ``PRODUCER`` and the child is ``CONSUMER`` (the producer does not wait), or
* the child hangs on its parent through ``FOLLOWS_FROM`` only (not with ``--jaeger-compat``:
  Jaeger UI, since January 2026, applies only the producer/consumer rule).
"""

from __future__ import annotations

from obskit.analysis.tree import SpanTree
from obskit.model import SpanKind


def non_blocking(tree: SpanTree, *, jaeger_compat: bool = False) -> set[int]:
    """Positions of the children that their parent does not wait for."""
    skipped: set[int] = set() if jaeger_compat else set(tree.follows)
    if tree.arrays is not None:
        kinds, parent = tree.arrays.kinds, tree.arrays.parent
        consumers = ((kinds == SpanKind.CONSUMER) & (parent >= 0)).nonzero()[0]
        below_producer = kinds[parent[consumers]] == SpanKind.PRODUCER
        skipped.update(consumers[below_producer].tolist())
        return skipped
    span_kinds, children = tree.kinds, tree.children
    producer, consumer = SpanKind.PRODUCER, SpanKind.CONSUMER
    for p, kind in enumerate(span_kinds):
        kids = children[p]
        if kind is producer and kids is not None:
            skipped.update(c for c in kids if span_kinds[c] is consumer)
    return skipped
