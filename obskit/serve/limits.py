"""Human sizes for ``obskit serve`` options (ages are :mod:`obskit.units`)."""

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


def parse_size(text: str, option: str) -> int | None:
    """``"500MiB"`` → bytes; ``"0"`` → None (no limit)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if not match or match.group(2).lower() not in _SIZE_UNITS:
        raise InputError(f"{option}: {text!r} is not a size; use e.g. 512MiB or 2GB")
    value = int(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])
    return value or None
