"""Cutting a JSON Lines file into whole traces *before* converting it, so that the traces can
be converted and analysed in other processes (:mod:`obskit.aggregate.pool`, with jobs from
:mod:`obskit.sources.batches`) with the very result :func:`obskit.ingest.read_traces` gives
in one process.

The reader's window (``read_traces(path, window=W)``) decides which spans form one trace: a
trace is complete once ``W`` lines passed without a span of it; spans of the same trace id
that come later form a second trace with a ``split`` warning. Which trace ids a line holds is
all that decision needs, so :class:`Cutter` replays it over the trace ids of each line
(:func:`line_trace_ids`, a byte scan for ordinary lines) and hands out **pieces**: one trace
id, the numbers of the lines holding its spans, whether it is a ``split`` continuation, in the
order the reader would yield them. The bytes of a line are kept only while a piece that needs
them is still open -- the same bound the reader keeps on converted spans.

:func:`build_piece` (in the worker) converts each line with the reader itself
(:func:`convert_line`) and joins one piece's spans, so every span, warning and error message
is the reader's own.
"""

from __future__ import annotations

import os
import re
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from obskit.errors import InputError
from obskit.idset import IdSet
from obskit.model import Trace, TraceWarning

# A line is converted behind a one-line JSON Lines prelude: the reader then takes it exactly as
# line 2 of a JSON Lines file (blank lines and metrics skipped, errors named "line 2: ...").
PRELUDE = b'{"resourceSpans":[]}\n'
_PRELUDE_WHERE = "line 2: "
_BOM = b"\xef\xbb\xbf"
_SKIPPED_SIGNALS = ("resourceMetrics", "resourceLogs", "resourceProfiles")
_LINE_KEYS = {"resourceSpans", "resourceMetrics", "resourceLogs"}

_TRACE_KEY = b'"traceId":"'
_HEX32 = re.compile(rb"[0-9a-f]{32}")
_ZERO32 = b"0" * 32


def split_message(window: int) -> str:
    """The reader's text for a trace's second piece (see :mod:`obskit.ingest`)."""
    return (
        f"more spans of this trace came over {window} lines after its last ones; "
        "it is reported in pieces (raise the window)"
    )


# -- which trace ids a line holds ----------------------------------------------------------


def line_trace_ids(line: bytes) -> list[str] | None:
    """The trace ids of the spans in ``line``, in the order the reader meets them (first
    span of each); ``[]`` for a line the reader skips. ``None``: it cannot be told without
    converting the line (say, an invalid one) -- the caller converts it.

    Fast path, from the bytes: the ``"traceId":"<32 hex>"`` keys. A line of one trace (every
    such key names the same id) costs two ``bytes.count``; with several ids, a line with
    ``"links"`` (a link's trace id is another trace's) is parsed instead. What the fast path
    cannot see (an escaped key, an unknown field named traceId) the worker catches: it checks
    these ids against the converted line, and the run starts over in one process."""
    pos = line.find(_TRACE_KEY)
    if pos >= 0:
        start = pos + len(_TRACE_KEY)
        first = line[start : start + 32]
        if _HEX32.fullmatch(first) and first != _ZERO32:
            if line.count(_TRACE_KEY + first + b'"', pos) == line.count(_TRACE_KEY, pos):
                return [first.decode()]
            if b'"links"' not in line:
                return _each_trace_id(line, pos) or _exact_trace_ids(line)
    elif not line.strip():
        return []
    return _exact_trace_ids(line)


def _each_trace_id(line: bytes, pos: int) -> list[str] | None:
    found: dict[bytes, None] = {}
    find, size = line.find, len(_TRACE_KEY)
    while pos >= 0:
        pos += size
        found[line[pos : pos + 33]] = None
        pos = find(_TRACE_KEY, pos + 33)
    out = []
    for tid in found:
        if tid[32:] != b'"' or not _HEX32.fullmatch(tid, 0, 32) or tid.startswith(_ZERO32):
            return None
        out.append(tid[:32].decode())
    return out


def _exact_trace_ids(line: bytes) -> list[str] | None:
    """The same by parsing; ``None`` unless the line is plainly well-formed with spans."""
    from obskit.ingest.values import Bad, trace_id

    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if type(doc) is not dict:
        return None
    if "resourceSpans" in doc:
        resource_spans = doc["resourceSpans"]
    elif "result" in doc:
        result = doc["result"]
        resource_spans = result.get("resourceSpans") if type(result) is dict else None
    elif any(key in doc for key in _SKIPPED_SIGNALS):
        return []  # the reader skips metrics and logs
    else:
        return None
    if type(resource_spans) is not list:
        return None
    found: dict[str, None] = {}
    try:
        for rs in resource_spans:
            if type(rs) is not dict:
                return None
            scopes = rs.get("scopeSpans" if "scopeSpans" in rs else "instrumentationLibrarySpans")
            if type(scopes) is not list:
                return None
            for ss in scopes:
                spans = ss.get("spans") if type(ss) is dict else None
                if type(spans) is not list:
                    return None
                for sp in spans:
                    if type(sp) is not dict:
                        return None
                    found[trace_id(sp.get("traceId"))] = None
    except Bad:
        return None
    # no spans: the reader may still reject the rest of the line; let it convert it
    return list(found) or None


def convert_line(line: bytes, number: int) -> list[Trace]:
    """Line ``number`` of a JSON Lines file, converted by the reader: one partial trace per
    trace id, in the order the reader meets them. InputError as the reader words it."""
    from obskit.ingest import read_traces

    try:
        return list(read_traces(PRELUDE + line))
    except InputError as err:
        message = str(err)
        if message.startswith(_PRELUDE_WHERE):
            message = f"line {number}: {message[len(_PRELUDE_WHERE) :]}"
        raise InputError(message) from None


# -- the reader's window, replayed ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Piece:
    """One trace as the reader yields it: its id, the lines holding its spans, whether an
    earlier piece of the same id was yielded (``split``), and the line at which the reader
    yields it (``emitted``; ``None``: at the end of the file)."""

    trace_id: str
    lines: tuple[int, ...]
    split: bool
    emitted: int | None


class BadLine(Exception):
    """A line the reader rejects: its number and the reader's message."""

    def __init__(self, number: int, message: str) -> None:
        super().__init__(message)
        self.number = number
        self.message = message


Where = tuple[int, int, tuple[str, ...]]  # a line's byte offset, length, trace ids read ahead


class Cutter:
    """Feed every line's number, place in the file and trace ids, in order: :meth:`feed`
    returns the pieces the reader would yield at that line, :meth:`finish` those it yields
    at the end. :meth:`take` hands over where a piece's lines are (workers read the bytes
    from the file themselves: nothing but offsets is held here)."""

    def __init__(self, window: int) -> None:
        self.window = window
        self.last: OrderedDict[str, int] = OrderedDict()  # trace id -> last line it was on
        self.open: dict[str, list[int]] = {}  # trace id -> its lines, in first-seen order
        self.held: dict[int, list[Any]] = {}  # line -> [offset, length, ids, open pieces]
        self.emitted = IdSet()

    def feed(self, number: int, offset: int, length: int, tids: Sequence[str]) -> list[Piece]:
        if tids:
            self.held[number] = [offset, length, tuple(tids), len(tids)]
            last, open_ = self.last, self.open
            for tid in tids:
                lines = open_.get(tid)
                if lines is None:
                    open_[tid] = [number]
                else:
                    lines.append(number)
                last[tid] = number
                last.move_to_end(tid)
        out = []
        while self.last:
            tid, seen = next(iter(self.last.items()))
            if number - seen < self.window:
                break
            del self.last[tid]
            out.append(self._piece(tid, number))
        return out

    def finish(self) -> list[Piece]:
        self.last.clear()
        return [self._piece(tid, None) for tid in list(self.open)]

    def _piece(self, tid: str, at: int | None) -> Piece:
        split = self.emitted.record(tid)
        return Piece(tid, tuple(self.open.pop(tid)), split, at)

    def take(self, piece: Piece) -> dict[int, Where]:
        out = {}
        held = self.held
        for number in piece.lines:
            entry = held[number]
            out[number] = (entry[0], entry[1], entry[2])
            entry[3] -= 1
            if not entry[3]:
                del held[number]
        return out

    def open_lines(self) -> dict[int, Where]:
        """Lines still held for open pieces (to check them when the run stops early)."""
        return {n: (e[0], e[1], e[2]) for n, e in sorted(self.held.items())}


def jsonl_lines(file: BinaryIO) -> Iterator[tuple[int, int, bytes]] | None:
    """``(number, offset, line)`` of ``file`` if the reader takes it as JSON Lines (first
    line one JSON object of a JSON Lines kind, more lines after it), else ``None`` (the
    reader reads it whole). Numbers count every line, blank ones too, as the reader does;
    the offset of line 1 is past a byte order mark."""
    head = file.readline()
    start = len(_BOM) if head.startswith(_BOM) else 0
    head = head[start:]
    stripped = head.lstrip()
    if not stripped.startswith(b"{"):
        return None
    try:
        doc = orjson.loads(head)
    except orjson.JSONDecodeError:
        return None
    if type(doc) is not dict or not ("result" in doc or _LINE_KEYS & doc.keys()):
        return None  # the reader has its own message for that first line
    peeked = []
    while True:
        line = file.readline()
        if not line:
            return None  # one object: a document, not JSON Lines
        peeked.append(line)
        if line.strip():
            break

    def lines() -> Iterator[tuple[int, int, bytes]]:
        yield 1, start, head
        number, offset = 1, start + len(head)
        for line in peeked:
            number += 1
            yield number, offset, line
            offset += len(line)
        for line in file:
            number += 1
            yield number, offset, line
            offset += len(line)

    return lines()


def read_line(fd: int, offset: int, length: int) -> bytes:
    """A line again, from where :func:`jsonl_lines` found it."""
    data = os.pread(fd, length, offset)
    while len(data) < length:  # a short read; a file cut short meanwhile ends in a mismatch
        more = os.pread(fd, length - len(data), offset + len(data))
        if not more:
            break
        data += more
    return data


def convert_at(fd: int, number: int, where: Where) -> dict[str, Trace] | None:
    """Line ``number`` converted (InputError as the reader words it), or ``None`` if it does
    not hold the trace ids read ahead from it."""
    offset, length, tids = where
    by_id = {t.trace_id: t for t in convert_line(read_line(fd, offset, length), number)}
    return by_id if tuple(by_id) == tids else None


def check_lines(path: Path, lines: Mapping[int, Where]) -> bool:
    """Convert ``lines`` (in order): :class:`BadLine` at the first the reader rejects;
    False if one holds other trace ids than were read ahead from it."""
    with open_file(path) as stream:
        for number, where in sorted(lines.items()):
            try:
                if convert_at(stream.fileno(), number, where) is None:
                    return False
            except InputError as err:
                raise BadLine(number, str(err)) from None
    return True


# -- in the worker: lines → pieces → traces ------------------------------------------------


def build_piece(
    piece_lines: Sequence[int],
    trace_id: str,
    split: bool,
    converted: Mapping[int, Mapping[str, Trace]],
    window: int,
) -> Trace:
    """One piece's trace from its converted lines, as the reader builds it: spans and
    warnings in line order, then the ``split`` warning, then the reader's own checks
    (``build_trace``)."""
    from obskit.ingest.assemble import JAEGER_ES_MAX_DOC_COUNT, build_trace

    spans: list[Any] = []
    warnings: list[TraceWarning] = []
    for number in piece_lines:
        part = converted[number][trace_id]
        spans.extend(part.spans)
        mine = list(part.warnings)
        if len(part.spans) == JAEGER_ES_MAX_DOC_COUNT and mine and mine[-1].code == "truncated":
            mine.pop()  # build_trace's check of this one line: it is made again for the piece
        warnings.extend(mine)
    if split:
        warnings.append(TraceWarning("split", split_message(window)))
    return build_trace(trace_id, spans, warnings)


def open_file(path: Path, buffering: int = -1) -> BinaryIO:
    try:
        return open(path, "rb", buffering=buffering)  # the caller closes it
    except OSError as err:
        raise InputError(f"{path}: cannot read: {err.strerror or err}") from None
