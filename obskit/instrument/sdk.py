"""``configure()``: what ``obskit instrument`` does, from inside the service's own code.

Sets up the tracer provider (parent-based ratio sampler, batched OTLP export over the transport
the endpoint speaks), the meter provider (OTel's Prometheus exporter on the metrics port), log
correlation and every installed instrumentor whose library version it supports, as
``opentelemetry-instrument`` would.

Instrumentation must never take the host down: a problem (an unknown service name, a busy
metrics port, an instrumentor that fails) is logged and that part is skipped, unless the caller
asks for ``strict=True``.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from obskit.errors import ObskitError
from obskit.instrument import settings as names
from obskit.instrument.environment import buckets, resource_attributes
from obskit.instrument.settings import Settings, check_port_free, resolve

_log = logging.getLogger("obskit.instrument")
_lock = threading.Lock()
_current: Instrumentation | None = None


@dataclass
class Instrumentation:
    """What :func:`configure` set up; ``enabled`` is False when it could not start."""

    settings: Settings | None
    enabled: bool = True
    problems: list[str] = field(default_factory=list)
    instrumented: list[str] = field(default_factory=list)
    tracer_provider: Any = None
    meter_provider: Any = None

    def shutdown(self) -> None:
        """Flush and stop exporting (also done at interpreter exit)."""
        for provider in (self.tracer_provider, self.meter_provider):
            if provider is not None:
                provider.shutdown()


def configure(
    service_name: str | None = None,
    *,
    endpoint: str | None = None,
    metrics_port: int | None = None,
    spec: str | Path | None = None,
    instrument_libraries: bool = True,
    strict: bool = False,
) -> Instrumentation:
    """Instrument this process. A second call warns and returns the first result."""
    global _current
    with _lock:
        if _current is not None:
            warnings.warn(
                "obskit.instrument.configure() was already called; keeping the first setup",
                RuntimeWarning,
                stacklevel=3,  # the caller of obskit.instrument.configure
            )
            return _current
        try:
            found = resolve(
                service_name=service_name, endpoint=endpoint, metrics_port=metrics_port, spec=spec
            )
        except ObskitError as err:
            if strict:
                raise
            _log.error("obskit: instrumentation is off: %s", err)
            return Instrumentation(settings=None, enabled=False, problems=[str(err)])
        result = Instrumentation(settings=found)
        _setup_traces(found, result)
        _setup_metrics(found, result, strict)
        if instrument_libraries:
            _instrument_libraries(result)
        _current = result
        return result


def _setup_traces(found: Settings, result: Instrumentation) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    provider = TracerProvider(
        resource=_resource(found, Resource),
        sampler=ParentBased(TraceIdRatioBased(found.sampling_ratio)),
    )
    provider.add_span_processor(BatchSpanProcessor(_span_exporter(found)))
    trace.set_tracer_provider(provider)
    result.tracer_provider = provider


def _span_exporter(found: Settings) -> Any:
    """OTLP over the transport the endpoint speaks, gzipped."""
    if found.protocol == names.GRPC:
        import grpc
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        # an http:// endpoint means a plaintext channel to the gRPC exporter
        return OTLPSpanExporter(endpoint=found.endpoint, compression=grpc.Compression.Gzip)
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpSpanExporter,
    )

    return HttpSpanExporter(endpoint=f"{found.endpoint}/v1/traces", compression=Compression.Gzip)


def _setup_metrics(found: Settings, result: Instrumentation, strict: bool) -> None:
    from opentelemetry import metrics
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.resources import Resource

    from obskit.instrument.metrics import ObskitPrometheusReader

    try:
        check_port_free(found.metrics_host, found.metrics_port)
        reader = ObskitPrometheusReader(
            buckets(found), host=found.metrics_host, port=found.metrics_port
        )
    except (ObskitError, OSError) as err:
        if strict:
            raise
        result.problems.append(f"metrics are off: {err}")
        _log.warning("obskit: metrics are off: %s", err)
        return
    provider = MeterProvider(resource=_resource(found, Resource), metric_readers=[reader])
    metrics.set_meter_provider(provider)
    result.meter_provider = provider


def _resource(found: Settings, resource_cls: Any) -> Any:
    # Resource.create also merges OTEL_RESOURCE_ATTRIBUTES from the environment.
    return resource_cls.create({"service.name": found.service_name, **resource_attributes(found)})


def _instrument_libraries(result: Instrumentation) -> None:
    from opentelemetry.instrumentation.dependencies import get_dist_dependency_conflicts
    from opentelemetry.util._importlib_metadata import entry_points

    # Instrumentations read the opt-in when they instrument: the stable HTTP names are the
    # ones the generated rules and dashboards query.
    os.environ.setdefault(names.OTEL_SEMCONV_STABILITY_OPT_IN, "http")
    disabled = {
        name.strip()
        for name in os.environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "").split(",")
    }
    for entry_point in entry_points(group="opentelemetry_instrumentor"):
        if entry_point.name in disabled:
            continue
        try:
            if entry_point.dist is not None and get_dist_dependency_conflicts(entry_point.dist):
                continue  # the library is absent or a version it does not support
            instrumentor = entry_point.load()()
            if instrumentor.is_instrumented_by_opentelemetry:
                continue
            kwargs = {"set_logging_format": True} if entry_point.name == "logging" else {}
            instrumentor.instrument(**kwargs)
            result.instrumented.append(entry_point.name)
        except Exception as err:  # one bad instrumentor must not stop the host
            result.problems.append(f"{entry_point.name}: {err}")
            _log.warning("obskit: could not instrument %s: %s", entry_point.name, err)
