"""How names and counts read in every renderer: trace strings made safe to print (a service
name is data from the network; it must not drive the terminal), plurals and bars. Durations
and shares are :mod:`obskit.units`'; they are here too because the HTML templates read
every helper from this one module (``fmt``)."""

from __future__ import annotations

import re

from obskit.units import duration, percent

__all__ = ["bar", "duration", "percent", "plural", "printable", "shorten"]

# C0 and C1 controls and DEL: an ESC in a span name could recolour or clear a terminal.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(value: str) -> str:
    """``value`` with control characters shown as ``\\xNN`` instead of acted on."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", value)


def shorten(value: str, width: int) -> str:
    value = printable(value)
    return value if len(value) <= width else value[: max(width - 1, 0)] + "…"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


_EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(share: float, width: int = 20) -> str:
    """A horizontal bar ``width`` cells long at 100%, with eighth-cell resolution."""
    eighths = round(max(0.0, min(share, 1.0)) * width * 8)
    full, part = divmod(eighths, 8)
    return "█" * full + (_EIGHTHS[part] if part else "")
