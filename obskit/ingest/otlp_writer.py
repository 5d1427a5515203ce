"""Trace → OTLP/JSON ``TracesData`` dict (spec encoding: hex ids, integer enums, int64 strings).

The inverse of :mod:`obskit.ingest.otlp_json` for what OTLP can say: the first ``CHILD_OF``
reference within the trace becomes ``parentSpanId``; every other reference becomes a link whose
only attribute is ``opentracing.ref_type`` (as Jaeger stores them), which the reader turns back
into a reference. Spans sharing a resource object and scope share one ``resourceSpans`` /
``scopeSpans`` entry. Serialize the dict with ``orjson.dumps``.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from typing import Any

from obskit.ingest.otlp_json import REF_TYPE_ATTRIBUTE
from obskit.model import RefType, Span, Trace


def traces_to_otlp(traces: Iterable[Trace]) -> dict[str, Any]:
    """Several traces as one ``{"resourceSpans": [...]}``."""
    return spans_to_otlp(span for trace in traces for span in trace.spans)


def trace_to_otlp(trace: Trace) -> dict[str, Any]:
    return spans_to_otlp(trace.spans)


def spans_to_otlp(spans: Iterable[Span]) -> dict[str, Any]:
    resources: dict[tuple[int, str], dict[str, Any]] = {}
    scopes: dict[tuple[int, str, str], list[dict[str, Any]]] = {}
    for span in spans:
        rkey = (id(span.resource), span.service)
        entry = resources.get(rkey)
        if entry is None:
            attrs = dict(span.resource)
            attrs["service.name"] = span.service
            entry = resources[rkey] = {
                "resource": {"attributes": _key_values(attrs)},
                "scopeSpans": [],
            }
        skey = (*rkey, span.scope)
        bucket = scopes.get(skey)
        if bucket is None:
            bucket = scopes[skey] = []
            scope: dict[str, Any] = {"name": span.scope} if span.scope else {}
            entry["scopeSpans"].append({"scope": scope, "spans": bucket})
        bucket.append(span_to_otlp(span))
    return {"resourceSpans": list(resources.values())}


def span_to_otlp(span: Span) -> dict[str, Any]:
    parent = ""
    links: list[dict[str, Any]] = []
    for ref in span.references:
        if not parent and ref.ref_type is RefType.CHILD_OF and ref.trace_id == span.trace_id:
            parent = ref.span_id
            continue
        word = "child_of" if ref.ref_type is RefType.CHILD_OF else "follows_from"
        links.append(
            {
                "traceId": ref.trace_id,
                "spanId": ref.span_id,
                "attributes": [{"key": REF_TYPE_ATTRIBUTE, "value": {"stringValue": word}}],
            }
        )
    links.extend(
        {"traceId": ln.trace_id, "spanId": ln.span_id, "attributes": _key_values(ln.attributes)}
        for ln in span.links
    )
    status: dict[str, Any] = {}
    if span.status:
        status["code"] = int(span.status)
    if span.status_message:
        status["message"] = span.status_message
    out: dict[str, Any] = {
        "traceId": span.trace_id,
        "spanId": span.span_id,
        "parentSpanId": parent,
        "name": span.name,
        "kind": int(span.kind),
        "startTimeUnixNano": str(span.start_ns),
        "endTimeUnixNano": str(span.end_ns),
        "attributes": _key_values(span.attributes),
        "status": status,
    }
    if span.events:
        out["events"] = [
            {
                "timeUnixNano": str(ev.time_ns),
                "name": ev.name,
                "attributes": _key_values(ev.attributes),
            }
            for ev in span.events
        ]
    if links:
        out["links"] = links
    return out


def _key_values(attrs: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"key": key, "value": any_value(value)} for key, value in attrs.items()]


def any_value(value: Any) -> dict[str, Any]:
    """A Python value → OTLP/JSON ``AnyValue``."""
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            text = "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
            return {"doubleValue": text}
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, (bytes, bytearray)):
        return {"bytesValue": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, Mapping):
        return {"kvlistValue": {"values": _key_values(value)}}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    return {"stringValue": str(value)}
