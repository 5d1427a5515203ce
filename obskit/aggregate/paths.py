"""Critical-path time per call path (the frames from the endpoint down), with a cardinality
limit that keeps the result the same however the traces were split.

A service's call paths are few, but span names that carry ids (``GET /users/8841``) or
randomly shaped work make one per trace, and a table of every one grows with the traces
(~500 bytes a path). So, as OpenTelemetry's metric SDK and Collector do with series, at most
``limit`` distinct paths are kept, and the time of the others is summed under one overflow
frame, :data:`OTHER`.

Which paths stay must not depend on the order traces and partial results arrive in, so it is
not "the first ones seen" but a bottom-k sample: the ``limit`` paths whose hash ranks lowest.
A path in that sample is in the sample of every part of the traces it occurs in, so its
figures are exact; :data:`OTHER` holds the rest of the time, exactly; and the number of
distinct paths is estimated from the sample's largest rank (the KMV estimator).
"""

from __future__ import annotations

import bisect
from hashlib import blake2b

from obskit.aggregate.sample import OpKey

LIMIT = 20_000  # distinct call paths kept (each ~500 bytes)
OTHER = "[other call paths]"
NO_CUT = 1 << 64  # every rank is below it: nothing was dropped yet

Path = tuple[OpKey, ...]  # frames, from the endpoint down


def hash_rank(text: str) -> int:
    """Where ``text`` stands in a bottom-k sample (the call paths kept here, the heat map's
    traces): a 64-bit hash that is the same in every process (Python's own ``hash`` of a str
    is salted per process)."""
    return int.from_bytes(blake2b(text.encode(), digest_size=8).digest(), "big")


def rank(path: Path) -> int:
    """A path's place in the sample."""
    return hash_rank("\x1f".join(f"{service}\x1e{operation}" for service, operation in path))


class CallPaths:
    """Feed ``(path, ns)`` per trace with :meth:`add`; :meth:`merge` folds in another table
    (of other traces) in any grouping and order; :meth:`settle` before reading ``table``.

    Between calls no kept path ranks above ``cut``: a new path is ranked once, when it
    arrives after the first trim, and the table is re-ranked only when it must shrink."""

    __slots__ = ("cut", "limit", "other_ns", "table")

    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self.table: dict[Path, list[int]] = {}  # path -> [total ns, traces it held CP time in]
        self.cut = NO_CUT  # paths ranking above it are in OTHER
        self.other_ns = 0

    @property
    def sampled(self) -> bool:
        return self.cut != NO_CUT

    def add(self, path: Path, ns: int) -> None:
        entry = self.table.get(path)
        if entry is not None:
            entry[0] += ns
            entry[1] += 1
        elif self.cut != NO_CUT and rank(path) > self.cut:
            self.other_ns += ns
        else:
            self.table[path] = [ns, 1]
            if len(self.table) >= 2 * self.limit:  # trim in batches: ranks cost a hash each
                self.settle()

    def merge(self, other: CallPaths) -> None:
        """Fold in ``other`` (it is used up: its entries may move over)."""
        self.other_ns += other.other_ns
        if other.cut < self.cut:  # the other sample is the narrower: ours shrinks to it
            self.cut = other.cut
            self._drop(sorted((rank(path), path) for path in self.table))
        # the other's paths rank at most its cut: only a narrower cut of ours refuses some
        check = self.cut < other.cut
        table = self.table
        get = table.get
        for path, value in other.table.items():  # hashing the paths is the cost here
            entry = get(path)
            if entry is not None:
                entry[0] += value[0]
                entry[1] += value[1]
            elif check and rank(path) > self.cut:
                self.other_ns += value[0]
            else:
                table[path] = value
        if len(table) >= 2 * self.limit:
            self.settle()

    def settle(self) -> None:
        """Keep at most ``limit`` paths, those ranking lowest."""
        if len(self.table) <= self.limit:
            return
        ranked = sorted((rank(path), path) for path in self.table)
        self.cut = min(self.cut, ranked[self.limit - 1][0])
        self._drop(ranked)

    def _drop(self, ranked: list[tuple[int, Path]]) -> None:
        """Move the paths ranking above the cut (``ranked``: all of them, sorted) to OTHER."""
        kept = bisect.bisect_right(ranked, self.cut, key=lambda item: item[0])
        for _, path in ranked[kept:]:
            self.other_ns += self.table.pop(path)[0]

    def distinct(self) -> int:
        """How many distinct paths the traces had: exact when nothing was dropped, else the
        KMV estimate from the largest kept rank."""
        self.settle()
        if not self.sampled:
            return len(self.table)
        return round((len(self.table) - 1) * NO_CUT / (self.cut + 1))
