"""Quantiles that merge: a DDSketch of integer nanoseconds, read at nearest rank.

An aggregate spread over processes or machines cannot hold every value of a key in one place,
so its percentiles come from a sketch (`DDSketch <https://arxiv.org/abs/1908.10693>`_, the
``ddsketch`` package's logarithmic mapping): values fall into logarithmic bins, and two sketches
merge by adding their bin counts, in any order and grouping, to the sketch of all their values.
A quantile read from it is within :data:`ACCURACY` (relative) of the exact nearest-rank value
(:mod:`obskit.aggregate.stats`).

The bins are kept sparse (a dict of the bins that hold values), not in ddsketch's dense store:
a worker's partial of 48 traces then pickles to the few bins it filled, and merging costs the
bins the other holds, not the range between its smallest and largest value.

The sketch runs at half the stated accuracy because a report shows whole nanoseconds: the
integer a bin stands for costs up to half a nanosecond more, which stays inside the stated
accuracy for values of 100 ns and more; below that a bin holds at most one integer, which is
then returned exactly. The smallest and largest values are kept exactly (p0 and p100).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable

from ddsketch.mapping import KeyMapping, LogarithmicMapping

ACCURACY = 0.01  # stated in the report: quantiles within ±1 % of the exact value
_MAPPING = LogarithmicMapping(ACCURACY / 2)
# its key(v) is ceil(log2(v) · multiplier) + offset; spelled out for speed (flush's loop)
_MULTIPLIER: float = _MAPPING._multiplier
_OFFSET = int(_MAPPING._offset)
PERCENTILES = (50, 95, 99)
BUFFER = 4096  # values added before they go into the bins


class Quantiles:
    """Non-negative integers in, nearest-rank percentiles out; :meth:`merge` adds another's.

    :meth:`add` only appends to a buffer, which keeps the aggregate's hot path short; the
    bins take the values in bulk. Pickling flushes the buffer, so what travels is the bins."""

    __slots__ = ("bins", "buffer", "count_", "high", "low", "zeros")

    def __init__(self) -> None:
        self.bins: dict[int, int] = {}
        self.zeros = 0  # values of 0 (and below): a bin of their own
        self.count_ = 0
        self.low = 0
        self.high = 0
        self.buffer = array("q")

    def __getstate__(self) -> tuple[dict[int, int], int, int, int, int]:
        self.flush()
        return (self.bins, self.zeros, self.count_, self.low, self.high)

    def __setstate__(self, state: tuple[dict[int, int], int, int, int, int]) -> None:
        self.bins, self.zeros, self.count_, self.low, self.high = state
        self.buffer = array("q")

    def add(self, value: int) -> None:
        self.buffer.append(value)
        if len(self.buffer) >= BUFFER:
            self.flush()

    def extend(self, values: Iterable[int]) -> None:
        self.buffer.extend(values)
        if len(self.buffer) >= BUFFER:
            self.flush()

    def flush(self) -> None:
        """Put the buffered values into the bins."""
        values = self.buffer
        if not values:
            return
        bins = self.bins
        get = bins.get
        log2, ceil, multiplier, offset = math.log2, math.ceil, _MULTIPLIER, _OFFSET
        zeros = 0
        for value in values:
            if value > 0:
                key = ceil(log2(value) * multiplier) + offset
                bins[key] = get(key, 0) + 1
            else:
                zeros += 1
        self._take(zeros, len(values), min(values), max(values))
        self.buffer = array("q")

    def _take(self, zeros: int, count: int, low: int, high: int) -> None:
        if not self.count_ or low < self.low:
            self.low = low
        if not self.count_ or high > self.high:
            self.high = high
        self.zeros += zeros
        self.count_ += count

    def merge(self, other: Quantiles) -> None:
        self.flush()
        other.flush()
        if not other.count_:
            return
        bins = self.bins
        get = bins.get
        for key, count in other.bins.items():
            bins[key] = get(key, 0) + count
        self._take(other.zeros, other.count_, other.low, other.high)

    @property
    def count(self) -> int:
        return self.count_ + len(self.buffer)

    def percentile(self, p: float) -> int:
        """The p-th percentile at nearest rank (0 for no values)."""
        self.flush()
        n = self.count_
        if n == 0:
            return 0
        at = max(0, min(n - 1, math.ceil(p / 100 * n) - 1))
        if at == n - 1:
            return self.high
        if at == 0:
            return self.low
        if at < self.zeros:
            return 0
        seen = self.zeros
        key = 0
        for key in sorted(self.bins):
            seen += self.bins[key]
            if seen > at:
                break
        return max(self.low, min(self.high, _integer(_MAPPING, key)))

    def summary(self) -> dict[str, int]:
        """``{"p50", "p95", "p99"}``."""
        return {f"p{p}": self.percentile(p) for p in PERCENTILES}


def _key(value: int) -> int:
    """The bin of a positive value: ddsketch's logarithmic mapping, with ``math.log2`` every
    time (a value must land in the same bin whichever process bins it)."""
    return math.ceil(math.log2(value) * _MULTIPLIER) + _OFFSET


def _integer(mapping: KeyMapping, key: int) -> int:
    """The integer that stands for bin ``key``: the one nearest the bin's value that falls in
    the bin (a bin narrower than 1 holds at most one integer, which is then exact)."""
    value = mapping.value(key)
    candidates = sorted(
        {round(value), math.floor(value), math.ceil(value)}, key=lambda c: abs(c - value)
    )
    inside = [c for c in candidates if c > 0 and _key(c) == key]
    return int(inside[0]) if inside else round(value)
