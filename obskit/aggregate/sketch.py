"""Quantiles that merge: a DDSketch of integer nanoseconds, read at nearest rank.

An aggregate spread over processes or machines cannot hold every value of a key in one place,
so its percentiles come from a sketch (`DDSketch <https://arxiv.org/abs/1908.10693>`_): values
fall into logarithmic bins, and two sketches merge by adding their bins, in any order and
grouping, to the sketch of all their values. A quantile read from it is within
:data:`ACCURACY` (relative) of the exact nearest-rank value (:mod:`obskit.aggregate.stats`).

The sketch runs at half the stated accuracy because a report shows whole nanoseconds: the
integer a bin stands for costs up to half a nanosecond more, which stays inside the stated
accuracy for values of 100 ns and more; below that a bin holds at most one integer, which is
then returned exactly. The smallest and largest values are kept exactly (p0 and p100).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable
from typing import Any

import numpy as np
from ddsketch import DDSketch
from ddsketch.mapping import KeyMapping

ACCURACY = 0.01  # stated in the report: quantiles within ±1 % of the exact value
NOTE = "quantiles ±1%"  # the note the renderers show
_SKETCH_ACCURACY = ACCURACY / 2
PERCENTILES = (50, 95, 99)
BUFFER = 4096  # values added before they go into the sketch in one numpy pass


class Quantiles:
    """Non-negative integers in, nearest-rank percentiles out; :meth:`merge` adds another's.

    :meth:`add` only appends to a buffer: the sketch takes the values in bulk (their bins
    computed by numpy, the same way every time), which keeps a value's cost near an append's
    on the aggregate's hot path. Pickling flushes the buffer, so what travels is the bins."""

    __slots__ = ("buffer", "sketch")

    def __init__(self) -> None:
        self.sketch = DDSketch(_SKETCH_ACCURACY)
        self.buffer = array("q")

    def __getstate__(self) -> dict[str, Any]:
        self.flush()
        return {"sketch": self.sketch}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.sketch = state["sketch"]
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
        """Put the buffered values into the sketch."""
        if not self.buffer:
            return
        values = np.frombuffer(self.buffer, dtype=np.int64)
        sketch = self.sketch
        positive = values[values > 0]
        if len(positive):
            keys, counts = np.unique(_keys(sketch._mapping, positive), return_counts=True)
            add = sketch._store.add
            for key, count in zip(keys.tolist(), counts.tolist(), strict=True):
                add(key, float(count))
        sketch._zero_count += float(len(values) - len(positive))
        sketch._count += float(len(values))
        sketch._sum += float(values.sum())
        low, high = int(values.min()), int(values.max())
        if low < sketch._min:
            sketch._min = low
        if high > sketch._max:
            sketch._max = high
        self.buffer = array("q")

    def merge(self, other: Quantiles) -> None:
        self.flush()
        other.flush()
        self.sketch.merge(other.sketch)

    @property
    def count(self) -> int:
        return int(self.sketch.count) + len(self.buffer)

    def percentile(self, p: float) -> int:
        """The p-th percentile at nearest rank (0 for no values)."""
        self.flush()
        sketch = self.sketch
        n = int(sketch.count)
        if n == 0:
            return 0
        at = max(0, min(n - 1, math.ceil(p / 100 * n) - 1))
        low, high = int(sketch._min), int(sketch._max)
        if at == n - 1:
            return high
        zeros = int(sketch._zero_count)
        if at < zeros:
            return 0
        if at == 0:
            return low
        key = sketch._store.key_at_rank(at - zeros)
        return max(low, min(high, _integer(sketch._mapping, key)))

    def summary(self) -> dict[str, int]:
        """``{"p50", "p95", "p99"}``."""
        return {f"p{p}": self.percentile(p) for p in PERCENTILES}


def _keys(mapping: KeyMapping, values: Any) -> Any:
    """The sketch's bins of positive ``values`` (its logarithmic mapping, vectorised)."""
    multiplier: float = mapping._multiplier
    return np.ceil(np.log2(values.astype(np.float64)) * multiplier).astype(np.int64) + int(
        mapping._offset
    )


def _integer(mapping: KeyMapping, key: int) -> int:
    """The integer that stands for bin ``key``: the one nearest the bin's value that falls in
    the bin (a bin narrower than 1 holds at most one integer, which is then exact)."""
    value = mapping.value(key)
    candidates = sorted(
        {round(value), math.floor(value), math.ceil(value)}, key=lambda c: abs(c - value)
    )
    inside = [c for c in candidates if c > 0 and _keys(mapping, np.array([c]))[0] == key]
    return int(inside[0]) if inside else round(value)
