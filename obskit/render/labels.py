"""How numbers and names read in every renderer: durations, shares, and trace strings made
safe to print (a service name is data from the network; it must not drive the terminal)."""

from __future__ import annotations

from obskit.text import printable

__all__ = ["bar", "duration", "percent", "plural", "printable", "shorten"]


def shorten(value: str, width: int) -> str:
    value = printable(value)
    return value if len(value) <= width else value[: max(width - 1, 0)] + "…"


def duration(ns: int) -> str:
    """``850 ns``, ``12.3 µs``, ``291.5 ms``, ``1.21 s``, ``5 min 02 s``."""
    if ns < 0:
        return "-" + duration(-ns)
    if ns < 1_000:
        return f"{ns} ns"
    if ns < 1_000_000:
        return f"{ns / 1_000:.1f} µs"
    if ns < 1_000_000_000:
        return f"{ns / 1_000_000:.1f} ms"
    if ns < 60_000_000_000:
        return f"{ns / 1_000_000_000:.2f} s"
    minutes, seconds = divmod(round(ns / 1_000_000_000), 60)
    return f"{minutes} min {seconds:02d} s"


def percent(share: float) -> str:
    return f"{share * 100:.1f}%"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


_EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(share: float, width: int = 20) -> str:
    """A horizontal bar ``width`` cells long at 100%, with eighth-cell resolution."""
    eighths = round(max(0.0, min(share, 1.0)) * width * 8)
    full, part = divmod(eighths, 8)
    return "█" * full + (_EIGHTHS[part] if part else "")
