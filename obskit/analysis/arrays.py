"""The analysis steps of big traces, over numpy arrays.

Past a few thousand spans the analysis is bound by memory, not arithmetic: every Python object a
pass touches is a cache miss, and a 1M-span trace does not fit any cache. So for traces of
``tree.BULK_FROM`` spans and more, the tree's parent links, the clipping and the callee search run
here, a whole column at a time over contiguous arrays; the small-trace code in ``tree.py`` and
``clipping.py`` stays the reference, and ``tests/analysis/test_bulk.py`` holds both to the same
reports. Below that size numpy's fixed cost per call is more than the Python loops cost.

Top-down steps (clipping, "is an ancestor dropped?") are prefix operations along each span's
path from its root, computed by pointer doubling: each round, a span combines its value with
the one of the ancestor its pointer names and the pointer jumps twice as far. A trace of depth
``D`` takes ``ceil(log2(D + 1))`` rounds, each over the spans still climbing, so a 5,000-deep
chain costs 13 vectorised rounds, not 5,000 Python steps or 5,000 numpy calls.
"""

from __future__ import annotations

import itertools

import numpy as np

from obskit.model import SpanKind

NO_PARENT = -1


def id_keys(ids: list[str]) -> np.ndarray | None:
    """Span ids as unsigned 64-bit numbers, or None unless each is 16 lowercase hex digits
    (what every reader gives; hand-built traces may differ and take the list path)."""
    joined = "".join(ids)
    if len(joined) != 16 * len(ids) or joined != joined.lower():
        return None
    try:
        raw = bytes.fromhex(joined)  # skips white space: the length check below catches it
    except ValueError:
        return None
    if len(raw) != 8 * len(ids):
        return None
    return hex_keys(raw)


def hex_keys(raw: bytes) -> np.ndarray:
    """Span ids given as 8 bytes each (big-endian, as hex reads) as unsigned 64-bit numbers."""
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64)


class IdIndex:
    """Positions of span ids: ``keys`` sorted once, looked up by binary search."""

    __slots__ = ("keys", "order")

    def __init__(self, keys: np.ndarray) -> None:
        self.order = np.argsort(keys)
        self.keys = keys[self.order]

    def get(self, span_id: str) -> int | None:
        keys = id_keys([span_id])
        if keys is None:
            return None
        found = int(self.positions(keys)[0])
        return None if found == NO_PARENT else found

    def find(self, span_ids: list[str]) -> np.ndarray:
        """``positions`` of span ids given as text; any that is not a span id is NO_PARENT."""
        keys = id_keys(span_ids)
        if keys is not None:
            return self.positions(keys)
        return np.array([NO_PARENT if (p := self.get(i)) is None else p for i in span_ids])

    def has_duplicates(self) -> bool:
        return bool((self.keys[1:] == self.keys[:-1]).any())

    def positions(self, wanted: np.ndarray) -> np.ndarray:
        """The position of each wanted key, or NO_PARENT where it is not a span id."""
        if not len(self.keys):
            return np.full(len(wanted), NO_PARENT, np.int64)
        # searched in sorted order, the keys are read front to back rather than at random
        by_key = np.argsort(wanted)
        at = np.empty(len(wanted), np.int64)
        at[by_key] = np.searchsorted(self.keys, wanted[by_key])
        np.minimum(at, len(self.keys) - 1, out=at)
        return np.where(self.keys[at] == wanted, self.order[at], NO_PARENT)


class Children:
    """Every span's children in trace order, as one array of positions cut by offsets."""

    __slots__ = ("offsets", "positions")

    def __init__(self, parent: np.ndarray) -> None:
        by_parent = np.argsort(parent, kind="stable")  # stable: trace order among siblings
        roots = int(np.count_nonzero(parent < 0))
        self.positions = by_parent[roots:]
        counts = np.bincount(parent[self.positions], minlength=len(parent))
        self.offsets = np.zeros(len(parent) + 1, np.int64)
        np.cumsum(counts, out=self.offsets[1:])

    def of(self, u: int) -> list[int] | None:
        start, end = self.offsets[u], self.offsets[u + 1]
        return self.positions[start:end].tolist() if end > start else None

    def lists(self) -> list[list[int] | None]:
        """``children`` as the list path has them: None for a leaf."""
        positions, offsets = self.positions.tolist(), self.offsets.tolist()
        return [
            positions[start:end] if end > start else None
            for start, end in itertools.pairwise(offsets)
        ]


class TreeArrays:
    """The tree's columns as arrays: ``parent`` (NO_PARENT for a root, cycles already broken),
    ``starts``, ``ends`` (int64 ns), ``kinds`` (the OTLP numbers) and the ``children``."""

    __slots__ = ("children", "ends", "kinds", "parent", "starts")

    def __init__(
        self, parent: np.ndarray, starts: np.ndarray, ends: np.ndarray, kinds: list[SpanKind]
    ) -> None:
        self.parent, self.starts, self.ends = parent, starts, ends
        self.kinds = np.fromiter(kinds, np.int8, len(kinds))
        self.children = Children(parent)


def times(values: list[int]) -> np.ndarray | None:
    """Nanosecond times as int64, or None when one does not fit (a bad clock, not a date)."""
    try:
        return np.fromiter(values, np.int64, len(values))
    except OverflowError:
        return None


def climbing(parent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The spans with a parent and the parents: where every doubling starts."""
    active = np.flatnonzero(parent >= 0)
    return active, parent[active]


def unreached(parent: np.ndarray) -> np.ndarray:
    """Spans that never reach a root by following parents: on or below a reference cycle."""
    active, anc = climbing(parent)
    pointer = parent.copy()
    for _ in range(max(1, len(parent)).bit_length() + 1):  # enough rounds for any depth
        if not len(active):
            break
        pointer[active] = anc = pointer[anc]
        keep = anc >= 0
        active, anc = active[keep], anc[keep]
    return active


def path_extremes(
    parent: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each span, the latest start and the earliest end on its path from the root (itself
    included): its interval clipped into every ancestor's. Needs an acyclic ``parent``."""
    latest_start, earliest_end = starts.copy(), ends.copy()
    pointer = parent.copy()
    active, anc = climbing(parent)
    while len(active):
        latest_start[active] = np.maximum(latest_start[active], latest_start[anc])
        earliest_end[active] = np.minimum(earliest_end[active], earliest_end[anc])
        pointer[active] = anc = pointer[anc]
        keep = anc >= 0
        active, anc = active[keep], anc[keep]
    return latest_start, earliest_end


def topmost(parent: np.ndarray, local: np.ndarray) -> np.ndarray:
    """For each span, the non-zero ``local`` value nearest its root on its path (itself
    included), or 0: what the first failing ancestor decides for a whole subtree."""
    found = local.copy()
    pointer = parent.copy()
    active, anc = climbing(parent)
    while len(active):
        above = found[anc]
        found[active] = np.where(above != 0, above, found[active])
        pointer[active] = anc = pointer[anc]
        keep = anc >= 0
        active, anc = active[keep], anc[keep]
    return found


def first_child_of_kind(
    parent: np.ndarray, children: Children, kinds: np.ndarray, wanted: tuple[int, ...]
) -> dict[int, int]:
    """Parent position → its first child (in trace order) whose kind is one of ``wanted``."""
    positions = children.positions  # grouped by parent, each group in trace order
    hits = positions[np.isin(kinds[positions], wanted)]
    if not len(hits):
        return {}
    owners = parent[hits]
    first = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
    return dict(zip(owners[first].tolist(), hits[first].tolist(), strict=True))
