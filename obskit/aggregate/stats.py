"""Percentiles the same way everywhere: nearest rank on the sorted integers.

Nearest rank keeps every figure a value that was really observed (an integer number of
nanoseconds from one trace), which makes reports reproducible and exemplars findable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

PERCENTILES = (50, 95, 99)


def rank(n: int, p: float) -> int:
    """The 0-based index of the p-th percentile among ``n`` sorted values (nearest rank)."""
    return max(0, min(n - 1, math.ceil(p / 100 * n) - 1))


def percentile(ordered: Sequence[int], p: float) -> int:
    """The p-th percentile of already sorted values; 0 for no values."""
    if not ordered:
        return 0
    return ordered[rank(len(ordered), p)]


def summary(values: Sequence[int]) -> dict[str, int]:
    """``{"p50", "p95", "p99"}`` of ``values`` (any order)."""
    ordered = sorted(values)
    return {f"p{p}": percentile(ordered, p) for p in PERCENTILES}
