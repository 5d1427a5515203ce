"""OTLP export requests built with the real opentelemetry-proto classes."""

from __future__ import annotations

import os
import time

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span


def export_request(
    trace_id: bytes | None = None,
    spans: int = 10,
    service: str = "checkout",
    start_ns: int | None = None,
    span_duration_ns: int = 1_000_000,
) -> tuple[bytes, str]:
    """A one-trace request: a root SERVER span and ``spans - 1`` CLIENT children.
    Returns (serialized request, trace id hex)."""
    trace_id = trace_id or os.urandom(16)
    start_ns = time.time_ns() if start_ns is None else start_ns
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.append(
        KeyValue(key="service.name", value=AnyValue(string_value=service))
    )
    scope_spans = resource_spans.scope_spans.add()
    root_id = os.urandom(8)
    for i in range(spans):
        span = scope_spans.spans.add()
        span.trace_id = trace_id
        span.span_id = root_id if i == 0 else os.urandom(8)
        if i:
            span.parent_span_id = root_id
        span.name = "POST /checkout" if i == 0 else f"call-{i % 7}"
        span.kind = Span.SPAN_KIND_SERVER if i == 0 else Span.SPAN_KIND_CLIENT
        span.start_time_unix_nano = start_ns + i * 1000
        span.end_time_unix_nano = (
            start_ns + i * 1000 + (span_duration_ns * spans if i == 0 else span_duration_ns)
        )
        span.attributes.append(KeyValue(key="http.route", value=AnyValue(string_value="/checkout")))
    return request.SerializeToString(), trace_id.hex()
