"""Readers: trace bytes in any supported format → :class:`obskit.model.Trace`.

The format is sniffed from content (trace-backends.md §5.6) unless ``format=`` names it; see
:data:`FORMATS`. Every malformed input ends in :class:`~obskit.errors.InputError` with one line
naming what is wrong and where (``resourceSpans[0].scopeSpans[1].spans[3].startTimeUnixNano:
expected an integer, got 'abc'``); JSON Lines errors start with the line number.

Readers never drop or merge spans: a duplicate span id stays in the trace and the analysis keeps
the first and warns (critical-path.md §1). The exception is Zipkin's client/server shared id,
which :mod:`obskit.ingest.zipkin` makes unique by keying on id and kind.

**JSON Lines stream.** :func:`read_traces` reads a JSON Lines input one line at a time and never
holds the raw text. A trace's spans can be spread over many lines in any order, so by default a
trace is complete only when the input ends: memory then holds the converted spans of the whole
file. Pass ``window=N`` to bound memory: a trace is yielded once ``N`` lines have passed without
a span of it. If more of its spans come later, they are yielded again as a second trace with the
same id and a ``split`` warning, so pick ``N`` well above how far apart one trace's batches are
(the Collector flushes a trace's spans within seconds: a few hundred lines is ample).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from obskit.errors import InputError
from obskit.gcpause import gc_paused
from obskit.idset import IdSet
from obskit.ingest.assemble import TouchedTraceSet, TraceSet, pick_trace
from obskit.ingest.otlp_structs import read_bytes
from obskit.ingest.payload import InputReader, load_json
from obskit.ingest.sniff import (
    BINARY_FORMATS,
    FORMATS,
    JAEGER_START,
    LINE_FORMATS,
    OTLP_SHAPED_FORMATS,
    SEARCH_FORMATS,
    Sniffed,
    sniff_document,
    sniff_payload,
)
from obskit.ingest.values import Bad
from obskit.model import Trace, TraceWarning

__all__ = ["FORMATS", "read_trace", "read_traces", "sniff_format"]

Input = bytes | bytearray | memoryview | str | Path | BinaryIO


def sniff_format(data: Input) -> str:
    """The format id of ``data`` (a key of :data:`FORMATS`), or InputError if unknown."""
    payload = InputReader(data)
    try:
        return sniff_payload(payload).fmt
    finally:
        payload.close()


def read_trace(
    data: Input,
    *,
    trace_id: str | None = None,
    format: str | None = None,
) -> Trace:
    """The one trace in ``data``; with several, ``trace_id`` picks one (else InputError)."""
    wanted = _normalize_wanted(trace_id)
    out = TraceSet(only=wanted)
    traces = list(_read(data, format, out, window=None))
    return pick_trace(traces, wanted, list(out.seen))


def read_traces(
    data: Input,
    *,
    format: str | None = None,
    window: int | None = None,
    refused: list[str] | None = None,
) -> Iterator[Trace]:
    """Every trace in ``data``, in first-seen order. JSON Lines are streamed (see module doc).
    With ``refused``, a span whose times or numbers are out of range is left out and its
    message appended there (the receiver's partial success), instead of failing the input."""
    if window is not None and window < 1:
        raise InputError(f"window must be at least 1 line, got {window}")
    return _read(data, format, TraceSet(refused=refused), window=window)


def _normalize_wanted(trace_id: str | None) -> str | None:
    if trace_id is None:
        return None
    from obskit.ingest.values import trace_id as norm

    try:
        return norm(trace_id.strip(), "trace id")
    except Bad as err:
        raise InputError(f"{err}; expected up to 32 hex digits") from None


def _read(data: Input, fmt: str | None, out: TraceSet, window: int | None) -> Iterator[Trace]:
    if fmt is not None and fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    payload = InputReader(data)
    try:
        with gc_paused():
            sniffed = _sniff(payload, fmt)
            if sniffed.mode == "fast":
                sniffed = _read_fast(sniffed, fmt, out)
            if sniffed.mode == "binary":
                _read_binary(
                    sniffed.doc if sniffed.has_doc else payload.read_all(), sniffed.fmt, out
                )
            elif sniffed.mode == "doc":
                _read_document(sniffed.doc, sniffed.fmt, out, "")
                sniffed.doc = None  # the parsed JSON can go before the traces are built
            if sniffed.mode != "lines":
                traces = list(out.traces())  # a million-span tuple: still without the collector
        if sniffed.mode == "lines":
            yield from _read_lines(payload, sniffed, out, window)
            return
    finally:
        payload.close()
    yield from traces


def _sniff(payload: InputReader, fmt: str | None) -> Sniffed:
    if fmt in BINARY_FORMATS:
        return Sniffed(fmt, "binary")
    sniffed = sniff_payload(
        payload, fast=fmt is None or fmt in OTLP_SHAPED_FORMATS or fmt in _FAST_TOO
    )
    if fmt is not None and sniffed.mode != "fast":
        _check_format(sniffed, fmt)
    return sniffed


_FAST_TOO = frozenset({"otlp-jsonl", "jaeger-json"})


def _read_fast(sniffed: Sniffed, fmt: str | None, out: TraceSet) -> Sniffed:
    """An OTLP-shaped or Jaeger document left unparsed by the sniffer: read by a fast struct
    reader (:mod:`obskit.ingest.otlp_structs`, :mod:`obskit.ingest.jaeger_structs`), or, when
    it cannot be, parsed whole. Returns what is left to do: nothing (mode ``"read"``) or
    reading the parsed document (mode ``"doc"``)."""
    raw: bytes = sniffed.doc
    sniffed.doc = None
    scratch = TraceSet(only=out.only)
    if JAEGER_START(raw) is not None:
        from obskit.ingest import jaeger_structs

        found = jaeger_structs.read_bytes(raw, scratch)
    else:
        found = read_bytes(raw, scratch)
    if found is not None:
        if fmt is not None:
            _check_format(Sniffed(found, "doc"), fmt)
        out.absorb(scratch)
        return Sniffed(found, "read")
    # the whole parse gives the same spans or the exact error
    doc = load_json(raw)
    whole = Sniffed(sniff_document(doc), "doc", doc, True)
    if fmt is not None:
        _check_format(whole, fmt)
    return whole


def _check_format(sniffed: Sniffed, fmt: str) -> None:
    """The input must be what ``format=`` says (JSON Lines and documents of OTLP mix)."""
    if sniffed.mode == "binary":
        raise InputError(f"expected {FORMATS[fmt]}, but the input is not JSON")
    compatible = (
        sniffed.fmt == fmt
        or (sniffed.mode == "lines" and fmt in LINE_FORMATS and sniffed.fmt in LINE_FORMATS)
        or {sniffed.fmt, fmt} <= {"otlp-json", "otlp-jsonl"}
    )
    if not compatible:
        raise InputError(
            f"expected {FORMATS[fmt]}, but the input looks like {FORMATS[sniffed.fmt]}"
        )


def _read_document(doc: Any, fmt: str, out: TraceSet, where: str) -> None:
    if fmt in SEARCH_FORMATS:
        raise InputError(
            f"the input is a search result ({FORMATS[fmt]}): it lists traces but holds no "
            "spans; fetch one trace by its id"
        )
    try:
        if fmt == "jaeger-json":
            from obskit.ingest import jaeger_json

            jaeger_json.read_document(doc, out)
        elif fmt == "zipkin-v2":
            from obskit.ingest import zipkin

            zipkin.read_document(doc, out)
        else:
            from obskit.ingest import otlp_json

            otlp_json.read_document(doc, "otlp-json" if fmt == "otlp-jsonl" else fmt, out)
    except Bad as err:
        prefix = f"{where}: " if where else ""
        raise InputError(f"{prefix}{err}") from None
    except RecursionError:
        prefix = f"{where}: " if where else ""
        raise InputError(f"{prefix}attribute values are nested too deeply") from None


def _read_binary(data: bytes, fmt: str, out: TraceSet) -> None:
    from obskit.ingest import otlp_proto

    if fmt == "otlp-proto-framed":
        otlp_proto.read_framed(data, out)
    else:
        otlp_proto.read_message(data, out)


_SKIPPED_SIGNALS = ("resourceMetrics", "resourceLogs", "resourceProfiles")
# What a line may hold: an OTLP object, or a chunk of a Jaeger api_v3 stream.
_LINE_DOCUMENTS = frozenset({"otlp-json", "jaeger-api-v3"})


def _read_lines(
    payload: InputReader, sniffed: Sniffed, out: TraceSet, window: int | None
) -> Iterator[Trace]:
    """JSON Lines: one OTLP (or Jaeger api_v3 chunk) object per line, grouped by trace id."""
    last_line: OrderedDict[str, int] = OrderedDict()  # trace id -> last line it appeared on
    emitted = IdSet()
    first_doc: Any = sniffed.doc
    sniffed.doc = None
    for number, line in payload.lines():
        if window is None:
            with gc_paused():
                _read_line(number, line, first_doc, out)
            first_doc = None
            continue
        touched = TouchedTraceSet.track(out)
        with gc_paused():
            _read_line(number, line, first_doc, touched)
        first_doc = None
        for tid in touched.touched:
            last_line[tid] = number
            last_line.move_to_end(tid)
        while last_line:
            tid, seen = next(iter(last_line.items()))
            if number - seen < window:
                break
            del last_line[tid]
            yield _finish(out, tid, emitted, window)
    for tid in list(out.spans):
        yield _finish(out, tid, emitted, window)


def _read_line(number: int, line: bytes, parsed: Any, out: TraceSet) -> None:
    """One line: parse it (line 1 was parsed by the sniffer) and convert it if it holds spans."""
    where = f"line {number}"
    if parsed is not None:
        doc = parsed
    elif not line.strip() or read_bytes(line, out, _LINE_DOCUMENTS) is not None:
        return
    else:
        doc = load_json(line, where)  # and the careful way, which names any problem
    if not isinstance(doc, dict):
        raise InputError(f"{where}: expected a JSON object, got {type(doc).__name__}")
    if "resourceSpans" in doc:
        fmt = "otlp-json"
    elif "result" in doc:
        fmt = "jaeger-api-v3"
    elif any(key in doc for key in _SKIPPED_SIGNALS):
        return  # metrics and logs share the Collector's file; they are not ours
    else:
        sniff_document(doc)  # raises a clear message for known non-trace shapes
        raise InputError(f"{where}: expected an OTLP object (resourceSpans)")
    _read_document(doc, fmt, out, where)


def _finish(out: TraceSet, tid: str, emitted: IdSet, window: int | None) -> Trace:
    if emitted.record(tid):
        out.warn(
            tid,
            TraceWarning(
                "split",
                f"more spans of this trace came over {window} lines after its last ones; "
                "it is reported in pieces (raise the window)",
            ),
        )
    return out.pop(tid)  # everything of the trace goes: spans, warnings, columns
