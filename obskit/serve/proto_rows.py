"""OTLP protobuf request bodies straight to store rows, in the common shape.

Decoding is most of what ingestion costs, and the careful path builds every span twice: once
as obskit's model, once as Jaeger's JSON. Spans as the SDKs send them (ids of full length,
scalar attributes with distinct keys, no events, no links) go straight from the protobuf
message to the rows. For anything else :func:`proto_rows` returns None, and the body takes the
careful path (:func:`obskit.serve.decoding.decode_rows`), which gives the same rows or names
the problem. ``tests/serve/test_proto_rows.py`` holds the two paths to the same rows.
"""

from __future__ import annotations

from typing import Any

import orjson

from obskit.ingest.values import MAX_TIME_NS, Bad, otlp_kind, otlp_status, service_name
from obskit.model import StatusCode
from obskit.serve.jaeger_json import add_field_tags, jaeger_process, jaeger_span, jaeger_tag

Rows = list[tuple[Any, ...]]
Tags = list[dict[str, Any]]

# The AnyValue cases read as they are: the careful path gives them the same Python types.
_SCALARS = frozenset({"string_value", "bool_value", "int_value", "double_value"})
_ERROR = StatusCode.ERROR
# Attributes the careful path turns into warnings or drops (Jaeger's, carried through OTLP).
_SPECIAL_KEYS = frozenset({"@jaeger@warnings", "@jaeger@format"})


def proto_rows(payload: bytes) -> Rows | None:
    """The rows of every span in an ``ExportTraceServiceRequest`` (grouped by trace, traces in
    first-seen order, as the careful path groups them), or None when the body is not the
    common shape (or not valid protobuf: the careful path says why)."""
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.trace.v1.trace_pb2 import TracesData

    try:
        message = TracesData.FromString(payload)
    except (DecodeError, ValueError, RuntimeError):
        return None
    by_trace: dict[bytes, Rows] = {}
    for resource_spans in message.resource_spans:
        resource = _tags(resource_spans.resource.attributes)
        if resource is None:
            return None
        # a name is a string tag: any other type makes the service unknown, as service_name says
        names = [
            t["value"] for t in resource if t["key"] == "service.name" and t["type"] == "string"
        ]
        service = service_name(names[0] if names else None)
        tags = [tag for tag in resource if tag["key"] != "service.name"]
        process = orjson.dumps(jaeger_process(service, tags))
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope.name
            for span in scope_spans.spans:
                row = _row(span, service, scope, process)
                if row is None:
                    return None
                by_trace.setdefault(span.trace_id, []).append(row)
    return [row for rows in by_trace.values() for row in rows]


def _row(span: Any, service: str, scope: str, process: bytes) -> tuple[Any, ...] | None:
    trace_id, span_id, parent_id = span.trace_id, span.span_id, span.parent_span_id
    if len(trace_id) != 16 or len(span_id) != 8 or len(parent_id) not in (0, 8):
        return None
    if not (any(trace_id) and any(span_id)):
        return None
    if span.events or span.links:
        return None
    start, end = span.start_time_unix_nano, span.end_time_unix_nano
    if end < start or end > MAX_TIME_NS:
        return None
    status = span.status
    try:
        kind, code = otlp_kind(span.kind), otlp_status(status.code)
    except Bad:  # a kind or code this obskit does not know: the careful path names it
        return None
    tags = _tags(span.attributes)
    if tags is None:
        return None
    add_field_tags(tags, kind, scope, code, status.message)
    tid, sid, name = trace_id.hex(), span_id.hex(), span.name
    parent = parent_id.hex() if any(parent_id) else ""  # all zeros: no parent
    references = [{"refType": "CHILD_OF", "traceID": tid, "spanID": parent}] if parent else []
    body = jaeger_span(tid, sid, name, references, start, end - start, tags, [])
    return (
        tid, sid, parent, service, name, int(kind), start, end - start,
        int(code is _ERROR), orjson.dumps(body), process,
    )  # fmt: skip


def _tags(key_values: Any) -> Tags | None:
    """Jaeger tags for attributes with distinct keys and scalar values; else None."""
    tags = []
    keys = set()
    for key_value in key_values:
        value = key_value.value
        which = value.WhichOneof("value")
        if which not in _SCALARS:
            return None
        key = key_value.key
        keys.add(key)
        tags.append(jaeger_tag(key, getattr(value, which)))
    if len(keys) != len(tags) or not keys.isdisjoint(_SPECIAL_KEYS):
        return None
    return tags
