"""An endpoint's traces from a source into an aggregate: what ``obskit analyze --service``
runs between parsing its options and rendering the report.

The orchestration lives here, between the rooms it joins: :mod:`obskit.sources` finds and
fetches (a backend search, then ``concurrency`` parallel fetches with progress; or files,
directories, globs and stdin, streamed), :mod:`obskit.aggregate` samples and merges (in this
process, or in ``workers`` processes over batches of whole traces cut from regular files).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import cast

from obskit.aggregate.aggregate import Aggregator
from obskit.aggregate.run import consume
from obskit.errors import InputError
from obskit.model import Trace
from obskit.sources import SearchSource, TraceSource
from obskit.sources.fetch import DEFAULT_CONCURRENCY, Failure, Progress, fetch_traces
from obskit.sources.files import LINE_WINDOW, FileSource, read_paths
from obskit.sources.query import Query


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
    are read by ``workers`` processes (:mod:`obskit.aggregate.pool`; 1: in this one);
    ``file_window`` (start_ns, end_ns) keeps the traces of files whose endpoint span starts
    in it (a backend search has the window in ``query``)."""
    if isinstance(source, FileSource):
        _collect_files(aggregator, source, query, external_names, file_window, workers)
        return
    # every source but a file source is a backend, which searches
    found = cast(SearchSource, source).search(query)
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


def collect_on_dask(
    aggregator: Aggregator,
    source: TraceSource,
    query: Query,
    *,
    scheduler: str,
    external_names: Mapping[str, str] | None = None,
    file_window: tuple[int, int] | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> None:
    """Feed ``aggregator`` with the traces of a file source's files (or URLs), analysed on
    the Dask cluster at ``scheduler`` (:mod:`obskit.collect_dask`, which loads Dask)."""
    if not isinstance(source, FileSource) or source.path == "-":
        raise InputError("--scheduler reads --file paths or URLs (not stdin, not a backend)")
    if query.limit is not None:
        raise InputError("--limit is not available with --scheduler: it analyses every trace")
    from obskit.collect_dask import aggregate_on_dask

    aggregate_on_dask(
        aggregator,
        source.path,
        scheduler=scheduler,
        external_names=external_names,
        window=file_window,
        progress=progress,
    )


def _collect_files(
    aggregator: Aggregator,
    source: FileSource,
    query: Query,
    external_names: Mapping[str, str] | None,
    window: tuple[int, int] | None,
    workers: int,
) -> None:
    files = source.files() if workers > 1 else None
    # workers read lines again by their offset: regular files only (not a pipe)
    if files and all(f.is_file() for f in files):
        # multiprocessing and the cutter load only when workers run
        from obskit.aggregate.pool import aggregate_batches
        from obskit.sources.batches import file_jobs

        aggregate_batches(
            aggregator,
            file_jobs(files, LINE_WINDOW),
            workers=workers,
            restart=lambda: read_paths(files, window=LINE_WINDOW),
            external_names=external_names,
            limit=query.limit,
            window=window,
        )
        return
    consume(
        aggregator,
        source.traces(window=LINE_WINDOW),
        external_names=external_names,
        limit=query.limit,
        window=window,
    )


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


def _chain(first: list[Trace], rest: Iterable[Trace]) -> Iterable[Trace]:
    yield from first
    first.clear()
    yield from rest
