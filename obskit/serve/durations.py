"""Go duration strings (``"1.5s"``, ``"150ms"``, ``"10us"``), as Jaeger's search takes them."""

from __future__ import annotations

import re

_UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}
MAX_NS = 2.0**63  # durations are compared with int64 nanoseconds
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_duration_ns(text: str) -> int:
    """``"1m30s"`` → 90_000_000_000. Raises ValueError on anything else."""
    text = text.strip()
    if text in ("0", ""):
        if text == "0":
            return 0
        raise ValueError("empty duration")
    pos, total = 0, 0.0
    while pos < len(text):
        match = _PART.match(text, pos)
        if not match:
            raise ValueError(f"invalid duration {text!r}; use e.g. 150ms, 1.5s or 2m")
        total += float(match.group(1)) * _UNITS_NS[match.group(2)]
        pos = match.end()
    if not total < MAX_NS:
        raise ValueError(f"duration {text[:40]!r} is out of range (at most about 292 years)")
    return int(total)
