"""The whole aggregate run: find the traces, fetch them, sample each, build the report.

:func:`aggregate_traces` is the library entry point for traces already in hand;
:func:`aggregate_source` searches and fetches first (Jaeger, Tempo, the embedded backend, or
files). Traces are consumed one at a time and dropped after sampling, so memory holds the
aggregate's numbers and at most the traces in flight.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from obskit.aggregate.aggregate import DEFAULT_SLOW_FACTOR, DEFAULT_THRESHOLD, Aggregator
from obskit.aggregate.fetch import DEFAULT_CONCURRENCY, Failure, Progress, fetch_traces
from obskit.aggregate.report import AggregateReport
from obskit.aggregate.sample import Endpoint, take
from obskit.aggregate.search import (
    LINE_WINDOW,
    Query,
    read_files,
    search_jaeger,
    search_tempo,
    trace_files,
)
from obskit.aggregate.whatif import WhatIf
from obskit.gcpause import gc_paused
from obskit.model import Trace
from obskit.sources import TraceSource


def new_aggregator(
    endpoint: Endpoint,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    slow_factor: float = DEFAULT_SLOW_FACTOR,
    what_ifs: Sequence[WhatIf] = (),
) -> Aggregator:
    return Aggregator(endpoint, threshold=threshold, slow_factor=slow_factor, what_ifs=what_ifs)


def consume(
    aggregator: Aggregator,
    traces: Iterable[Trace],
    *,
    external_names: Mapping[str, str] | None = None,
    limit: int | None = None,
    window: tuple[int, int] | None = None,
) -> None:
    """Sample every trace into ``aggregator``: traces without the endpoint are counted and
    skipped; ``window`` (start_ns, end_ns) keeps traces whose endpoint span starts in it;
    ``limit`` stops after that many analysed traces."""
    endpoint, what_ifs = aggregator.endpoint, aggregator.what_ifs
    missing: list[str] = []
    outside = 0
    with gc_paused():  # no cycles are made; the collector would only rescan the aggregate
        for trace in traces:
            aggregator.found += 1
            outcome = take(trace, endpoint, external_names, what_ifs, window)
            if outcome is None:
                outside += 1
            elif isinstance(outcome, str):
                missing.append(outcome)
            else:
                aggregator.add(outcome)
                if limit is not None and len(aggregator.trace_ids) >= limit:
                    break
    report_skipped(aggregator, missing, outside)


def report_skipped(aggregator: Aggregator, missing: Sequence[str], outside: int) -> None:
    """The warnings about traces that were read and not counted."""
    endpoint = aggregator.endpoint
    if missing:
        what = endpoint.service or "a root"
        if endpoint.operation:
            what += f" {endpoint.operation}"
        aggregator.problem(
            "no-endpoint",
            f"{len(missing)} trace(s) have no span of {what} where a request enters it "
            "(or it is asynchronous); they are not counted",
            missing,
        )
    if outside:
        aggregator.problem(
            "outside-window",
            f"{outside} trace(s) started outside the time window; they are not counted",
        )


def aggregate_traces(
    traces: Iterable[Trace],
    endpoint: Endpoint | None = None,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    slow_factor: float = DEFAULT_SLOW_FACTOR,
    what_ifs: Sequence[WhatIf] = (),
    external_names: Mapping[str, str] | None = None,
    baseline: Mapping | None = None,
) -> AggregateReport:
    """The aggregate report of ``traces`` (any iterable: it is consumed once)."""
    aggregator = new_aggregator(
        endpoint or Endpoint(), threshold=threshold, slow_factor=slow_factor, what_ifs=what_ifs
    )
    consume(aggregator, traces, external_names=external_names)
    return aggregator.report(baseline=baseline)


def report_failures(aggregator: Aggregator, failures: Sequence[Failure], found: int) -> None:
    if not failures:
        return
    first = failures[0]
    aggregator.problem(
        "fetch-failed",
        f"{len(failures)} of {found} traces could not be fetched and are not counted; "
        f"the first: {first.message}",
        [f.trace_id for f in failures],
    )


def collect(
    aggregator: Aggregator,
    source: TraceSource,
    query: Query,
    *,
    external_names: Mapping[str, str] | None = None,
    file_window: tuple[int, int] | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: Progress | None = None,
    on_found: Callable[[int, str], None] | None = None,
    workers: int = 1,
) -> None:
    """Search ``source`` for ``query``'s traces, fetch them and feed ``aggregator``. Files
    are read by ``workers`` processes (:mod:`obskit.aggregate.pool`; 1: in this one)."""
    backend = getattr(source, "backend", "file")
    if backend == "file":
        path = getattr(source, "path", "-")
        files = trace_files(path) if path != "-" and workers > 1 else []
        # workers read lines again by their offset: regular files only (not a pipe)
        if files and all(f.is_file() for f in files):
            from obskit.aggregate.pool import aggregate_files

            aggregate_files(
                aggregator,
                files,
                workers=workers,
                line_window=LINE_WINDOW,
                external_names=external_names,
                limit=query.limit,
                window=file_window,
            )
            return
        if path == "-":
            import sys

            from obskit.ingest import read_traces

            traces: Iterable[Trace] = read_traces(sys.stdin.buffer, window=LINE_WINDOW)
        else:
            traces = read_files(path)
        consume(
            aggregator,
            traces,
            external_names=external_names,
            limit=query.limit,
            window=file_window,
        )
        return
    url = source.url  # type: ignore[attr-defined]
    client = source.client  # type: ignore[attr-defined]
    found = (search_tempo if backend == "Tempo" else search_jaeger)(client, url, query)
    if on_found:
        on_found(len(found.summaries), found.api)
    whole = [found.traces[i] for i in found.trace_ids if i in found.traces]
    wanted = [i for i in found.trace_ids if i not in found.traces]
    failures: list[Failure] = []
    fetched = (
        fetch_traces(source, wanted, concurrency=concurrency, progress=progress, failures=failures)
        if wanted
        else iter(())
    )
    consume(aggregator, _chain(whole, fetched), external_names=external_names)
    report_failures(aggregator, failures, len(found.summaries))
    aggregator.found = max(aggregator.found, len(found.summaries))
    if not found.summaries:
        aggregator.problem(
            "no-traces",
            f"{found.api} found no trace of {query.service}"
            + (f" {query.operation}" if query.operation else "")
            + " in the time window",
        )


def _chain(first: list[Trace], rest: Iterable[Trace]) -> Iterable[Trace]:
    yield from first
    first.clear()
    yield from rest
