"""Aggregate mode over files on every core: worker processes read and analyse the traces, the
parent merges what they send back. ``obskit analyze --service S --file F --workers N``.

**What crosses the process boundary.** Parent → worker: where the lines of a batch of whole
traces are (a *job*: up to ``PIECES_PER_JOB`` traces as byte offsets into the file; the worker
reads the bytes again itself, from the page cache, which is cheaper than sending them through a
pipe), or the path of a file the reader takes whole (one JSON document, protobuf). Worker →
parent: an :class:`Aggregator` of just that job's traces -- a few integer arrays per hop and
operation, ~1.2 kB per trace, never spans -- which :meth:`Aggregator.merge` folds in. At most
``4 × workers`` jobs are in flight, so memory stays bounded however long the file is.

**The same report whatever the number of workers.** A trace whose spans are spread over
several lines must reach one worker whole, and traces must reach the aggregate in the order
the reader yields them (it decides exemplars among ties, the heat map's columns, the trace ids
a warning names, and which traces ``--limit`` keeps). So the parent cuts the file on *trace*
boundaries, not byte or line boundaries: :class:`obskit.aggregate.lines.Cutter` replays the
reader's window over the trace ids of each line and hands out whole traces in the reader's
order (a trace split by the window is two pieces, the second with its ``split`` warning, as in
one process); jobs are merged in the order they were cut. Each worker converts its lines with
the reader itself, so spans, warnings and messages are the reader's own.

**Errors.** A line the reader rejects ends the run with the reader's message (``FILE: line N:
...``), the same one as with ``--workers 1``: the first such line of the file, unless
``--limit`` was reached before the reader would have got to it. Workers send errors back as
data; a worker that dies or fails unexpectedly becomes one line (:class:`WorkerError`).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from obskit.aggregate.aggregate import Aggregator
from obskit.aggregate.lines import (
    BadLine,
    Cutter,
    Piece,
    Where,
    build_piece,
    check_lines,
    convert_at,
    convert_line,
    jsonl_lines,
    line_trace_ids,
    open_file,
)
from obskit.aggregate.sample import Outcome, take
from obskit.errors import InputError, ObskitError
from obskit.gcpause import gc_paused

PIECES_PER_JOB = 48
BYTES_PER_JOB = 4 << 20  # a job's lines; a trace bigger than this travels alone
IN_FLIGHT_PER_WORKER = 4  # jobs queued per worker: a busy parent does not starve them
READ_BUFFER = 1 << 20  # lines of many kB: the default 8 kB buffer reads them in pieces


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


def _run_job(job: tuple[Any, ...]) -> Result:
    s = _SETTINGS
    per_trace = s["per_trace"]
    result = Result(outcomes=[] if per_trace else None)
    if not per_trace:
        result.batch = Aggregator(s["endpoint"], what_ifs=s["what_ifs"])
    with gc_paused():
        if job[0] == "file":
            _run_file(Path(job[1]), result)
        else:
            _run_lines(job[1], job[2], job[3], result)
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


def _run_lines(
    path: str,
    pieces: list[tuple[str, tuple[int, ...], bool]],
    lines: dict[int, Where],
    result: Result,
) -> None:
    s = _SETTINGS
    converted: dict[int, dict[str, Any]] = {}
    with open_file(Path(path)) as stream:
        fd = stream.fileno()
        for number in sorted(lines):
            try:
                by_id = convert_at(fd, number, lines[number])
            except InputError as err:
                result.bad = (number, str(err))
                break  # the reader stops here: later lines do not matter
            if by_id is None:
                result.mismatch = True
                return
            converted[number] = by_id
    for trace_id, numbers, split in pieces:
        if not all(n in converted for n in numbers):
            break  # pieces from here on come after the bad line
        trace = build_piece(numbers, trace_id, split, converted, s["line_window"])
        _record(result, take(trace, s["endpoint"], s["external_names"], s["what_ifs"], s["window"]))


def _run_file(path: Path, result: Result) -> None:
    from obskit.aggregate.search import read_paths

    s = _SETTINGS
    try:
        for trace in read_paths([path], window=s["line_window"]):
            _record(
                result,
                take(trace, s["endpoint"], s["external_names"], s["what_ifs"], s["window"]),
            )
    except InputError as err:
        result.error = str(err)


# -- in the parent ---------------------------------------------------------------------------


@dataclass(slots=True)
class _File:
    path: Path
    cutter: Cutter | None = None
    bad: BadLine | None = None  # the first line the reader rejects, as far as known


@dataclass(slots=True)
class _Job:
    file: _File
    payload: tuple[Any, ...]
    pieces: list[Piece]  # lines jobs: their pieces, in order (for --limit)
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

    def __init__(self, file: _File, at: int | None, limit: bool) -> None:
        super().__init__()
        self.file, self.at, self.limit = file, at, limit


def aggregate_files(
    aggregator: Aggregator,
    files: Sequence[Path],
    *,
    workers: int,
    line_window: int,
    external_names: Mapping[str, str] | None = None,
    limit: int | None = None,
    window: tuple[int, int] | None = None,
) -> None:
    """Feed ``files``' traces into ``aggregator`` with ``workers`` processes, exactly as
    :func:`obskit.aggregate.run.consume` over :func:`obskit.aggregate.search.read_paths`
    does in one process (which it falls back to if a line defeats the cutter)."""
    from obskit.aggregate.run import consume, report_skipped
    from obskit.aggregate.search import read_paths

    settings = {
        "endpoint": aggregator.endpoint,
        "what_ifs": aggregator.what_ifs,
        "external_names": dict(external_names or {}),
        "window": window,
        "line_window": line_window,
        "per_trace": limit is not None,
    }
    # the traces go into a fresh aggregator first, so a fallback can start over
    mine = Aggregator(aggregator.endpoint, what_ifs=aggregator.what_ifs)
    tally = _Tally()
    pending: deque[_Job] = deque()
    jobs = _jobs(files, line_window)
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
            read_paths(files, window=line_window),
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
    jobs: Iterator[_Job],
    pending: deque[_Job],
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
            if job.payload:
                job.future = pool.submit(_run_job, job.payload)
            pending.append(job)
        if not pending:
            return
        job = pending.popleft()
        result = _result(job)
        if job.payload == ():  # the marker after a bad line found while cutting
            raise _Stop(job.file, None, False)
        _merge(aggregator, job, result, tally, limit)


def _result(job: _Job) -> Result:
    if job.future is None:
        return Result()
    try:
        return job.future.result()
    except BrokenProcessPool:
        raise WorkerError(
            "a worker process died (killed, or out of memory?); run again with --workers 1"
        ) from None
    except Exception as err:  # one line, whatever went wrong over there
        raise WorkerError(
            f"a worker process failed reading {job.file.path}: {type(err).__name__}: {err}"
        ) from None


def _merge(
    aggregator: Aggregator, job: _Job, result: Result, tally: _Tally, limit: int | None
) -> None:
    file = job.file
    if result.mismatch:
        raise _Mismatch
    if result.error is not None:
        raise InputError(result.error)
    if result.bad is not None:
        _note_bad(file, BadLine(*result.bad))
    if result.outcomes is None:
        if file.bad is not None:
            raise _Stop(file, None, False)
        assert result.batch is not None
        aggregator.merge(result.batch)
        aggregator.found += result.found
        tally.missing += result.missing
        tally.outside += result.outside
        return
    for k, outcome in enumerate(result.outcomes):
        at = job.pieces[k].emitted if job.pieces else None
        if file.bad is not None and (at is None or file.bad.number <= at):
            raise _Stop(file, None, False)  # the reader stops at the bad line first
        aggregator.found += 1
        if isinstance(outcome, str):
            tally.missing.append(outcome)
        elif outcome is None:
            tally.outside += 1
        else:
            aggregator.add(outcome)
            if limit is not None and len(aggregator.trace_ids) >= limit:
                raise _Stop(file, at, True)
    if file.bad is not None and len(result.outcomes) < len(job.pieces):
        raise _Stop(file, None, False)


def _note_bad(file: _File, bad: BadLine) -> None:
    if file.bad is None or bad.number < file.bad.number:
        file.bad = bad


def _stop(stop: _Stop, pending: deque[_Job]) -> None:
    """Reading stopped early: if the reader would have met a bad line first, raise its
    error. Lines not converted yet (in jobs still running, or waiting in the cutter for
    their trace to end) are converted first, so the error is the first bad line's."""
    file = stop.file
    upto = stop.at if stop.limit else None  # None: every line read so far counts
    for job in pending:
        if job.file is not file or job.future is None:
            continue
        result = _result(job)
        if result.mismatch:
            raise _Mismatch
        if result.bad is not None:
            _note_bad(file, BadLine(*result.bad))
    if file.cutter is not None:
        held = file.cutter.open_lines()
        if upto is not None:
            held = {n: where for n, where in held.items() if n <= upto}
        if file.bad is not None:
            held = {n: where for n, where in held.items() if n < file.bad.number}
        try:
            if not check_lines(file.path, held):
                raise _Mismatch
        except BadLine as bad:
            _note_bad(file, bad)
    if file.bad is not None and (upto is None or file.bad.number <= upto):
        raise InputError(f"{file.path}: {file.bad.message}")


def _jobs(files: Sequence[Path], line_window: int) -> Iterator[_Job]:
    """Jobs in the order the reader meets their traces; after a bad line, a marker job
    (empty payload) and nothing more."""
    for path in files:
        file = _File(path)
        with open_file(path, buffering=READ_BUFFER) as stream:
            lines = jsonl_lines(stream)
            if lines is None:
                yield _Job(file, ("file", str(path)), [])
                continue
            cutter = file.cutter = Cutter(line_window)
            batch: list[Piece] = []
            size = 0
            for number, offset, line in lines:
                tids = line_trace_ids(line)
                if tids is None:
                    try:
                        tids = [t.trace_id for t in convert_line(line, number)]
                    except InputError as err:
                        file.bad = BadLine(number, str(err))
                        if batch:
                            yield _lines_job(file, cutter, batch)
                        yield _Job(file, (), [])
                        return
                if tids:
                    size += len(line)
                for piece in cutter.feed(number, offset, len(line), tids):
                    batch.append(piece)
                    if len(batch) >= PIECES_PER_JOB or size >= BYTES_PER_JOB:
                        yield _lines_job(file, cutter, batch)
                        batch, size = [], 0
            batch += cutter.finish()
            for start in range(0, len(batch), PIECES_PER_JOB):
                yield _lines_job(file, cutter, batch[start : start + PIECES_PER_JOB])


def _lines_job(file: _File, cutter: Cutter, pieces: list[Piece]) -> _Job:
    lines: dict[int, Where] = {}
    for piece in pieces:
        lines.update(cutter.take(piece))
    wire = [(p.trace_id, p.lines, p.split) for p in pieces]
    return _Job(file, ("lines", str(file.path), wire, lines), pieces)
