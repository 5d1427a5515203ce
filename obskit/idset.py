"""A set of trace ids that costs ~8 bytes an id, for the readers that remember every trace
they have yielded (to tell a trace that comes back later, in pieces).

A Python ``set`` of the id strings costs ~140 bytes an id: 140 MB for a million traces, most
of a streaming run's memory. This keeps 64-bit hashes instead: the newest in a small ``set``,
the rest in one sorted numpy array, merged in when the ``set`` fills. Two of a million ids
share a hash with a probability of ~3e-8; the cost of one would be a wrong ``split`` warning.
"""

from __future__ import annotations

from typing import Any

RECENT = 1 << 16  # hashes held in the set before they move to the sorted array


class IdSet:
    __slots__ = ("_older", "_recent")

    def __init__(self) -> None:
        self._recent: set[int] = set()
        self._older: Any = ()  # a sorted numpy int64 array once the first set fills

    def __len__(self) -> int:
        return len(self._recent) + len(self._older)

    def record(self, trace_id: str) -> bool:
        """Remember ``trace_id``; whether it was remembered already."""
        key = hash(trace_id)  # the same within a process, which is all this set lives in
        if key in self._recent:
            return True
        older = self._older
        if len(older):
            at = int(older.searchsorted(key))
            if at < len(older) and older[at] == key:
                return True
        self._recent.add(key)
        if len(self._recent) >= RECENT:
            self._spill()
        return False

    def _spill(self) -> None:
        import numpy as np  # only past RECENT ids: small reads never import it

        recent = np.fromiter(self._recent, dtype=np.int64, count=len(self._recent))
        self._older = np.union1d(np.asarray(self._older, dtype=np.int64), recent)
        self._recent = set()
