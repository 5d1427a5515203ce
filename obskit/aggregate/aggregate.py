"""Many traces in, one :class:`AggregateReport` out (CRISP-style; critical-path.md §7).

:class:`Aggregator` takes trace samples one at a time and keeps only numbers that **merge**:
per key (a hop ``caller → callee``, a ``(service, operation)``) a count, a total, a quantile
sketch (:mod:`obskit.aggregate.sketch`) and its exemplar. Two aggregators of any two sets of
traces merge (:meth:`Aggregator.merge`) into the aggregator of both, and the merge is
associative and commutative: the report does not depend on how the traces were split over
processes or machines, nor on the order partial results come back in. Memory grows with the
keys, not with the traces.

What the figures mean:

* **CP time p50/p95/p99** of a key: nearest-rank percentiles over the traces in which the key
  occurred (a hop that was called but waited on by nobody counts as 0 in that trace), read
  from a sketch, within ±1 % of the exact value (``sketch.ACCURACY``); ``total`` sums it over
  all traces, exactly. Ranking (``hops``, ``operations``) is by ``total``: bottom-up, what the
  endpoint waited on most, all traces together.
* **share**: the key's total CP time over the sum of the endpoint's latencies.
* **critical_in**: traces in which the key held CP time.
* **exemplar_trace_id**: the trace in which the key held the most CP time (the tail a user
  wants to open); among ties, the smallest trace id.
* **flagged** (hops): ``share >= threshold``, or the hop is **slow against its own
  baseline**: its p95 CP time is more than ``slow_factor`` × its p50 (its typical cost)
  and the excess is at least 5 % of the endpoint's p95 latency (so that a microsecond hop
  that doubles is not news). With ``--compare``, the baseline is the hop's p50 in the other
  window, and "its CP time" is its p50 in this one, and its mean CP time per trace must have
  grown by the factor too (a hop racing a parallel call has a p50 that flips between 0 and its
  cost from one window to the next): a hop flagged that way got slower between the windows.
* **heat map**: its columns come from a sample of at most ``HEAT_SAMPLE`` traces, the ones
  whose trace ids hash lowest (the same sample however the traces were split).
* the trace ids a warning names are the smallest ``WARNING_IDS`` of those it is about.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from obskit.aggregate import paths as paths_module
from obskit.aggregate.paths import CallPaths, hash_rank
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
from obskit.aggregate.sketch import ACCURACY, Quantiles
from obskit.aggregate.whatif import WhatIf
from obskit.units import format_ns, format_share

DEFAULT_THRESHOLD = 0.2
DEFAULT_SLOW_FACTOR = 2.0
TAIL_FLOOR = 0.05  # a tail excess below 5 % of the endpoint's p95 is not flagged
PATH_LIMIT = 20  # call paths listed in the report (folded output has them all, up to paths.LIMIT)
HEAT_ROWS = 15
HEAT_COLUMNS = 120
HEAT_SAMPLE = 1000  # traces kept for the heat map's columns
WARNING_IDS = 5  # trace ids kept per warning


@dataclass(frozen=True, slots=True)
class HopBaseline:
    """A hop's CP time in the other window of ``--compare``."""

    p50: int
    mean_ns: float  # over all of that window's traces, as :mod:`obskit.aggregate.compare` ranks


class _Series:
    """One key over the traces it occurred in: count, total, traces it was critical in, a
    quantile sketch, and the exemplar (most CP time, then smallest trace id)."""

    __slots__ = ("critical_in", "exemplar", "exemplar_ns", "quantiles", "total")

    def __init__(self) -> None:
        self.quantiles = Quantiles()
        self.total = 0
        self.critical_in = 0
        self.exemplar = ""
        self.exemplar_ns = -1

    @property
    def count(self) -> int:
        return self.quantiles.count

    def add(self, trace_id: str, ns: int) -> None:
        self.quantiles.add(ns)
        if ns:
            self.total += ns
            self.critical_in += 1
        if ns > self.exemplar_ns or (ns == self.exemplar_ns and trace_id < self.exemplar):
            self.exemplar, self.exemplar_ns = trace_id, ns

    def merge(self, other: _Series) -> None:
        self.quantiles.merge(other.quantiles)
        self.total += other.total
        self.critical_in += other.critical_in
        ns = other.exemplar_ns
        if ns > self.exemplar_ns or (ns == self.exemplar_ns and other.exemplar < self.exemplar):
            self.exemplar, self.exemplar_ns = other.exemplar, ns

    def spread(self) -> Spread:
        q = self.quantiles
        return Spread(q.percentile(50), q.percentile(95), q.percentile(99), self.total)


def _smallest(ids: Iterable[str], more: Iterable[str]) -> list[str]:
    """The WARNING_IDS smallest distinct trace ids of both."""
    return heapq.nsmallest(WARNING_IDS, set(ids).union(more))


class Aggregator:
    """Feed :class:`TraceSample` objects with :meth:`add`; :meth:`report` builds the report.

    Picklable (worker processes and Dask workers send theirs back), and :meth:`merge`
    combines partial results in any grouping and order."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        slow_factor: float = DEFAULT_SLOW_FACTOR,
        what_ifs: Sequence[WhatIf] = (),
        path_limit: int = paths_module.LIMIT,
    ) -> None:
        self.endpoint = endpoint
        self.threshold = threshold
        self.slow_factor = slow_factor
        self.what_ifs = tuple(what_ifs)
        self.traces = 0
        self.total_duration = 0
        self.durations = Quantiles()
        self.hops: dict[HopKey, _Series] = {}
        self.operations: dict[OpKey, _Series] = {}
        self.paths = CallPaths(path_limit)
        self.services: Counter[str] = Counter()
        self.span_counts: Counter[str] = Counter()
        self.edges: dict[HopKey, list[Any]] = {}  # [calls, errors, cp, Quantiles of durations]
        self.projected = [Quantiles() for _ in self.what_ifs]
        self.projected_total = [0 for _ in self.what_ifs]
        self.what_if_counts = [[0, 0, 0, 0] for _ in self.what_ifs]  # traces, spans, cut, bound
        # the heat map's sample: (rank, trace id, duration, CP ns per operation)
        self.heat: list[tuple[int, str, int, tuple[tuple[OpKey, int], ...]]] = []
        self.heat_cut = 1 << 64  # ranks at or above this cannot enter the sample
        self.warning_traces: dict[str, list[str]] = {}
        self.warning_counts: Counter[str] = Counter()
        self.missing = 0  # traces without the endpoint
        self.missing_ids: list[str] = []
        self.outside = 0  # traces outside the time window
        self.bad = 0  # traces the reader rejected (a partition of a distributed run)
        self.bad_ids: list[str] = []
        self.bad_first = ""  # the smallest such message, to name one
        self.problems: list[AggregateWarning] = []
        self.found = 0

    def fresh(self) -> Aggregator:
        """An empty aggregator with the same settings: a partial for other traces."""
        return Aggregator(
            self.endpoint,
            threshold=self.threshold,
            slow_factor=self.slow_factor,
            what_ifs=self.what_ifs,
            path_limit=self.paths.limit,
        )

    # -- input ---------------------------------------------------------------------------

    def add(self, sample: TraceSample) -> None:
        trace_id = sample.trace_id
        self.traces += 1
        self.total_duration += sample.duration_ns
        self.durations.add(sample.duration_ns)
        keyed: tuple[tuple[dict[Any, _Series], Mapping[Any, int]], ...] = (
            (self.hops, sample.hops),
            (self.operations, sample.operations),
        )
        for table, values in keyed:
            for key, ns in values.items():
                series = table.get(key)
                if series is None:
                    series = table[key] = _Series()
                series.add(trace_id, ns)
        # call paths need no percentiles: a total and a count each, however many traces
        add_path = self.paths.add
        for path_key, ns in sample.paths.items():
            add_path(path_key, ns)
        self.services.update(sample.services)
        self.span_counts.update(sample.span_counts)
        for key, (calls, errors, cp, *durations) in sample.edges.items():
            edge = self.edges.get(key)
            if edge is None:
                edge = self.edges[key] = [0, 0, 0, Quantiles()]
            edge[0] += calls
            edge[1] += errors
            edge[2] += cp
            edge[3].extend(durations)
        for code in set(sample.warnings):
            self.warning_counts[code] += 1
            ids = self.warning_traces.setdefault(code, [])
            if len(ids) < WARNING_IDS or trace_id < ids[-1]:
                ids[:] = _smallest(ids, (trace_id,))
        for k, (duration, spans, cut, bound) in enumerate(sample.projected):
            self.projected[k].add(duration)
            self.projected_total[k] += duration
            if spans:
                counts = self.what_if_counts[k]
                counts[0] += 1
                counts[1] += spans
                counts[2] += cut
                counts[3] += bound
        rank = hash_rank(trace_id)  # the heat map's sample
        if rank <= self.heat_cut:
            self.heat.append((rank, trace_id, sample.duration_ns, tuple(sample.operations.items())))
            if len(self.heat) >= 2 * HEAT_SAMPLE:
                self._trim_heat()

    def _trim_heat(self) -> None:
        if len(self.heat) > HEAT_SAMPLE:
            self.heat.sort()
            del self.heat[HEAT_SAMPLE:]
            self.heat_cut = self.heat[-1][0]

    def skipped(self, missing: Sequence[str] = (), outside: int = 0) -> None:
        """Traces read and not counted: without the endpoint, outside the time window."""
        self.missing += len(missing)
        self.missing_ids = _smallest(self.missing_ids, missing)
        self.outside += outside

    def rejected(self, trace_ids: Sequence[str], message: str, count: int = 1) -> None:
        """``count`` traces (or lines) the reader rejected, in a run that goes on without them."""
        self.bad += count
        self.bad_ids = _smallest(self.bad_ids, trace_ids)
        if message and (not self.bad_first or message < self.bad_first):
            self.bad_first = message

    def merge(self, other: Aggregator) -> None:
        """Fold in ``other``, an aggregator of other traces: the result is the aggregator of
        both sets, whatever the grouping or order of merges. ``other`` is used up: its
        sketches and lists may move over."""
        self.traces += other.traces
        self.total_duration += other.total_duration
        self.durations.merge(other.durations)
        keyed: tuple[tuple[dict[Any, _Series], Mapping[Any, _Series]], ...] = (
            (self.hops, other.hops),
            (self.operations, other.operations),
        )
        for table, theirs in keyed:
            get = table.get
            for key, series in theirs.items():
                mine = get(key)
                if mine is None:
                    table[key] = series
                else:
                    mine.merge(series)
        self.paths.merge(other.paths)
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
            edge[3].merge(theirs_edge[3])
        for code, count in other.warning_counts.items():
            self.warning_counts[code] += count
            ids = self.warning_traces.setdefault(code, [])
            ids[:] = _smallest(ids, other.warning_traces[code])
        for k, theirs_projected in enumerate(other.projected):
            self.projected[k].merge(theirs_projected)
            self.projected_total[k] += other.projected_total[k]
        for counts, theirs_counts in zip(self.what_if_counts, other.what_if_counts, strict=True):
            for k, count in enumerate(theirs_counts):
                counts[k] += count
        self.heat += other.heat
        self.heat_cut = min(self.heat_cut, other.heat_cut)
        self._trim_heat()
        self.skipped(other.missing_ids, other.outside)
        self.missing += other.missing - len(other.missing_ids)
        self.rejected(other.bad_ids, other.bad_first, other.bad)
        self.problems += other.problems
        self.found += other.found

    def problem(self, code: str, message: str, trace_ids: Sequence[str] = ()) -> None:
        """A warning about the run itself (failed fetches, partitions skipped)."""
        self.problems.append(
            AggregateWarning(code, message, tuple(sorted(trace_ids)[:WARNING_IDS]))
        )

    # -- output --------------------------------------------------------------------------

    def report(self, *, baseline: Mapping[HopKey, HopBaseline] | None = None) -> AggregateReport:
        """``baseline``: hop → its CP time in another window (``--compare``)."""
        n = self.traces
        total = self.total_duration
        duration = self.durations.summary()
        hops = sorted(
            (
                self._hop(key, series, total, duration["p95"], baseline)
                for key, series in self.hops.items()
            ),
            key=lambda h: (-h.critical_ns.total, h.caller, h.callee, h.external),
        )
        operations = sorted(
            (self._operation(key, series, total) for key, series in self.operations.items()),
            key=lambda o: (-o.critical_ns.total, o.service, o.operation),
        )
        what_if, unmatched = self._what_ifs(duration)
        self.paths.settle()
        table = self.paths.table
        top_paths = heapq.nlargest(
            PATH_LIMIT, table.items(), key=lambda item: (item[1][0], item[0])
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
            folded=self._folded(),
            accuracy=ACCURACY,
            what_if=tuple(what_if),
        )

    def _hop(
        self,
        key: HopKey,
        series: _Series,
        total: int,
        endpoint_p95: int,
        baseline: Mapping[HopKey, HopBaseline] | None,
    ) -> HopStat:
        caller, callee, external = key
        spread = series.spread()
        share = _share(spread.total, total)
        reasons = []
        if share >= self.threshold and spread.total > 0:
            what = "an external system" if external else "an instrumented service"
            reasons.append(
                f"{caller} → {callee} ({what}) holds {format_share(share)} of the endpoint's "
                f"latency on the critical path ({format_ns(spread.total)} over "
                f"{self.traces} traces, p95 {format_ns(spread.p95)})"
            )
        if baseline is not None:
            before = baseline.get(key)
            if (
                before is None
                and spread.p50 >= max(1, TAIL_FLOOR * endpoint_p95)
                # in a tenth of the traces at least: one trace that lost a span is no fault
                and series.critical_in >= NEW_HOP_SHARE * self.traces
            ):
                # a hop the other window never waited on: a new dependency on the path
                # (a cache that stopped answering, a pool that makes requests queue)
                reasons.append(
                    f"new on the critical path: its p50 CP time is {format_ns(spread.p50)}, "
                    "and it was not on the critical path in the other window"
                )
            elif (
                before is not None
                and spread.p50 > self.slow_factor * before.p50
                and (spread.p50 - before.p50 >= TAIL_FLOOR * endpoint_p95)
                # and the mean: a hop racing a parallel call is critical in about half the
                # traces, so its p50 flips between 0 and its cost from one window to the next
                and spread.total / max(self.traces, 1) > self.slow_factor * before.mean_ns
            ):
                reasons.append(
                    f"its p50 CP time {format_ns(spread.p50)} is "
                    f"{_times(spread.p50, before.p50)} its p50 in the other window "
                    f"({format_ns(before.p50)})"
                )
        elif spread.p95 > self.slow_factor * spread.p50 and (
            spread.p95 - spread.p50 >= TAIL_FLOOR * endpoint_p95
        ):
            if spread.p50 == 0:
                reasons.append(
                    f"slow in the tail: usually off the critical path, yet critical in "
                    f"{series.critical_in} of {self.traces} traces with a p95 CP time "
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
            series.count,
            bool(reasons),
            "; ".join(reasons),
            series.exemplar,
        )

    def _paths_sampled(self) -> AggregateWarning:
        paths = self.paths
        return AggregateWarning(
            "paths-sampled",
            f"about {paths.distinct():,} distinct call paths, past the limit of "
            f"{paths.limit:,}: the paths listed (and in folded output) are a sample by hash "
            f"(each one's figures exact); the others' "
            f"{format_share(_share(paths.other_ns, self.total_duration))} of the critical-path "
            f"time is under {paths_module.OTHER!r}. Span names that carry ids "
            "(`GET /users/8841`) cause this; name spans by route instead",
        )

    def _operation(self, key: OpKey, series: _Series, total: int) -> OperationStat:
        spread = series.spread()
        return OperationStat(
            key[0],
            key[1],
            spread,
            _share(spread.total, total),
            series.critical_in,
            series.count,
            series.exemplar,
        )

    def _folded(self) -> dict[tuple[str, ...], int]:
        folded = {_frames(keys): ns for keys, (ns, _) in sorted(self.paths.table.items()) if ns}
        if self.paths.other_ns:
            folded[(paths_module.OTHER,)] = self.paths.other_ns
        return folded

    def _warnings(self, n: int) -> list[AggregateWarning]:
        out = []
        if self.paths.sampled:
            out.append(self._paths_sampled())
        if self.missing:
            what = self.endpoint.service or "a root"
            if self.endpoint.operation:
                what += f" {self.endpoint.operation}"
            out.append(
                AggregateWarning(
                    "no-endpoint",
                    f"{self.missing} trace(s) have no span of {what} where a request enters "
                    "it (or it is asynchronous); they are not counted",
                    tuple(self.missing_ids),
                )
            )
        if self.outside:
            out.append(
                AggregateWarning(
                    "outside-window",
                    f"{self.outside} trace(s) started outside the time window; they are not "
                    "counted",
                )
            )
        if self.bad:
            out.append(
                AggregateWarning(
                    "bad-trace",
                    f"{self.bad} trace(s) could not be read and are not counted; "
                    f"one: {self.bad_first}",
                    tuple(self.bad_ids),
                )
            )
        out += sorted(self.problems, key=lambda w: (w.code, w.message, w.trace_ids))
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
            EdgeStat(caller, callee, external, calls, errors, durations.summary(), cp)
            for (caller, callee, external), (calls, errors, cp, durations) in self.edges.items()
        ]
        edges.sort(key=lambda e: (-e.critical_ns, e.caller, e.callee, e.external))
        return AggregateGraph(tuple(nodes), tuple(edges))

    def _heat_map(self, operations: Sequence[OperationStat]) -> HeatMap:
        """The top operations × up to HEAT_COLUMNS traces of the sample spread evenly over its
        latency distribution (fastest left, slowest right)."""
        self._trim_heat()
        sample = sorted(self.heat, key=lambda entry: (entry[2], entry[1]))
        n = len(sample)
        if n > HEAT_COLUMNS:
            sample = [sample[round(i * (n - 1) / (HEAT_COLUMNS - 1))] for i in range(HEAT_COLUMNS)]
        rows = [(o.service, o.operation) for o in operations[:HEAT_ROWS]]
        cells = []
        for key in rows:
            row = []
            for entry in sample:
                row.append(sum(ns for op, ns in entry[3] if op == key))
            cells.append(tuple(row))
        return HeatMap(
            tuple(rows),
            tuple(entry[1] for entry in sample),
            tuple(entry[2] for entry in sample),
            tuple(cells),
        )

    def _what_ifs(
        self, before: dict[str, int]
    ) -> tuple[list[WhatIfResult], list[AggregateWarning]]:
        out, unmatched = [], []
        for what, projected, projected_total, (traces, spans, _cut, bound) in zip(
            self.what_ifs, self.projected, self.projected_total, self.what_if_counts, strict=True
        ):
            saved = self.total_duration - projected_total
            out.append(
                WhatIfResult(
                    what.target,
                    what.text,
                    traces,
                    spans,
                    dict(before),
                    projected.summary(),
                    saved,
                    bound,
                )
            )
            if not spans and self.traces:
                unmatched.append(
                    AggregateWarning(
                        "what-if-no-match",
                        f"--what-if {what.target}={what.text}: no span of these traces "
                        f"matches {what.target!r} (a callee, a service or an operation name)",
                    )
                )
        return out, unmatched

    def baseline(self) -> dict[HopKey, HopBaseline]:
        """Each hop's p50 and mean CP time: the baseline another window is compared against."""
        n = max(self.traces, 1)
        return {
            key: HopBaseline(series.quantiles.percentile(50), series.total / n)
            for key, series in self.hops.items()
        }


def _frames(keys: tuple[OpKey, ...]) -> tuple[str, ...]:
    return tuple(f"{service}: {operation}" for service, operation in keys)


def _share(ns: int, total: int) -> float:
    return ns / total if total > 0 else 0.0


NEW_HOP_SHARE = 0.1


def _times(value: int, base: int) -> str:
    return f"{value / base:.1f}×" if base > 0 else "many times"
