"""Durations, shares and ages, in the one place they are written and read.

Written two ways on purpose: ``format_ns`` is the compact form that goes inside sentences
(warnings, hop reasons: ``830ms``), ``duration`` the aligned form of report columns
(``830.0 ms``). Read three ways, for what each option already accepts: ages (``--since 1h``),
times (``--start``, ``--compare``), retention ages (``obskit serve --retention 7d``) and Go
durations (Jaeger's ``minDuration``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from obskit.errors import InputError

AGE_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_AGO = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h|d|w)$")
_RETENTION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*")
_GO_UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}
_GO_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


# -- written ---------------------------------------------------------------------------------


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
    """``0.8312`` → ``"83.1%"``: the column form of a share."""
    return f"{share * 100:.1f}%"


# -- read ------------------------------------------------------------------------------------


def parse_age(text: str, option: str = "--since") -> int:
    """``1h`` → ns."""
    match = _AGO.match(text.strip())
    if not match:
        raise InputError(f"{option}: expected an age like 30m, 1h or 2d, got {text!r}")
    return round(float(match[1]) * AGE_UNITS_S[match[2]] * 1e9)


def parse_time(text: str, option: str, *, now_ns: int) -> int:
    """An absolute RFC 3339 time (``2026-08-20T10:00:00Z``), a Unix time in seconds, or an age
    (``90m``, ``2h``, ``1d``: that long before now) → ns since the epoch."""
    text = text.strip()
    match = _AGO.match(text)
    if match:
        return now_ns - round(float(match[1]) * AGE_UNITS_S[match[2]] * 1e9)
    if re.fullmatch(r"\d{9,11}(?:\.\d+)?", text):
        return round(float(text) * 1e9)
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"{option}: cannot read {text!r} as a time",
            hint="use RFC 3339 (2026-08-20T10:00:00Z), Unix seconds, or an age like 2h",
        ) from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return int(stamp.timestamp()) * 10**9 + stamp.microsecond * 1000


def parse_window(text: str, *, now_ns: int) -> tuple[int, int]:
    """``START..END`` → (start_ns, end_ns); either side as :func:`parse_time` reads it."""
    start, sep, end = text.partition("..")
    if not sep or not start.strip() or not end.strip():
        raise InputError(
            f"--compare: expected START..END, got {text!r}",
            hint="e.g. --compare 2h..1h (the hour before last) or "
            "--compare 2026-08-20T09:00:00Z..2026-08-20T10:00:00Z",
        )
    start_ns = parse_time(start, "--compare", now_ns=now_ns)
    end_ns = parse_time(end, "--compare", now_ns=now_ns)
    if end_ns <= start_ns:
        raise InputError(f"--compare {text}: the end must come after the start")
    return start_ns, end_ns


def parse_retention_s(text: str, option: str) -> float | None:
    """``"7d"`` → seconds, a bare number is seconds; ``"0"`` → None (keep everything)."""
    match = _RETENTION.fullmatch(text)
    if not match:
        raise InputError(f"{option}: {text!r} is not an age; use e.g. 12h or 7d")
    value = float(match.group(1)) * AGE_UNITS_S[match.group(2) or "s"]
    return value or None


def parse_go_duration_ns(text: str) -> int:
    """A Go duration string as Jaeger's search takes it: ``"1m30s"`` → 90_000_000_000.
    Raises ValueError on anything else."""
    text = text.strip()
    if text in ("0", ""):
        if text == "0":
            return 0
        raise ValueError("empty duration")
    pos, total = 0, 0.0
    while pos < len(text):
        match = _GO_PART.match(text, pos)
        if not match:
            raise ValueError(f"invalid duration {text!r}; use e.g. 150ms, 1.5s or 2m")
        total += float(match.group(1)) * _GO_UNITS_NS[match.group(2)]
        pos = match.end()
    return int(total)
