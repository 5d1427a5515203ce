"""Many traces in, one :class:`AggregateReport` out (CRISP-style; critical-path.md §7).

:class:`Aggregator` takes trace samples one at a time and keeps only numbers: per key (a hop
``caller → callee``, a ``(service, operation)``) the CP time of every trace it occurred in, as
two compact integer arrays (trace position, ns). Memory grows by a few bytes per key and trace,
never by the spans, so a stream of 100,000 traces can be aggregated.

What the figures mean:

* **CP time p50/p95/p99** of a key: nearest-rank percentiles over the traces in which the key
  occurred (a hop that was called but waited on by nobody counts as 0 in that trace);
  ``total`` sums it over all traces. Ranking (``hops``, ``operations``) is by ``total``:
  bottom-up, what the endpoint waited on most, all traces together.
* **share**: the key's total CP time over the sum of the endpoint's latencies.
* **critical_in**: traces in which the key held CP time.
* **exemplar_trace_id**: a trace in which the key's CP time was its p95 (the tail a user
  wants to open), the slowest such trace when several tie.
* **flagged** (hops): ``share >= threshold``, or the hop is **slow against its own
  baseline**: its p95 CP time is more than ``slow_factor`` × its p50 (its typical cost)
  and the excess is at least 5 % of the endpoint's p95 latency (so that a microsecond hop
  that doubles is not news). With ``--compare``, the baseline is the hop's p50 in the other
  window, and "its CP time" is its p50 in this one: a hop flagged that way got slower
  between the windows.
"""

from __future__ import annotations

import heapq
from array import array
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from obskit.aggregate.report import (
    AggregateGraph,
    AggregateReport,
    AggregateWarning,
    EdgeStat,
    HeatMap,
    HopStat,
    NodeStat,
    OperationStat,
    PathStat,
    Spread,
    WhatIfResult,
)
from obskit.aggregate.sample import Endpoint, HopKey, OpKey, TraceSample
from obskit.aggregate.stats import percentile, rank, summary
from obskit.aggregate.whatif import WhatIf
from obskit.units import format_ns, format_share

DEFAULT_THRESHOLD = 0.2
DEFAULT_SLOW_FACTOR = 2.0
TAIL_FLOOR = 0.05  # a tail excess below 5 % of the endpoint's p95 is not flagged
PATH_LIMIT = 20  # call paths listed in the report (folded output has them all)
HEAT_ROWS = 15
HEAT_COLUMNS = 120
WARNING_IDS = 5  # trace ids kept per warning


class _Series:
    """One key's CP time per trace it occurred in: parallel arrays (trace position, ns)."""

    __slots__ = ("at", "critical_in", "ns", "total")

    def __init__(self) -> None:
        self.at = array("l")
        self.ns = array("q")
        self.total = 0
        self.critical_in = 0

    def add(self, position: int, ns: int) -> None:
        self.at.append(position)
        self.ns.append(ns)
        self.total += ns
        if ns:
            self.critical_in += 1

    def spread(self) -> tuple[Spread, int]:
        """Percentiles and the position of the exemplar trace (the p95 one)."""
        order = sorted(range(len(self.ns)), key=self.ns.__getitem__)
        values = [self.ns[i] for i in order]
        exemplar = self.at[order[rank(len(values), 95)]] if order else -1
        return (
            Spread(
                percentile(values, 50), percentile(values, 95), percentile(values, 99), self.total
            ),
            exemplar,
        )


class Aggregator:
    """Feed :class:`TraceSample` objects with :meth:`add`; :meth:`report` builds the report."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        slow_factor: float = DEFAULT_SLOW_FACTOR,
        what_ifs: Sequence[WhatIf] = (),
    ) -> None:
        self.endpoint = endpoint
        self.threshold = threshold
        self.slow_factor = slow_factor
        self.what_ifs = tuple(what_ifs)
        self.trace_ids: list[str] = []
        self.durations = array("q")
        self.hops: dict[HopKey, _Series] = {}
        self.operations: dict[OpKey, _Series] = {}
        self.paths: dict[tuple[OpKey, ...], list[int]] = {}  # [total ns, traces critical in]
        self.services: Counter[str] = Counter()
        self.span_counts: Counter[str] = Counter()
        self.edges: dict[HopKey, list[Any]] = {}  # [calls, errors, cp, array of durations]
        self.projected = [array("q") for _ in self.what_ifs]
        self.what_if_counts = [[0, 0, 0, 0] for _ in self.what_ifs]  # traces, spans, cut, bound
        self.warning_traces: dict[str, list[str]] = {}
        self.warning_counts: Counter[str] = Counter()
        self.problems: list[AggregateWarning] = []
        self.found = 0

    # -- input ---------------------------------------------------------------------------

    def add(self, sample: TraceSample) -> None:
        position = len(self.trace_ids)
        self.trace_ids.append(sample.trace_id)
        self.durations.append(sample.duration_ns)
        keyed: tuple[tuple[dict[Any, _Series], Mapping[Any, int]], ...] = (
            (self.hops, sample.hops),
            (self.operations, sample.operations),
        )
        for table, values in keyed:
            for key, ns in values.items():
                series = table.get(key)
                if series is None:
                    series = table[key] = _Series()
                # _Series.add, inlined: this loop runs for every key of every trace
                series.at.append(position)
                series.ns.append(ns)
                if ns:
                    series.total += ns
                    series.critical_in += 1
        # call paths need no percentiles: a total and a count each, however many traces
        paths = self.paths
        for path_key, ns in sample.paths.items():
            entry = paths.get(path_key)
            if entry is None:
                paths[path_key] = [ns, 1]
            else:
                entry[0] += ns
                entry[1] += 1
        self.services.update(sample.services)
        self.span_counts.update(sample.span_counts)
        for key, (calls, errors, cp, *durations) in sample.edges.items():
            edge = self.edges.get(key)
            if edge is None:
                edge = self.edges[key] = [0, 0, 0, array("q")]
            edge[0] += calls
            edge[1] += errors
            edge[2] += cp
            edge[3].extend(durations)
        for code in set(sample.warnings):
            self.warning_counts[code] += 1
            ids = self.warning_traces.setdefault(code, [])
            if len(ids) < WARNING_IDS:
                ids.append(sample.trace_id)
        for k, (duration, spans, cut, bound) in enumerate(sample.projected):
            self.projected[k].append(duration)
            if spans:
                counts = self.what_if_counts[k]
                counts[0] += 1
                counts[1] += spans
                counts[2] += cut
                counts[3] += bound

    def merge(self, other: Aggregator) -> None:
        """Fold in ``other``, an aggregator of the traces that come right after this one's
        (a worker's batch, :mod:`obskit.aggregate.pool`): the result is the one
        :meth:`add` would have given for the same traces in the same order, key order
        included. ``other`` is used up: its arrays and lists move over."""
        offset = len(self.trace_ids)
        self.trace_ids += other.trace_ids
        self.durations += other.durations
        shift = offset.__add__
        keyed: tuple[tuple[dict[Any, _Series], Mapping[Any, _Series]], ...] = (
            (self.hops, other.hops),
            (self.operations, other.operations),
        )
        for table, theirs in keyed:
            get = table.get
            for key, series in theirs.items():
                mine = get(key)
                if mine is None:
                    if offset:
                        series.at = array("l", map(shift, series.at))
                    table[key] = series
                    continue
                mine.at += array("l", map(shift, series.at)) if offset else series.at
                mine.ns += series.ns
                mine.total += series.total
                mine.critical_in += series.critical_in
        paths = self.paths
        get_path = paths.get
        for path_key, value in other.paths.items():  # call paths: hashing them is the cost here
            entry = get_path(path_key)
            if entry is None:
                paths[path_key] = value
            else:
                entry[0] += value[0]
                entry[1] += value[1]
        self.services.update(other.services)
        self.span_counts.update(other.span_counts)
        edges = self.edges
        for key, theirs_edge in other.edges.items():
            edge = edges.get(key)
            if edge is None:
                edges[key] = theirs_edge
                continue
            edge[0] += theirs_edge[0]
            edge[1] += theirs_edge[1]
            edge[2] += theirs_edge[2]
            edge[3] += theirs_edge[3]
        for code, count in other.warning_counts.items():
            self.warning_counts[code] += count
            ids = self.warning_traces.setdefault(code, [])
            ids += other.warning_traces[code][: WARNING_IDS - len(ids)]
        for mine_projected, theirs_projected in zip(self.projected, other.projected, strict=True):
            mine_projected += theirs_projected
        for counts, theirs_counts in zip(self.what_if_counts, other.what_if_counts, strict=True):
            for k, count in enumerate(theirs_counts):
                counts[k] += count
        self.problems += other.problems
        self.found += other.found

    def problem(self, code: str, message: str, trace_ids: Sequence[str] = ()) -> None:
        """A warning about the run itself (failed fetches, traces without the endpoint)."""
        self.problems.append(AggregateWarning(code, message, tuple(trace_ids[:WARNING_IDS])))

    # -- output --------------------------------------------------------------------------

    def report(self, *, baseline: Mapping[HopKey, int] | None = None) -> AggregateReport:
        """``baseline``: hop → p50 CP time in another window (``--compare``)."""
        n = len(self.trace_ids)
        total = sum(self.durations)
        duration = summary(self.durations)
        hops = sorted(
            (
                self._hop(key, series, total, duration["p95"], baseline)
                for key, series in self.hops.items()
            ),
            key=lambda h: (-h.critical_ns.total, h.caller, h.callee),
        )
        operations = sorted(
            (self._operation(key, series, total) for key, series in self.operations.items()),
            key=lambda o: (-o.critical_ns.total, o.service, o.operation),
        )
        what_if, unmatched = self._what_ifs(duration)
        top_paths = heapq.nlargest(
            PATH_LIMIT, self.paths.items(), key=lambda item: (item[1][0], item[0])
        )
        paths = tuple(
            PathStat(_frames(keys), ns, _share(ns, total), count) for keys, (ns, count) in top_paths
        )
        return AggregateReport(
            endpoint=self.endpoint.to_dict(),
            traces=n,
            traces_found=max(self.found, n),
            duration_ns=duration,
            total_duration_ns=total,
            hops=tuple(hops),
            operations=tuple(operations),
            paths=paths,
            warnings=tuple(self._warnings(n) + unmatched),
            threshold=self.threshold,
            slow_factor=self.slow_factor,
            graph=self._graph(total),
            heat_map=self._heat_map(operations),
            folded={_frames(keys): ns for keys, (ns, _) in self.paths.items() if ns},
            what_if=tuple(what_if),
        )

    def _hop(
        self,
        key: HopKey,
        series: _Series,
        total: int,
        endpoint_p95: int,
        baseline: Mapping[HopKey, int] | None,
    ) -> HopStat:
        caller, callee, external = key
        spread, exemplar = series.spread()
        share = _share(spread.total, total)
        reasons = []
        if share >= self.threshold and spread.total > 0:
            what = "an external system" if external else "an instrumented service"
            reasons.append(
                f"{caller} → {callee} ({what}) holds {format_share(share)} of the endpoint's "
                f"latency on the critical path ({format_ns(spread.total)} over "
                f"{len(self.trace_ids)} traces, p95 {format_ns(spread.p95)})"
            )
        if baseline is not None:
            before = baseline.get(key)
            if (
                before is None
                and spread.p50 >= max(1, TAIL_FLOOR * endpoint_p95)
                # in a tenth of the traces at least: one trace that lost a span is no fault
                and series.critical_in >= NEW_HOP_SHARE * len(self.trace_ids)
            ):
                # a hop the other window never waited on: a new dependency on the path
                # (a cache that stopped answering, a pool that makes requests queue)
                reasons.append(
                    f"new on the critical path: its p50 CP time is {format_ns(spread.p50)}, "
                    "and it was not on the critical path in the other window"
                )
            elif (
                before is not None
                and spread.p50 > self.slow_factor * before
                and (spread.p50 - before >= TAIL_FLOOR * endpoint_p95)
            ):
                reasons.append(
                    f"its p50 CP time {format_ns(spread.p50)} is "
                    f"{_times(spread.p50, before)} its p50 in the other window "
                    f"({format_ns(before)})"
                )
        elif spread.p95 > self.slow_factor * spread.p50 and (
            spread.p95 - spread.p50 >= TAIL_FLOOR * endpoint_p95
        ):
            if spread.p50 == 0:
                reasons.append(
                    f"slow in the tail: usually off the critical path, yet critical in "
                    f"{series.critical_in} of {len(self.trace_ids)} traces with a p95 CP time "
                    f"of {format_ns(spread.p95)}"
                )
            else:
                reasons.append(
                    f"slow in the tail: its p95 CP time {format_ns(spread.p95)} is "
                    f"{_times(spread.p95, spread.p50)} its p50 ({format_ns(spread.p50)})"
                )
        return HopStat(
            caller,
            callee,
            external,
            spread,
            share,
            series.critical_in,
            len(series.ns),
            bool(reasons),
            "; ".join(reasons),
            self.trace_ids[exemplar] if exemplar >= 0 else "",
        )

    def _operation(self, key: OpKey, series: _Series, total: int) -> OperationStat:
        spread, exemplar = series.spread()
        return OperationStat(
            key[0],
            key[1],
            spread,
            _share(spread.total, total),
            series.critical_in,
            len(series.ns),
            self.trace_ids[exemplar] if exemplar >= 0 else "",
        )

    def _warnings(self, n: int) -> list[AggregateWarning]:
        out = list(self.problems)
        for code, count in sorted(self.warning_counts.items()):
            out.append(
                AggregateWarning(
                    code,
                    f"{count} of {n} traces carry a {code!r} warning; open one with "
                    "`obskit analyze --trace-id` to see it",
                    tuple(self.warning_traces[code]),
                )
            )
        return out

    def _graph(self, total: int) -> AggregateGraph:
        nodes = [
            NodeStat(
                name,
                False,
                self.span_counts[name],
                self.services[name],
                _share(self.services[name], total),
            )
            for name in sorted(self.span_counts)
        ]
        externals = sorted({k[1] for k in self.edges if k[2]} - self.span_counts.keys())
        nodes += [
            NodeStat(name, True, 0, self.services[name], _share(self.services[name], total))
            for name in externals
        ]
        edges = [
            EdgeStat(caller, callee, external, calls, errors, summary(durations), cp)
            for (caller, callee, external), (calls, errors, cp, durations) in self.edges.items()
        ]
        edges.sort(key=lambda e: (-e.critical_ns, e.caller, e.callee))
        return AggregateGraph(tuple(nodes), tuple(edges))

    def _heat_map(self, operations: Sequence[OperationStat]) -> HeatMap:
        """The top operations × up to HEAT_COLUMNS traces spread evenly over the latency
        distribution (fastest left, slowest right)."""
        n = len(self.trace_ids)
        order = sorted(range(n), key=self.durations.__getitem__)
        if n > HEAT_COLUMNS:
            order = [order[round(i * (n - 1) / (HEAT_COLUMNS - 1))] for i in range(HEAT_COLUMNS)]
        rows = [(o.service, o.operation) for o in operations[:HEAT_ROWS]]
        wanted = {position: column for column, position in enumerate(order)}
        cells = []
        for key in rows:
            series = self.operations[key]
            row = [0] * len(order)
            for position, ns in zip(series.at, series.ns, strict=True):
                column = wanted.get(position)
                if column is not None:
                    row[column] += ns
            cells.append(tuple(row))
        return HeatMap(
            tuple(rows),
            tuple(self.trace_ids[p] for p in order),
            tuple(self.durations[p] for p in order),
            tuple(cells),
        )

    def _what_ifs(
        self, before: dict[str, int]
    ) -> tuple[list[WhatIfResult], list[AggregateWarning]]:
        out, unmatched = [], []
        for what, projected, (traces, spans, _cut, bound) in zip(
            self.what_ifs, self.projected, self.what_if_counts, strict=True
        ):
            saved = sum(self.durations) - sum(projected)
            out.append(
                WhatIfResult(
                    what.target,
                    what.text,
                    traces,
                    spans,
                    dict(before),
                    summary(projected),
                    saved,
                    bound,
                )
            )
            if not spans and self.trace_ids:
                unmatched.append(
                    AggregateWarning(
                        "what-if-no-match",
                        f"--what-if {what.target}={what.text}: no span of these traces "
                        f"matches {what.target!r} (a callee, a service or an operation name)",
                    )
                )
        return out, unmatched

    def baseline(self) -> dict[HopKey, int]:
        """Each hop's p50 CP time: the baseline another window is compared against."""
        out = {}
        for key, series in self.hops.items():
            out[key] = percentile(sorted(series.ns), 50)
        return out


def _frames(keys: tuple[OpKey, ...]) -> tuple[str, ...]:
    return tuple(f"{service}: {operation}" for service, operation in keys)


def _share(ns: int, total: int) -> float:
    return ns / total if total > 0 else 0.0


NEW_HOP_SHARE = 0.1


def _times(value: int, base: int) -> str:
    return f"{value / base:.1f}×" if base > 0 else "many times"
