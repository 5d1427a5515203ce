"""Finished OpenTelemetry SDK spans, for feeding the SDK's own exporters."""

from __future__ import annotations

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode


def record_spans(count: int, service: str = "checkout") -> tuple[list[ReadableSpan], str]:
    """``count`` finished SDK spans of one trace (a SERVER root and CLIENT children)."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("grpc-test")
    with tracer.start_as_current_span("POST /checkout", kind=SpanKind.SERVER) as root:
        for i in range(count - 1):
            with tracer.start_as_current_span(f"call-{i % 5}", kind=SpanKind.CLIENT) as child:
                child.set_attribute("server.address", "api.gateway.example")
                if i == 0:
                    child.set_status(Status(StatusCode.ERROR, "gateway said no"))
    provider.shutdown()
    return list(memory.get_finished_spans()), format(root.get_span_context().trace_id, "032x")
