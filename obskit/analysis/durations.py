"""Durations for people: integer nanoseconds in, a short string out."""

from __future__ import annotations


def format_ns(ns: int) -> str:
    """``830_000_000`` → ``"830ms"``, ``1_250_000_000`` → ``"1.25s"``, ``1_500`` → ``"1.5µs"``."""
    if abs(ns) < 1000:
        return f"{ns}ns"
    for unit, size in (("µs", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000)):
        value = ns / size
        if abs(value) < 999.5:
            return f"{value:.3g}{unit}"
    return f"{ns / 1_000_000_000:.0f}s"


def format_share(share: float) -> str:
    """``0.83`` → ``"83%"``; small non-zero shares keep one decimal (``"0.4%"``)."""
    percent = share * 100
    if 0 < percent < 1:
        return f"{percent:.1f}%"
    return f"{percent:.0f}%"
