"""Which format is this? Decided from content, never from a file name (trace-backends.md §5.6)."""

from __future__ import annotations

import re
from typing import Any

import orjson

from obskit.errors import InputError
from obskit.ingest.payload import InputReader, load_json
from obskit.ingest.values import one_line

# format id -> what it is called in messages and docs
FORMATS: dict[str, str] = {
    "jaeger-json": "Jaeger JSON (v1 API response, UI download or trace object)",
    "jaeger-api-v3": 'Jaeger api_v3 JSON ({"result": OTLP})',
    "tempo-v1": 'Tempo /api/traces JSON ({"batches": ...})',
    "tempo-v2": 'Tempo /api/v2/traces JSON ({"trace": ...})',
    "otlp-json": "OTLP/JSON",
    "otlp-jsonl": "OTLP JSON Lines (Collector file exporter)",
    "otlp-proto": "OTLP protobuf (TracesData / ExportTraceServiceRequest)",
    "otlp-proto-framed": "Collector file exporter protobuf (length-prefixed messages)",
    "zipkin-v2": "Zipkin v2 JSON",
    "tempo-search": "Tempo /api/search response",
    "jaeger-trace-summaries": "Jaeger api_v3 trace summaries",
}
SEARCH_FORMATS = frozenset({"tempo-search", "jaeger-trace-summaries"})
BINARY_FORMATS = frozenset({"otlp-proto", "otlp-proto-framed"})
# Formats shaped like OTLP/JSON (``resourceSpans`` of ``scopeSpans`` of ``spans``).
OTLP_SHAPED_FORMATS = frozenset({"otlp-json", "jaeger-api-v3", "tempo-v1", "tempo-v2"})
# Formats whose documents may also come one per line.
LINE_FORMATS = frozenset({"otlp-jsonl", "otlp-json", "jaeger-api-v3"})

# From this size an OTLP-shaped or Jaeger document goes to a fast reader
# (obskit.ingest.otlp_structs, jaeger_structs) unparsed; below it, parsing it here to learn its
# format costs little.
FAST_MIN_BYTES = 64 << 10
_OTLP_START = re.compile(rb'[ \t\r\n]*\{[ \t\r\n]*"(?:resourceSpans|result|batches|trace)"').match
# Jaeger's API response (and the UI's download of it), or one trace object
JAEGER_START = re.compile(rb'[ \t\r\n]*\{[ \t\r\n]*"(?:data|traceID)"').match

_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_GZIP_MAGIC = b"\x1f\x8b"


def sniff_document(doc: Any) -> str:
    """The format of one parsed JSON document."""
    if isinstance(doc, list):
        return _sniff_list(doc)
    if not isinstance(doc, dict):
        raise InputError(f"not a trace: the JSON is {_kind(doc)}, expected an object or a list")
    for key, fmt in (
        ("resourceSpans", "otlp-json"),
        ("data", "jaeger-json"),
        ("result", "jaeger-api-v3"),
        ("trace", "tempo-v2"),
        ("batches", "tempo-v1"),
        ("summaries", "jaeger-trace-summaries"),
        ("traces", "tempo-search"),
    ):
        if key in doc:
            return fmt
    if "spans" in doc and ("processes" in doc or "traceID" in doc):
        return "jaeger-json"
    if "resourceMetrics" in doc or "resourceLogs" in doc:
        raise InputError("the input holds OpenTelemetry metrics or logs, not traces")
    error = doc.get("error")
    if isinstance(error, dict) and "message" in error:
        raise InputError(f"the input is a Jaeger error response: {one_line(str(error['message']))}")
    if not doc:
        raise InputError("the input is an empty JSON object: no spans")
    keys = one_line(", ".join(sorted(map(str, doc))[:6]))
    raise InputError(
        f"unknown trace format: a JSON object with keys {keys}; "
        "expected Jaeger, Tempo, OTLP or Zipkin JSON"
    )


def _sniff_list(doc: list[Any]) -> str:
    if not doc:
        raise InputError("the input is an empty JSON list: no spans")
    first = doc[0]
    if isinstance(first, list):  # Zipkin /api/v2/traces: a list of traces
        return "zipkin-v2"
    if isinstance(first, dict):
        if "spans" in first:
            return "jaeger-json"
        if "binaryAnnotations" in first:
            raise InputError("Zipkin v1 JSON is not supported; export Zipkin v2 JSON instead")
        if "traceId" in first or "id" in first:
            return "zipkin-v2"
        if "resourceSpans" in first:
            return "otlp-json"
    raise InputError(
        "unknown trace format: a JSON list whose first item is neither a Zipkin span "
        "nor a Jaeger trace"
    )


def sniff_binary(head: bytes) -> str:
    if head.startswith(_ZSTD_MAGIC):
        raise InputError(
            "the input is zstd-compressed (a Collector file exporter with compression); "
            "decompress it first: zstd -d FILE"
        )
    if head.startswith(_GZIP_MAGIC):
        raise InputError("the input is gzip-compressed; decompress it first: gunzip FILE")
    if head[:1] == b"\x0a":
        return "otlp-proto"
    if len(head) >= 5 and head[4:5] == b"\x0a":
        return "otlp-proto-framed"
    raise InputError(
        "unknown trace format: the input is neither JSON nor OTLP protobuf "
        f"(it starts with {head[:8]!r})"
    )


class Sniffed:
    """The outcome of sniffing a payload: the format, how to read it, and any parse done."""

    def __init__(self, fmt: str, mode: str, doc: Any = None, has_doc: bool = False) -> None:
        self.fmt = fmt
        self.mode = mode  # "doc", "lines", "binary" or "fast" (unparsed, for the fast reader)
        self.doc = doc
        self.has_doc = has_doc


def sniff_payload(payload: InputReader, *, fast: bool = False) -> Sniffed:
    """How to read ``payload``. With ``fast``, a big OTLP-shaped or Jaeger document is not
    parsed here: it comes back unparsed in mode ``"fast"`` (see :mod:`obskit.ingest.otlp_structs`
    and :mod:`obskit.ingest.jaeger_structs`)."""
    head = payload.head
    stripped = head.lstrip()
    if not stripped:
        # Blank first line(s) -- or protobuf, whose first byte 0x0a is a newline.
        data = payload.read_all()
        body = data.lstrip()
        if not body:
            raise InputError("the input is empty: no trace data")
        if fast and looks_otlp_shaped(data):
            return Sniffed("", "fast", data, True)
        if body[:1] in (b"{", b"["):
            try:
                doc = orjson.loads(data)
            except orjson.JSONDecodeError:
                if data[:1] != b"\n":
                    load_json(data)  # raises the InputError naming the JSON problem
            else:
                return Sniffed(sniff_document(doc), "doc", doc, True)
        return Sniffed(sniff_binary(data), "binary", data, True)
    first = stripped[:1]
    if first == b"{":
        more: bool | None = None
        if fast and looks_otlp_shaped(head):
            more = payload.more_lines_follow()
            if not more:
                return Sniffed("", "fast", head, True)
        try:
            doc = orjson.loads(head)
        except orjson.JSONDecodeError:
            doc = None  # a pretty-printed document: the first line is not a whole object
        else:
            if payload.more_lines_follow() if more is None else more:
                return Sniffed(_line_format(doc), "lines", doc, True)
            return Sniffed(sniff_document(doc), "doc", doc, True)
        data = payload.read_all()
        if fast and looks_otlp_shaped(data):
            return Sniffed("", "fast", data, True)
        doc = load_json(data)
        return Sniffed(sniff_document(doc), "doc", doc, True)
    if first == b"[":
        doc = load_json(payload.read_all())
        return Sniffed(sniff_document(doc), "doc", doc, True)
    data = payload.read_all()
    return Sniffed(sniff_binary(data), "binary", data, True)


def looks_otlp_shaped(data: bytes) -> bool:
    """Is ``data`` big and, by its first key, an OTLP-shaped or Jaeger JSON object?"""
    return len(data) >= FAST_MIN_BYTES and (
        _OTLP_START(data) is not None or JAEGER_START(data) is not None
    )


def _line_format(doc: Any) -> str:
    if isinstance(doc, dict):
        if "result" in doc:
            return "jaeger-api-v3"
        if {"resourceSpans", "resourceMetrics", "resourceLogs"} & doc.keys():
            return "otlp-jsonl"
    got = "keys " + one_line(", ".join(sorted(doc)[:6])) if isinstance(doc, dict) else _kind(doc)
    raise InputError(f"line 1: expected an OTLP JSON object per line (resourceSpans), got {got}")


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return "null"
