"""Files cut into batches of whole traces for worker processes (:mod:`obskit.aggregate.pool`):
the file side of ``obskit analyze --service S --file F --workers N``.

A batch (:class:`LinesBatch`) says where the lines of up to ``PIECES_PER_JOB`` whole traces
are, as byte offsets into the file; the worker reads the bytes again itself, from the page
cache, which is cheaper than sending them through a pipe. A file the reader takes whole (one
JSON document, protobuf) is one :class:`FileBatch`. The parent cuts the file on *trace*
boundaries with :class:`obskit.sources.lines.Cutter`, in the order the reader yields them; a
:class:`Stream` per file remembers the first line the reader rejects and checks, when the run
stops early, the lines still held for traces not yet cut.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from obskit.errors import InputError
from obskit.model import Trace
from obskit.sources.files import read_paths
from obskit.sources.lines import (
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

PIECES_PER_JOB = 48
BYTES_PER_JOB = 4 << 20  # a job's lines; a trace bigger than this travels alone
READ_BUFFER = 1 << 20  # lines of many kB: the default 8 kB buffer reads them in pieces


@dataclass(slots=True)
class BatchEnd:
    """How reading a batch ended: ``bad``, the first line the reader rejects (number,
    message); ``error``, a whole file the reader rejects; ``mismatch``, a line held other
    trace ids than the parent read ahead (the cut may be wrong: start over in one process)."""

    bad: tuple[int, str] | None = None
    error: str | None = None
    mismatch: bool = False


@dataclass(frozen=True, slots=True)
class LinesBatch:
    """Whole traces of a JSON Lines file: each piece's trace id, line numbers and whether it
    is a ``split`` continuation, and where each of those lines is."""

    path: str
    pieces: list[tuple[str, tuple[int, ...], bool]]
    lines: dict[int, Where]
    window: int

    def _conversions(self) -> Iterator[tuple[int, dict[str, Trace] | InputError | None]]:
        """Each line's traces by id, in line order: None where the line holds other trace ids
        than were read ahead, the reader's error where it rejects the line. Lazily, so a
        read that stops at a bad line converts nothing after it."""
        with open_file(Path(self.path)) as stream:
            fd = stream.fileno()
            for number in sorted(self.lines):
                try:
                    yield number, convert_at(fd, number, self.lines[number])
                except InputError as err:
                    yield number, err

    def read(self, record: Callable[[Trace], None]) -> BatchEnd:
        """Convert the lines (every one, so the first bad line is found), then record each
        piece's trace in order, up to the first piece that needs a line not converted."""
        end = BatchEnd()
        converted: dict[int, dict[str, Trace]] = {}
        for number, by_id in self._conversions():
            if isinstance(by_id, InputError):
                end.bad = (number, str(by_id))
                break  # the reader stops here: later lines do not matter
            if by_id is None:
                end.mismatch = True
                return end
            converted[number] = by_id
        for trace_id, numbers, split in self.pieces:
            if not all(n in converted for n in numbers):
                break  # pieces from here on come after the bad line
            record(build_piece(numbers, trace_id, split, converted, self.window))
        return end

    def read_lenient(self, record: Callable[[Trace], None]) -> Rejected:
        """Like :meth:`read`, but a line the reader rejects costs only its own traces: they
        are named in the answer, and every other piece is recorded (a distributed run goes on
        past a bad trace). A line that holds other trace ids than were read ahead rejects its
        traces the same way."""
        rejected = Rejected()
        converted: dict[int, dict[str, Trace]] = {}
        for number, by_id in self._conversions():
            if isinstance(by_id, InputError):
                rejected.note(f"{self.path}: {by_id}")
            elif by_id is None:
                rejected.note(f"{self.path}: line {number}: not the trace ids read ahead")
            else:
                converted[number] = by_id
        for trace_id, numbers, split in self.pieces:
            if all(n in converted for n in numbers):
                record(build_piece(numbers, trace_id, split, converted, self.window))
            else:
                rejected.trace_ids.append(trace_id)
        return rejected


@dataclass(slots=True)
class Rejected:
    """What a lenient read left out: the traces of lines the reader rejects, and the first
    (smallest) message."""

    trace_ids: list[str] = field(default_factory=list)
    message: str = ""
    lines: int = 0

    def note(self, message: str) -> None:
        self.lines += 1
        if not self.message or message < self.message:
            self.message = message


@dataclass(frozen=True, slots=True)
class UrlBatch:
    """A whole object of a file system fsspec knows (``s3://``, ``gs://``, ``file://``...),
    read where it lies, streamed: a URL is split by object, not inside one."""

    url: str
    window: int

    def read_lenient(self, record: Callable[[Trace], None]) -> Rejected:
        try:
            import fsspec
        except ImportError:  # pragma: no cover - fsspec comes with dask
            raise InputError(f"{self.url}: reading URLs needs fsspec: pip install fsspec") from None
        from obskit.ingest import read_traces

        rejected = Rejected()
        try:
            with fsspec.open(self.url, "rb") as file:
                for trace in read_traces(file, window=self.window):
                    record(trace)
        except InputError as err:  # the reader stops at a bad line: the rest is lost
            rejected.note(f"{self.url}: {err}")
        return rejected


@dataclass(frozen=True, slots=True)
class FileBatch:
    """A file the reader takes whole."""

    path: str
    window: int

    def read(self, record: Callable[[Trace], None]) -> BatchEnd:
        try:
            for trace in read_paths([Path(self.path)], window=self.window):
                record(trace)
        except InputError as err:
            return BatchEnd(error=str(err))
        return BatchEnd()

    def read_lenient(self, record: Callable[[Trace], None]) -> Rejected:
        rejected = Rejected()
        end = self.read(record)
        if end.error is not None:  # the reader stops at a bad line: the rest is lost
            rejected.note(end.error)
        return rejected


@dataclass(slots=True)
class Stream:
    """One file being cut: its first bad line as far as known, and the cutter's held lines."""

    path: Path
    cutter: Cutter | None = None
    bad: tuple[int, str] | None = None  # the first line the reader rejects: (number, message)
    skipped: int = 0  # lines rejected and passed over while cutting (lenient: a distributed run)

    def note_bad(self, number: int, message: str) -> None:
        if self.bad is None or number < self.bad[0]:
            self.bad = (number, message)

    def check_held(self, upto: int | None) -> bool:
        """Convert the lines still held for pieces not cut yet (up to line ``upto``, and
        before the first bad line): note a bad one; False if one holds other trace ids than
        were read ahead from it."""
        if self.cutter is None:
            return True
        held = self.cutter.open_lines()
        if upto is not None:
            held = {n: where for n, where in held.items() if n <= upto}
        if self.bad is not None:
            first_bad = self.bad[0]
            held = {n: where for n, where in held.items() if n < first_bad}
        try:
            return check_lines(self.path, held)
        except BadLine as bad:
            self.note_bad(bad.number, bad.message)
            return True


@dataclass(slots=True)
class Job:
    """A batch for a worker, with the line at which the reader yields each of its traces
    (``positions``, empty for a whole file); ``batch`` None marks the end after a bad line
    found while cutting."""

    stream: Stream
    batch: LinesBatch | FileBatch | None
    positions: list[int | None] = field(default_factory=list)


def file_jobs(
    files: Sequence[Path], window: int, *, lenient: bool = False
) -> Generator[Job, None, None]:
    """Jobs in the order the reader meets their traces; after a bad line, a marker job
    (no batch) and nothing more. ``lenient``: a line whose trace ids cannot be read is
    noted in its stream (``bad``, ``skipped``) and passed over, and cutting goes on."""
    for path in files:
        stream = Stream(path)
        with open_file(path, buffering=READ_BUFFER) as file:
            lines = jsonl_lines(file)
            if lines is None:
                yield Job(stream, FileBatch(str(path), window))
                continue
            cutter = stream.cutter = Cutter(window)
            batch: list[Piece] = []
            size = 0
            for number, offset, line in lines:
                tids = line_trace_ids(line)
                if tids is None:
                    try:
                        tids = [t.trace_id for t in convert_line(line, number)]
                    except InputError as err:
                        if lenient:
                            stream.note_bad(number, str(err))
                            stream.skipped += 1
                            continue
                        stream.bad = (number, str(err))
                        if batch:
                            yield _lines_job(stream, cutter, batch, window)
                        yield Job(stream, None)
                        return
                if tids:
                    size += len(line)
                for piece in cutter.feed(number, offset, len(line), tids):
                    batch.append(piece)
                    if len(batch) >= PIECES_PER_JOB or size >= BYTES_PER_JOB:
                        yield _lines_job(stream, cutter, batch, window)
                        batch, size = [], 0
            batch += cutter.finish()
            for start in range(0, len(batch), PIECES_PER_JOB):
                yield _lines_job(stream, cutter, batch[start : start + PIECES_PER_JOB], window)


def _lines_job(stream: Stream, cutter: Cutter, pieces: list[Piece], window: int) -> Job:
    lines: dict[int, Where] = {}
    for piece in pieces:
        lines.update(cutter.take(piece))
    wire = [(p.trace_id, p.lines, p.split) for p in pieces]
    return Job(
        stream, LinesBatch(str(stream.path), wire, lines, window), [p.emitted for p in pieces]
    )
