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
from collections.abc import Iterable

from ddsketch import DDSketch
from ddsketch.mapping import KeyMapping

ACCURACY = 0.01  # stated in the report: quantiles within ±1 % of the exact value
NOTE = "quantiles ±1%"  # the note the renderers show
_SKETCH_ACCURACY = ACCURACY / 2
PERCENTILES = (50, 95, 99)


class Quantiles:
    """Non-negative integers in, nearest-rank percentiles out; :meth:`merge` adds another's."""

    __slots__ = ("sketch",)

    def __init__(self) -> None:
        self.sketch = DDSketch(_SKETCH_ACCURACY)

    def add(self, value: int) -> None:
        self.sketch.add(value)

    def extend(self, values: Iterable[int]) -> None:
        add = self.sketch.add
        for value in values:
            add(value)

    def merge(self, other: Quantiles) -> None:
        self.sketch.merge(other.sketch)

    @property
    def count(self) -> int:
        return int(self.sketch.count)

    def percentile(self, p: float) -> int:
        """The p-th percentile at nearest rank (0 for no values)."""
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


def _integer(mapping: KeyMapping, key: int) -> int:
    """The integer that stands for bin ``key``: the one nearest the bin's value that falls in
    the bin (a bin narrower than 1 holds at most one integer, which is then exact)."""
    value = mapping.value(key)
    best = round(value)
    for candidate in sorted(
        (best, math.floor(value), math.ceil(value)), key=lambda c: abs(c - value)
    ):
        if candidate > 0 and mapping.key(candidate) == key:
            return int(candidate)
    return int(best)
