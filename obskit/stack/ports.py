"""The host ports the generated stack publishes (on ``127.0.0.1``, see ``OBSKIT_BIND``).

The compose generator publishes exactly :func:`published` for a spec, and the spec refuses a
service port among them: the services run on the same host, so one of the two would fail to
bind. (This module imports nothing of the stack: the spec's checks use it too.)
"""

from __future__ import annotations

GRAFANA = 3000
TEMPO_HTTP = 3200
OTLP_GRPC = 4317
OTLP_HTTP = 4318
PROMETHEUS = 9090
ALERTMANAGER = 9093
JAEGER_UI = 16686


def published(traces_backend: str) -> dict[int, str]:
    """Port -> what publishes it, for a stack with this traces backend (tempo or jaeger)."""
    backend = (
        {TEMPO_HTTP: "Tempo's query API"}
        if traces_backend == "tempo"
        else {JAEGER_UI: "the Jaeger UI"}
    )
    return {
        OTLP_GRPC: "the Collector's OTLP/gRPC receiver",
        OTLP_HTTP: "the Collector's OTLP/HTTP receiver",
        **backend,
        PROMETHEUS: "Prometheus",
        ALERTMANAGER: "Alertmanager",
        GRAFANA: "Grafana",
    }
