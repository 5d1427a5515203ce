"""Traces in Jaeger's v1 query-API JSON (``uimodel.Trace``), from obskit's model.

The shapes follow Jaeger's own converter (trace-backends.md §1.3): microsecond times, typed
tags, processes ``p1``, ``p2`` … deduplicated, OTLP kind/status/scope as tags.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from obskit.model import Span, SpanKind, StatusCode, Trace

_MAX_SAFE_INT = 2**53 - 1


def jaeger_tag(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "type": "bool", "value": value}
    if isinstance(value, int):
        if abs(value) > _MAX_SAFE_INT:  # beyond JSON's safe integers Jaeger sends a string
            return {"key": key, "type": "int64", "value": str(value)}
        return {"key": key, "type": "int64", "value": value}
    if isinstance(value, float):
        return {"key": key, "type": "float64", "value": value}
    if isinstance(value, str):
        return {"key": key, "type": "string", "value": value}
    return {"key": key, "type": "string", "value": orjson.dumps(value, default=str).decode()}


def _tags(attributes: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [jaeger_tag(key, value) for key, value in attributes.items()]


def _span_tags(span: Span) -> list[dict[str, Any]]:
    tags = _tags(span.attributes)
    if span.kind is not SpanKind.UNSPECIFIED:
        tags.append(jaeger_tag("span.kind", span.kind.name.lower()))
    if span.scope:
        tags.append(jaeger_tag("otel.scope.name", span.scope))
    if span.status is not StatusCode.UNSET:
        tags.append(jaeger_tag("otel.status_code", span.status.name))
    if span.status is StatusCode.ERROR:
        tags.append(jaeger_tag("error", True))
    if span.status_message:
        tags.append(jaeger_tag("otel.status_description", span.status_message))
    return tags


def trace_to_jaeger(trace: Trace) -> dict[str, Any]:
    processes: dict[str, dict[str, Any]] = {}
    process_ids: dict[bytes, str] = {}
    spans = []
    for span in trace.spans:
        process = {
            "serviceName": span.service,
            "tags": _tags({k: v for k, v in span.resource.items() if k != "service.name"}),
        }
        key = orjson.dumps(process)
        process_id = process_ids.get(key)
        if process_id is None:
            process_id = process_ids[key] = f"p{len(process_ids) + 1}"
            processes[process_id] = process
        references = [
            {"refType": ref.ref_type.value, "traceID": ref.trace_id, "spanID": ref.span_id}
            for ref in span.references
        ]
        references += [
            {"refType": "FOLLOWS_FROM", "traceID": link.trace_id, "spanID": link.span_id}
            for link in span.links
        ]
        spans.append(
            {
                "traceID": span.trace_id,
                "spanID": span.span_id,
                "flags": 1,
                "operationName": span.name,
                "references": references,
                "startTime": span.start_ns // 1000,
                "duration": span.duration_ns // 1000,
                "tags": _span_tags(span),
                "logs": [
                    {
                        "timestamp": event.time_ns // 1000,
                        "fields": [jaeger_tag("event", event.name), *_tags(event.attributes)],
                    }
                    for event in span.events
                ],
                "processID": process_id,
                "warnings": None,
            }
        )
    return {"traceID": trace.trace_id, "spans": spans, "processes": processes, "warnings": None}


def envelope(data: Any, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Jaeger's ``structuredResponse``."""
    total = len(data) if isinstance(data, list) else 0
    return {"data": data, "total": total, "limit": 0, "offset": 0, "errors": errors}
