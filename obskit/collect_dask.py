"""``obskit analyze --service S --file 'GLOB or URL' --scheduler tcp://HOST:8786``: the
aggregate on a Dask distributed cluster, for more traces than one machine reads in time.

**Partitions.** Local files (paths the workers see too: a shared file system) are cut on
trace boundaries by :func:`obskit.sources.batches.file_jobs`, the cutter the worker processes
use (``--workers``): the client scans the lines' trace ids, and a partition is a run of
batches of whole traces, by byte range of one file. URLs (``s3://``, ``gs://``, anything
fsspec opens) are one partition per object, read by the worker where it lies. The client
never parses a span.

**On the workers.** Each partition is read and sampled into an
:class:`~obskit.aggregate.aggregate.Aggregator` partial; partials merge pairwise on the
workers as they come in (a tree), and only the last one travels to the client. Merging is
associative and commutative, so the report is the one ``--workers`` gives for the same
traces, whatever the partitions and the order they finish in.

**Failure.** A line the reader rejects costs only its own traces: they are counted and named
in the report's warnings (``bad-trace``). A partition that still fails after Dask's retries
(``RETRIES``; a lost worker's tasks are rerun by the scheduler) is skipped, and the report
says so (``partition-skipped``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from obskit.aggregate.aggregate import Aggregator
from obskit.aggregate.sample import TraceSample, take
from obskit.errors import InputError, MissingDependencyError
from obskit.gcpause import gc_paused
from obskit.model import Trace
from obskit.sources.batches import FileBatch, LinesBatch, Rejected, UrlBatch, file_jobs
from obskit.sources.files import LINE_WINDOW, trace_files

INSTALL_HINT = "pip install 'obskit[dask]'"
PARTITION_TRACES = 5000  # traces per partition: large enough that a task costs >> its overhead
PARTITION_BYTES = 64 << 20
IN_FLIGHT_PER_THREAD = 3  # partitions queued per worker thread
RETRIES = 2

Batch = LinesBatch | FileBatch | UrlBatch


@dataclass(frozen=True, slots=True)
class Partition:
    """Whole traces a worker reads itself: batches of one file (or one object)."""

    where: str  # for messages: the file and byte range, or the URL
    batches: tuple[Batch, ...]


@dataclass(slots=True)
class Settings:
    """What every partition is analysed with (sent along with it)."""

    aggregator: Aggregator  # an empty one: the endpoint, what-ifs, thresholds
    external_names: dict[str, str] = field(default_factory=dict)
    window: tuple[int, int] | None = None


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise MissingDependencyError(
            "--scheduler runs on Dask, which is not installed",
            hint=f"install it: {INSTALL_HINT}",
        ) from None
    return distributed


# -- on a worker -----------------------------------------------------------------------------


def analyse_partition(partition: Partition, settings: Settings) -> Aggregator:
    """One partition's traces as an aggregator partial (runs on a worker)."""
    partial = settings.aggregator.fresh()
    missing: list[str] = []
    outside = 0
    bad: list[str] = []
    bad_message = ""
    endpoint, names, what_ifs, window = (
        partial.endpoint,
        settings.external_names,
        partial.what_ifs,
        settings.window,
    )

    def record(trace: Trace) -> None:
        nonlocal outside, bad_message
        partial.found += 1
        try:
            outcome = take(trace, endpoint, names, what_ifs, window)
        except Exception as err:  # one trace that breaks the analysis must not end the run
            bad.append(trace.trace_id)
            message = f"{partition.where}: trace {trace.trace_id}: {type(err).__name__}: {err}"
            bad_message = min(bad_message, message) if bad_message else message
            return
        if isinstance(outcome, TraceSample):
            partial.add(outcome)
        elif outcome is None:
            outside += 1
        else:
            missing.append(outcome)

    with gc_paused():
        for batch in partition.batches:
            rejected = batch.read_lenient(record)
            _note_rejected(partial, rejected)
    partial.skipped(missing, outside)
    if bad:
        partial.rejected(bad, bad_message, len(bad))
    return partial


def _note_rejected(partial: Aggregator, rejected: Rejected) -> None:
    count = max(len(rejected.trace_ids), rejected.lines)
    if count:
        partial.found += len(rejected.trace_ids)
        partial.rejected(rejected.trace_ids, rejected.message, count)


def merge_partials(left: Aggregator, right: Aggregator) -> Aggregator:
    """Two partials as one (runs on a worker)."""
    left.merge(right)
    return left


# -- on the client ---------------------------------------------------------------------------


def partitions(
    path: str,
    *,
    window: int = LINE_WINDOW,
    passed_over: Callable[[str, int], None] | None = None,
) -> Iterator[Partition]:
    """The partitions of ``path`` (a file, directory, glob, or a URL fsspec expands), in
    order; ``passed_over(message, lines)`` hears, per file, of lines passed over while cutting
    (their trace ids could not be read)."""
    if "://" in path and not path.startswith("file://"):
        yield from _url_partitions(path, window)
        return
    files = trace_files(path.removeprefix("file://"))
    group: list[Batch] = []
    traces = size = first = last = 0
    stream: Any = None
    for job in file_jobs(files, window, lenient=True):
        if job.stream is not stream:
            if group:
                yield _partition(stream.path, first, last, group)
            _passed_over(stream, passed_over)
            group, traces, size, stream = [], 0, 0, job.stream
        batch = job.batch
        if batch is None:
            continue
        if isinstance(batch, LinesBatch):
            wheres = batch.lines.values()
            if not group:
                first = min((w[0] for w in wheres), default=0)
            last = max((w[0] + w[1] for w in wheres), default=last)
            traces += len(batch.pieces)
            size += sum(w[1] for w in wheres)
        else:
            traces = PARTITION_TRACES  # a file read whole is a partition of its own
        group.append(batch)
        if traces >= PARTITION_TRACES or size >= PARTITION_BYTES:
            yield _partition(stream.path, first, last, group)
            group, traces, size = [], 0, 0
    if group:
        yield _partition(stream.path, first, last, group)
    _passed_over(stream, passed_over)


def _passed_over(stream: Any, hear: Callable[[str, int], None] | None) -> None:
    if stream is not None and stream.skipped and hear is not None:
        _number, message = stream.bad
        hear(f"{stream.path}: {message}", stream.skipped)


def _partition(path: object, first: int, last: int, group: list[Batch]) -> Partition:
    if all(isinstance(b, FileBatch) for b in group):
        return Partition(str(path), tuple(group))
    return Partition(f"{path} bytes {first}-{last}", tuple(group))


def _url_partitions(url: str, window: int) -> Iterator[Partition]:
    try:
        import fsspec
    except ImportError:
        raise MissingDependencyError(
            f"{url}: reading URLs needs fsspec", hint=f"install it: {INSTALL_HINT}"
        ) from None
    try:
        opened = fsspec.open_files(url, "rb", expand=True)
    except (ImportError, ValueError) as err:  # e.g. s3fs or gcsfs not installed
        raise MissingDependencyError(
            f"{url}: {err}", hint="install the file system's package (s3fs, gcsfs)"
        ) from None
    names = sorted(f"{f.fs.unstrip_protocol(f.path)}" for f in opened)
    if not names:
        raise InputError(f"{url}: no such object")
    for name in names:
        yield Partition(name, (UrlBatch(name, window),))


@dataclass(slots=True)
class _Skipped:
    count: int = 0
    first: str = ""


def aggregate_on_dask(
    aggregator: Aggregator,
    path: str,
    *,
    scheduler: str,
    external_names: Mapping[str, str] | None = None,
    window: tuple[int, int] | None = None,
    progress: Callable[[int, int | None], None] | None = None,
    client: Any = None,
) -> None:
    """Analyse ``path``'s traces on the Dask cluster at ``scheduler`` (or on ``client``'s)
    and merge the result into ``aggregator``."""
    distributed = _distributed()
    own = client is None
    if own:
        try:
            client = distributed.Client(scheduler, timeout="30s", set_as_default=False)
        except OSError as err:
            raise InputError(f"--scheduler {scheduler}: cannot connect: {err}") from None
    try:
        result, skipped = _run(
            client, distributed, aggregator, path, external_names, window, progress
        )
    finally:
        if own:
            client.close()
    if result is not None:
        aggregator.merge(result)
    if skipped.count:
        aggregator.problem(
            "partition-skipped",
            f"{skipped.count} partition(s) failed on the workers after {RETRIES} retries and "
            f"were skipped; their traces are not counted; the first: {skipped.first}",
        )


def _run(
    client: Any,
    distributed: Any,
    aggregator: Aggregator,
    path: str,
    external_names: Mapping[str, str] | None,
    window: tuple[int, int] | None,
    progress: Callable[[int, int | None], None] | None,
) -> tuple[Aggregator | None, _Skipped]:
    settings = client.scatter(
        Settings(aggregator.fresh(), dict(external_names or {}), window), broadcast=True
    )
    threads = max(1, sum(client.nthreads().values()))
    most = IN_FLIGHT_PER_THREAD * threads
    skipped = _Skipped()
    where: dict[str, str] = {}  # partition futures' keys -> where they read
    cut = iter(partitions(path, passed_over=lambda message, n: aggregator.rejected([], message, n)))
    exhausted = False
    submitted = done = 0
    running = distributed.as_completed(loop=client.loop)
    held: Any = None  # a finished partial waiting for a partner to merge with
    in_flight = 0

    def top_up() -> None:
        nonlocal exhausted, submitted, in_flight
        while not exhausted and in_flight < most:
            partition = next(cut, None)
            if partition is None:
                exhausted = True
                return
            future = client.submit(
                analyse_partition, partition, settings, retries=RETRIES, pure=False
            )
            where[future.key] = partition.where
            running.add(future)
            submitted += 1
            in_flight += 1

    top_up()
    for future in running:
        if future.key in where:
            in_flight -= 1
            done += 1
            if progress is not None:
                progress(done, submitted if exhausted else None)
            if future.status == "error":
                skipped.count += 1
                if not skipped.first:
                    error = future.exception()
                    skipped.first = f"{where[future.key]}: {type(error).__name__}: {error}"
                del where[future.key]
                top_up()
                continue
            del where[future.key]
        if held is None:
            held = future
        else:
            running.add(client.submit(merge_partials, held, future, pure=False))
            held = None
        top_up()
    return (held.result() if held is not None else None), skipped
