"""Traces in Jaeger's v1 query-API JSON (``uimodel.Trace``), from obskit's model.

The shapes follow Jaeger's own converter (trace-backends.md §1.3): microsecond times, typed
tags, processes ``p1``, ``p2`` … deduplicated, OTLP kind/status/scope as tags.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from obskit.model import Span, SpanKind, StatusCode, Trace

_MAX_SAFE_INT = 2**53 - 1


# Jaeger's tag type per Python type; the hot path of ingestion, so a lookup, not a chain of
# isinstance checks.
_TAG_TYPES = {str: "string", bool: "bool", int: "int64", float: "float64"}
_KIND_TAGS = {
    kind: {"key": "span.kind", "type": "string", "value": kind.name.lower()}
    for kind in SpanKind
    if kind is not SpanKind.UNSPECIFIED
}
_STATUS_TAGS = {
    status: {"key": "otel.status_code", "type": "string", "value": status.name}
    for status in StatusCode
    if status is not StatusCode.UNSET
}
_ERROR_TAG = {"key": "error", "type": "bool", "value": True}


def jaeger_tag(key: str, value: Any) -> dict[str, Any]:
    tag_type = _TAG_TYPES.get(type(value))
    if tag_type is None:
        return {"key": key, "type": "string", "value": orjson.dumps(value, default=str).decode()}
    if tag_type == "int64" and abs(value) > _MAX_SAFE_INT:
        return {"key": key, "type": "int64", "value": str(value)}  # as Jaeger sends big ints
    return {"key": key, "type": tag_type, "value": value}


def _tags(attributes: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [jaeger_tag(key, value) for key, value in attributes.items()]


def _span_tags(span: Span) -> list[dict[str, Any]]:
    tags = _tags(span.attributes) if span.attributes else []
    add_field_tags(tags, span.kind, span.scope, span.status, span.status_message)
    return tags


def add_field_tags(
    tags: list[dict[str, Any]], kind: SpanKind, scope: str, status: StatusCode, status_message: str
) -> None:
    """Append the tags Jaeger keeps a span's OTLP kind, scope and status in."""
    kind_tag = _KIND_TAGS.get(kind)
    if kind_tag is not None:
        tags.append(kind_tag)
    if scope:
        tags.append({"key": "otel.scope.name", "type": "string", "value": scope})
    status_tag = _STATUS_TAGS.get(status)
    if status_tag is not None:
        tags.append(status_tag)
        if status is StatusCode.ERROR:
            tags.append(_ERROR_TAG)
    if status_message:
        tags.append(jaeger_tag("otel.status_description", status_message))


def span_to_jaeger(span: Span) -> dict[str, Any]:
    """One span in Jaeger's JSON, without ``processID`` (see :func:`process_to_jaeger`)."""
    # Most spans have one reference and no links or events: skip the empty comprehensions
    # (this runs once per received span).
    references = [
        {"refType": ref.ref_type.value, "traceID": ref.trace_id, "spanID": ref.span_id}
        for ref in span.references
    ]
    if span.links:
        references += [
            {"refType": "FOLLOWS_FROM", "traceID": link.trace_id, "spanID": link.span_id}
            for link in span.links
        ]
    logs = (
        [
            {
                "timestamp": event.time_ns // 1000,
                "fields": [jaeger_tag("event", event.name), *_tags(event.attributes)],
            }
            for event in span.events
        ]
        if span.events
        else []
    )
    return jaeger_span(
        span.trace_id,
        span.span_id,
        span.name,
        references,
        span.start_ns,
        span.duration_ns,
        _span_tags(span),
        logs,
    )


def jaeger_span(
    trace_id: str,
    span_id: str,
    name: str,
    references: list[dict[str, Any]],
    start_ns: int,
    duration_ns: int,
    tags: list[dict[str, Any]],
    logs: list[dict[str, Any]],
) -> dict[str, Any]:
    """The span object of Jaeger's JSON (microsecond times), without ``processID``."""
    return {
        "traceID": trace_id,
        "spanID": span_id,
        "flags": 1,
        "operationName": name,
        "references": references,
        "startTime": start_ns // 1000,
        "duration": duration_ns // 1000,
        "tags": tags,
        "logs": logs,
        "warnings": None,
    }


def process_to_jaeger(span: Span) -> dict[str, Any]:
    tags = _tags({k: v for k, v in span.resource.items() if k != "service.name"})
    return jaeger_process(span.service, tags)


def jaeger_process(service: str, tags: list[dict[str, Any]]) -> dict[str, Any]:
    """The process object of Jaeger's JSON: the service and its resource's other tags."""
    return {"serviceName": service, "tags": tags}


def trace_to_jaeger(trace: Trace) -> dict[str, Any]:
    """A whole trace as Jaeger's ``uimodel.Trace`` (processes deduplicated as ``p1``, ``p2`` …)."""
    return orjson.loads(
        assemble_trace(
            trace.trace_id,
            [
                (orjson.dumps(span_to_jaeger(s)), orjson.dumps(process_to_jaeger(s)))
                for s in trace.spans
            ],
        )
    )


def assemble_trace(trace_id: str, fragments: Iterable[tuple[bytes, bytes]]) -> bytes:
    """A trace object from stored (span JSON, process JSON) pairs, without parsing them: the
    store keeps each span in Jaeger's format, so serving a trace is joining bytes."""
    process_ids: dict[bytes, bytes] = {}
    spans = []
    for span_json, process_json in fragments:
        process_id = process_ids.get(process_json)
        if process_id is None:
            process_id = process_ids[process_json] = b'"p%d"' % (len(process_ids) + 1)
        # `span_json` is a JSON object: add the processID before its closing brace
        spans.append(span_json[:-1] + b',"processID":' + process_id + b"}")
    processes = b",".join(pid + b":" + proc for proc, pid in process_ids.items())
    return (
        b'{"traceID":' + orjson.dumps(trace_id) + b',"spans":[' + b",".join(spans)
        + b'],"processes":{' + processes + b'},"warnings":null}'
    )  # fmt: skip


def envelope(data: Any, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Jaeger's ``structuredResponse``."""
    total = len(data) if isinstance(data, list) else 0
    return {"data": data, "total": total, "limit": 0, "offset": 0, "errors": errors}
