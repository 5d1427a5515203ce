"""Percentiles from the report's mergeable sketch: within its stated relative accuracy of the
exact nearest-rank values (``obskit.aggregate.sketch.ACCURACY``); every other figure exact."""

from __future__ import annotations

from collections.abc import Mapping

from obskit.aggregate.sketch import ACCURACY

QUANTILES = ("p50", "p95", "p99")


def near(actual: Mapping[str, int], exact: Mapping[str, int]) -> bool:
    """``actual`` has ``exact``'s keys; its p50/p95/p99 each within ±ACCURACY of the exact
    value, anything else (``total``) equal."""
    if set(actual) != set(exact):
        return False
    for key, value in exact.items():
        if key in QUANTILES:
            if abs(actual[key] - value) > ACCURACY * value:
                return False
        elif actual[key] != value:
            return False
    return True
