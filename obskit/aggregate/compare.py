"""``--compare START..END``: the same report for another window, and what changed most.

The other window is the **baseline** (usually earlier); the main window is **now**. Hops and
operations are ranked by how much their mean CP time per trace changed (``after - before``,
largest absolute change first): the mean is comparable between windows holding different
numbers of traces, where a total is not. A key present in one window only counts as 0 in the
other. Hops whose p50 CP time grew more than ``--slow-factor`` times over the baseline's p50 are
flagged in the main report (see :mod:`obskit.aggregate.aggregate`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from obskit.aggregate.report import AggregateReport, Change, Comparison
from obskit.errors import InputError

_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_AGO = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h|d|w)$")


def compare(window: str, now: AggregateReport, baseline: AggregateReport) -> Comparison:
    changes: list[Change] = []
    before_hops = {(h.caller, h.callee, h.external): h for h in baseline.hops}
    after_hops = {(h.caller, h.callee, h.external): h for h in now.hops}
    for key in before_hops.keys() | after_hops.keys():
        b, a = before_hops.get(key), after_hops.get(key)
        changes.append(
            _change(
                "hop",
                (key[0], key[1]),
                key[2],
                _figures(b.critical_ns if b else None, baseline.traces),
                _figures(a.critical_ns if a else None, now.traces),
            )
        )
    before_ops = {(o.service, o.operation): o for o in baseline.operations}
    after_ops = {(o.service, o.operation): o for o in now.operations}
    for key in before_ops.keys() | after_ops.keys():
        bo, ao = before_ops.get(key), after_ops.get(key)
        changes.append(
            _change(
                "operation",
                key,
                False,
                _figures(bo.critical_ns if bo else None, baseline.traces),
                _figures(ao.critical_ns if ao else None, now.traces),
            )
        )
    changes.sort(key=lambda c: (-abs(c.change_ns), c.kind, c.name))
    return Comparison(window, baseline, tuple(changes))


def _figures(spread: object, traces: int) -> dict[str, int]:
    if spread is None:
        return {"mean": 0, "p50": 0, "p95": 0}
    total = spread.total  # type: ignore[attr-defined]
    return {
        "mean": total // traces if traces else 0,
        "p50": spread.p50,  # type: ignore[attr-defined]
        "p95": spread.p95,  # type: ignore[attr-defined]
    }


def _change(
    kind: str, name: tuple[str, str], external: bool, before: dict[str, int], after: dict[str, int]
) -> Change:
    return Change(kind, name, external, before, after, after["mean"] - before["mean"])


def parse_time(text: str, option: str, *, now_ns: int) -> int:
    """An absolute RFC 3339 time (``2026-08-20T10:00:00Z``), a Unix time in seconds, or an age
    (``90m``, ``2h``, ``1d``: that long before now) → ns since the epoch."""
    text = text.strip()
    match = _AGO.match(text)
    if match:
        return now_ns - round(float(match[1]) * _UNITS_S[match[2]] * 1e9)
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


def parse_age(text: str, option: str = "--since") -> int:
    """``1h`` → ns."""
    match = _AGO.match(text.strip())
    if not match:
        raise InputError(f"{option}: expected an age like 30m, 1h or 2d, got {text!r}")
    return round(float(match[1]) * _UNITS_S[match[2]] * 1e9)
