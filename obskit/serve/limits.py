"""Human sizes and ages for ``obskit serve`` options."""

from __future__ import annotations

import re

from obskit.errors import InputError

_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "kib": 1 << 10,
    "mib": 1 << 20,
    "gib": 1 << 30,
}
_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_size(text: str, option: str) -> int | None:
    """``"500MiB"`` → bytes; ``"0"`` → None (no limit)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if not match or match.group(2).lower() not in _SIZE_UNITS:
        raise InputError(f"{option}: {text!r} is not a size; use e.g. 512MiB or 2GB")
    value = int(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])
    return value or None


def parse_age_s(text: str, option: str) -> float | None:
    """``"7d"`` → seconds; ``"0"`` → None (keep everything)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if not match:
        raise InputError(f"{option}: {text!r} is not an age; use e.g. 12h or 7d")
    value = float(match.group(1)) * _AGE_UNITS[match.group(2) or "s"]
    return value or None
