"""``--compare START..END``: the same report for another window, and what changed most.

The other window is the **baseline** (usually earlier); the main window is **now**. Hops and
operations are ranked by how much their mean CP time per trace changed (``after - before``,
largest absolute change first): the mean is comparable between windows holding different
numbers of traces, where a total is not. A key present in one window only counts as 0 in the
other. Hops whose p50 CP time and mean grew more than ``--slow-factor`` times over the baseline's
are flagged in the main report (see :mod:`obskit.aggregate.aggregate`).
"""

from __future__ import annotations

from obskit.aggregate.report import AggregateReport, Change, Comparison, Spread


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
    for op_key in before_ops.keys() | after_ops.keys():
        bo, ao = before_ops.get(op_key), after_ops.get(op_key)
        changes.append(
            _change(
                "operation",
                op_key,
                False,
                _figures(bo.critical_ns if bo else None, baseline.traces),
                _figures(ao.critical_ns if ao else None, now.traces),
            )
        )
    changes.sort(key=lambda c: (-abs(c.change_ns), c.kind, c.name))
    return Comparison(window, baseline, tuple(changes))


def _figures(spread: Spread | None, traces: int) -> dict[str, int]:
    if spread is None:
        return {"mean": 0, "p50": 0, "p95": 0}
    total = spread.total
    return {
        "mean": total // traces if traces else 0,
        "p50": spread.p50,
        "p95": spread.p95,
    }


def _change(
    kind: str, name: tuple[str, str], external: bool, before: dict[str, int], after: dict[str, int]
) -> Change:
    return Change(kind, name, external, before, after, after["mean"] - before["mean"])
