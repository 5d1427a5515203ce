"""Aggregate mode on every core: worker processes read and analyse batches of traces, the
parent merges what they send back. ``obskit analyze --service S --file F --workers N``.

**What crosses the process boundary.** Parent → worker: a *batch* (:class:`Batch`), anything
picklable that reads its traces itself, in the worker (for files: where the lines of up to 48
whole traces are, see :mod:`obskit.sources.batches`). Worker → parent: an :class:`Aggregator`
of just that batch's traces -- counts, totals and a quantile sketch per hop and operation,
never spans -- which :meth:`Aggregator.merge` folds in. At most ``4 × workers`` batches are in
flight, so memory stays bounded however many traces there are. This module opens no file
and knows no format: :mod:`obskit.collect_dask` runs the same batches on a Dask cluster,
since ``Aggregator`` partial results merge in any grouping and order.

**The same report whatever the number of workers.** The aggregate does not depend on the
order traces reach it; ``--limit`` does (it keeps the first traces the reader yields), so
batches are merged in the order they were cut, and each job says at which line the reader
yields each of its traces (for ``--limit`` against a bad line).

**Errors.** A line the reader rejects ends the run with the reader's message (``FILE: line N:
...``), the same one as with ``--workers 1``: the first such line of the file, unless
``--limit`` was reached before the reader would have got to it. Workers send errors back as
data; a worker that dies or fails unexpectedly becomes one line (:class:`WorkerError`). A
batch whose lines were cut wrongly (``mismatch``) makes the run start over in one process,
over ``restart()``'s traces.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, Protocol

from obskit.aggregate.aggregate import Aggregator
from obskit.aggregate.run import consume, report_skipped
from obskit.aggregate.sample import Outcome, take
from obskit.errors import InputError, ObskitError
from obskit.gcpause import gc_paused
from obskit.model import Trace

IN_FLIGHT_PER_WORKER = 4  # jobs queued per worker: a busy parent does not starve them


class BatchEnd(Protocol):
    """How reading a batch ended (see :class:`obskit.sources.batches.BatchEnd`)."""

    @property
    def bad(self) -> tuple[int, str] | None: ...  # the first line the reader rejects
    @property
    def error(self) -> str | None: ...  # a whole input the reader rejects
    @property
    def mismatch(self) -> bool: ...  # cut wrongly: start over in one process


class Batch(Protocol):
    """Traces a worker reads itself: pickled to it, then ``read(record)`` calls ``record``
    with each trace, in order."""

    def read(self, record: Callable[[Trace], None]) -> BatchEnd: ...


class Stream(Protocol):
    """Where a run of batches comes from (a file), for messages and for stopping early: its
    first bad line as far as known, and a check of what was read ahead but not batched."""

    @property
    def path(self) -> object: ...
    @property
    def bad(self) -> tuple[int, str] | None: ...

    def note_bad(self, number: int, message: str) -> None: ...

    def check_held(self, upto: int | None) -> bool: ...


class Job(Protocol):
    """A batch, its stream, and at which line the reader yields each of its traces
    (``positions``; empty: not known, a whole file). ``batch`` None: the stream ended at a
    bad line."""

    @property
    def stream(self) -> Stream: ...
    @property
    def batch(self) -> Batch | None: ...
    @property
    def positions(self) -> Sequence[int | None]: ...


class WorkerError(ObskitError):
    """A worker process died or failed in a way that is not about the input."""


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


# -- in the worker ---------------------------------------------------------------------------

_SETTINGS: dict[str, Any] = {}


def _init_worker(settings: dict[str, Any]) -> None:
    _SETTINGS.clear()
    _SETTINGS.update(settings)


@dataclass(slots=True)
class Result:
    """A job's traces: as one batch :class:`Aggregator` (``outcomes`` None), or one outcome
    per trace in order (with ``--limit``: the parent must be able to stop at any trace)."""

    found: int = 0
    missing: list[str] = field(default_factory=list)
    outside: int = 0
    batch: Aggregator | None = None
    outcomes: list[Outcome] | None = None
    bad: tuple[int, str] | None = None  # the first line the reader rejects
    error: str | None = None  # a file the reader rejects (whole-file jobs)
    mismatch: bool = False  # a line held other trace ids than the parent read ahead


def _run_job(batch: Batch) -> Result:
    s = _SETTINGS
    per_trace = s["per_trace"]
    result = Result(outcomes=[] if per_trace else None)
    template: Aggregator = s["template"]
    if not per_trace:
        result.batch = template.fresh()
    endpoint, names, what_ifs, window = (
        template.endpoint,
        s["external_names"],
        template.what_ifs,
        s["window"],
    )

    def record(trace: Trace) -> None:
        _record(result, take(trace, endpoint, names, what_ifs, window))

    with gc_paused():
        end = batch.read(record)
    result.bad, result.error, result.mismatch = end.bad, end.error, end.mismatch
    return result


def _record(result: Result, outcome: Outcome) -> None:
    result.found += 1
    if result.outcomes is not None:
        result.outcomes.append(outcome)
    elif isinstance(outcome, str):
        result.missing.append(outcome)
    elif outcome is None:
        result.outside += 1
    else:
        assert result.batch is not None
        result.batch.add(outcome)


# -- in the parent ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Pending:
    job: Job
    future: Future[Result] | None = None


@dataclass(slots=True)
class _Tally:
    missing: list[str] = field(default_factory=list)
    outside: int = 0


class _Mismatch(Exception):
    """The trace ids read ahead from a line were not the reader's: the cut may be wrong."""


class _Stop(Exception):
    """Reading stops: ``--limit`` was reached at a trace the reader yields at line ``at``
    (``None``: at the end of the file), or a bad line was found (``at`` is then ignored)."""

    def __init__(self, stream: Stream, at: int | None, limit: bool) -> None:
        super().__init__()
        self.stream, self.at, self.limit = stream, at, limit


def aggregate_batches(
    aggregator: Aggregator,
    jobs: Generator[Job, None, None],
    *,
    workers: int,
    restart: Callable[[], Iterable[Trace]],
    external_names: Mapping[str, str] | None = None,
    limit: int | None = None,
    window: tuple[int, int] | None = None,
) -> None:
    """Feed the traces of ``jobs``' batches into ``aggregator`` with ``workers`` processes,
    exactly as :func:`obskit.aggregate.run.consume` over ``restart()`` does in one process
    (which it falls back to if a batch was cut wrongly)."""
    settings = {
        "external_names": dict(external_names or {}),
        "window": window,
        "per_trace": limit is not None,
        "template": aggregator.fresh(),
    }
    # the traces go into a fresh aggregator first, so a fallback can start over
    mine = aggregator.fresh()
    tally = _Tally()
    pending: deque[_Pending] = deque()
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=_context(),
        initializer=_init_worker,
        initargs=(settings,),
    )
    try:
        with gc_paused():
            try:
                _drive(mine, pool, jobs, pending, tally, workers, limit)
            except _Stop as stop:
                _stop(stop, pending)
    except _Mismatch:
        jobs.close()
        pool.shutdown(wait=True, cancel_futures=True)
        consume(
            aggregator,
            restart(),
            external_names=external_names,
            limit=limit,
            window=window,
        )
        return
    finally:
        jobs.close()
        pool.shutdown(wait=True, cancel_futures=True)
    aggregator.merge(mine)
    report_skipped(aggregator, tally.missing, tally.outside)


def _context() -> Any:
    # fork starts a worker in milliseconds and shares the imported modules; elsewhere (macOS,
    # Windows) fork is unsafe or missing and the platform's default is used
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def _drive(
    aggregator: Aggregator,
    pool: ProcessPoolExecutor,
    jobs: Generator[Job, None, None],
    pending: deque[_Pending],
    tally: _Tally,
    workers: int,
    limit: int | None,
) -> None:
    most = IN_FLIGHT_PER_WORKER * workers
    exhausted = False
    while True:
        while not exhausted and len(pending) < most:
            job = next(jobs, None)
            if job is None:
                exhausted = True
                break
            entry = _Pending(job)
            if job.batch is not None:
                entry.future = pool.submit(_run_job, job.batch)
            pending.append(entry)
        if not pending:
            return
        entry = pending.popleft()
        result = _result(entry)
        if entry.job.batch is None:  # the marker after a bad line found while cutting
            raise _Stop(entry.job.stream, None, False)
        _merge(aggregator, entry.job, result, tally, limit)


def _result(entry: _Pending) -> Result:
    if entry.future is None:
        return Result()
    try:
        return entry.future.result()
    except BrokenProcessPool:
        raise WorkerError(
            "a worker process died (killed, or out of memory?); run again with --workers 1"
        ) from None
    except Exception as err:  # one line, whatever went wrong over there
        raise WorkerError(
            f"a worker process failed reading {entry.job.stream.path}: {type(err).__name__}: {err}"
        ) from None


def _merge(
    aggregator: Aggregator, job: Job, result: Result, tally: _Tally, limit: int | None
) -> None:
    stream = job.stream
    if result.mismatch:
        raise _Mismatch
    if result.error is not None:
        raise InputError(result.error)
    if result.bad is not None:
        stream.note_bad(*result.bad)
    if result.outcomes is None:
        if stream.bad is not None:
            raise _Stop(stream, None, False)
        assert result.batch is not None
        aggregator.merge(result.batch)
        aggregator.found += result.found
        tally.missing += result.missing
        tally.outside += result.outside
        return
    for k, outcome in enumerate(result.outcomes):
        at = job.positions[k] if job.positions else None
        if stream.bad is not None and (at is None or stream.bad[0] <= at):
            raise _Stop(stream, None, False)  # the reader stops at the bad line first
        aggregator.found += 1
        if isinstance(outcome, str):
            tally.missing.append(outcome)
        elif outcome is None:
            tally.outside += 1
        else:
            aggregator.add(outcome)
            if limit is not None and aggregator.traces >= limit:
                raise _Stop(stream, at, True)
    if stream.bad is not None and len(result.outcomes) < len(job.positions):
        raise _Stop(stream, None, False)


def _stop(stop: _Stop, pending: deque[_Pending]) -> None:
    """Reading stopped early: if the reader would have met a bad line first, raise its
    error. Lines not converted yet (in batches still running, or read ahead and not batched
    yet) are converted first, so the error is the first bad line's."""
    stream = stop.stream
    upto = stop.at if stop.limit else None  # None: every line read so far counts
    for entry in pending:
        if entry.job.stream is not stream or entry.future is None:
            continue
        result = _result(entry)
        if result.mismatch:
            raise _Mismatch
        if result.bad is not None:
            stream.note_bad(*result.bad)
    if not stream.check_held(upto):
        raise _Mismatch
    if stream.bad is not None and (upto is None or stream.bad[0] <= upto):
        raise InputError(f"{stream.path}: {stream.bad[1]}")
