"""The OpenTelemetry Collector config: ``collectors/otel-collector.yaml``, plus the trace
backend's own config (:mod:`obskit.stack.traces_backend`), since compose runs both.

Component names and keys follow otelcol-contrib 0.159.0 (the image compose pins): the
snake_case names (``span_metrics``, ``service_graph``, ``otlp_grpc``) that replaced the old
ones; the old names still load but log a deprecation warning at every start.

Traces: OTLP in -> ``memory_limiter`` (first, so overload is refused before anything holds the
data) -> ``resource`` (project and environment on every span) -> the trace backend, and into
the ``span_metrics`` and ``service_graph`` connectors, whose metrics the ``prometheus``
exporter serves on :data:`EXPORTER_PORT` for Prometheus to scrape. Batching is done by the
exporter's sending queue (the batch processor is being retired: exporter-side batching
propagates back-pressure). The Collector's own metrics are served on :data:`SELF_METRICS_PORT`.
"""

from __future__ import annotations

from typing import Any

from obskit.stack import ports, traces_backend
from obskit.stack import vocabulary as v
from obskit.stack.spec import Spec

PATH = "collectors/otel-collector.yaml"

# Ports inside the collector container (docker-compose service name: COMPOSE_SERVICE).
COMPOSE_SERVICE = "otel-collector"
OTLP_GRPC_PORT = ports.OTLP_GRPC
OTLP_HTTP_PORT = ports.OTLP_HTTP
HEALTH_PORT = 13133
SELF_METRICS_PORT = 8888
EXPORTER_PORT = 8889
# Inside the container the collector must listen on every interface (its defaults are
# localhost, unreachable from Prometheus); compose publishes only the OTLP ports, on loopback.
ANY = "0.0.0.0"

MEMORY_LIMIT_PERCENT = 80
MEMORY_SPIKE_PERCENT = 25
FLUSH_INTERVAL = "15s"  # = Prometheus' scrape interval
SPAN_METRICS_EXPIRATION = "10m"  # stop exporting series of spans not seen for this long
SPAN_METRICS_CARDINALITY_LIMIT = 5000  # per metric: protects the collector from an OOM


def files(spec: Spec) -> dict[str, Any]:
    return {PATH: config(spec), **traces_backend.files(spec)}


def duration_text(seconds: float) -> str:
    """A bucket bound as a Go duration: ``0.3`` -> ``300ms``, ``2.0`` -> ``2s``."""
    ms = round(seconds * 1000)
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def buckets(spec: Spec) -> list[str]:
    return [duration_text(b) for b in v.histogram_buckets_s(spec.latency_thresholds_ms)]


def config(spec: Spec) -> dict[str, Any]:
    backend = traces_backend.exporter_id(spec)
    return {
        "extensions": {"health_check": {"endpoint": f"{ANY}:{HEALTH_PORT}"}},
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {"endpoint": f"{ANY}:{OTLP_GRPC_PORT}"},
                    "http": {"endpoint": f"{ANY}:{OTLP_HTTP_PORT}"},
                }
            }
        },
        "processors": {
            "memory_limiter": {
                "check_interval": "1s",
                "limit_percentage": MEMORY_LIMIT_PERCENT,
                "spike_limit_percentage": MEMORY_SPIKE_PERCENT,
            },
            "resource": {"attributes": resource_attributes(spec)},
        },
        "connectors": {
            "span_metrics": span_metrics(spec),
            "service_graph": service_graph(spec),
        },
        "exporters": {
            backend: traces_backend.exporter(spec),
            "prometheus": {
                "endpoint": f"{ANY}:{EXPORTER_PORT}",
                # Exemplars (trace ids on histogram buckets) exist only in OpenMetrics.
                "enable_open_metrics": True,
                "metric_expiration": SPAN_METRICS_EXPIRATION,
            },
        },
        "service": {
            "extensions": ["health_check"],
            "telemetry": {
                "metrics": {
                    "level": "normal",
                    "readers": [{"pull": {"exporter": {"prometheus": _self_metrics_exporter()}}}],
                }
            },
            "pipelines": {
                "traces": {
                    "receivers": ["otlp"],
                    "processors": ["memory_limiter", "resource"],
                    "exporters": [backend, "span_metrics", "service_graph"],
                },
                # Metrics derived from the traces; they passed the limiter as spans.
                "metrics/traces": {
                    "receivers": ["span_metrics", "service_graph"],
                    "exporters": ["prometheus"],
                },
            },
        },
    }


def resource_attributes(spec: Spec) -> list[dict[str, str]]:
    """Deployment environment on every span (the stable key and the pre-1.27 one that
    Grafana and Jaeger still read); the project as ``service.namespace`` unless the service
    set its own."""
    return [
        {"key": "deployment.environment.name", "value": spec.environment, "action": "upsert"},
        {"key": "deployment.environment", "value": spec.environment, "action": "upsert"},
        {"key": "service.namespace", "value": spec.project, "action": "insert"},
    ]


def span_metrics(spec: Spec) -> dict[str, Any]:
    return {
        "namespace": v.SPAN_METRICS_NAMESPACE,
        "histogram": {"unit": "s", "explicit": {"buckets": buckets(spec)}},
        "dimensions": [{"name": name} for name in v.SPAN_DIMENSIONS],
        "exemplars": {"enabled": True},
        "aggregation_cardinality_limit": SPAN_METRICS_CARDINALITY_LIMIT,
        "metrics_flush_interval": FLUSH_INTERVAL,
        "metrics_expiration": SPAN_METRICS_EXPIRATION,
    }


def service_graph(spec: Spec) -> dict[str, Any]:
    """Edges from client/server span pairs. The connector has no exemplar support; its
    latency buckets match the span metrics' so both answer the same threshold questions."""
    return {
        "latency_histogram_buckets": buckets(spec),
        "store": {"ttl": "10s", "max_items": 10000},
        "metrics_flush_interval": FLUSH_INTERVAL,
    }


def _self_metrics_exporter() -> dict[str, Any]:
    """The Collector's own metrics on SELF_METRICS_PORT, named as Prometheus names counters.

    Since 0.1xx the Collector leaves out the ``_total`` and unit suffixes by default
    (``otelcol_receiver_accepted_spans``); saying so here keeps the names the dashboards and
    alerts query (``otelcol_receiver_accepted_spans_total``) whatever the default becomes."""
    return {
        "host": ANY,
        "port": SELF_METRICS_PORT,
        "without_type_suffix": False,
        "without_units": False,
    }
