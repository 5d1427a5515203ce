"""Grafana datasource provisioning: Prometheus, the traces backend and Alertmanager, with uids
fixed so that dashboards and cross-links can name them.

Links run both ways: a Prometheus exemplar's ``trace_id`` label opens the trace in Tempo or
Jaeger, and a span opens its service's span-metrics rate, errors and latency in Prometheus.
"""

from __future__ import annotations

from typing import Any

from obskit.stack import prometheus as prometheus_config
from obskit.stack import traces_backend
from obskit.stack import vocabulary as v
from obskit.stack.grafana.queries import ERROR_SPANS, SERVER_SPANS
from obskit.stack.spec import Spec

PROMETHEUS_UID = "obskit-prometheus"
TEMPO_UID = "obskit-tempo"
JAEGER_UID = "obskit-jaeger"
ALERTMANAGER_UID = "obskit-alertmanager"

# In-network URLs: the host names are docker-compose service names.
PROMETHEUS_URL = f"http://prometheus:{prometheus_config.PORT}"
TEMPO_URL = f"http://tempo:{traces_backend.TEMPO_HTTP_PORT}"
JAEGER_URL = f"http://jaeger:{traces_backend.JAEGER_UI_PORT}"
ALERTMANAGER_URL = f"http://alertmanager:{prometheus_config.ALERTMANAGER_PORT}"

# The exemplar label the span-metrics connector writes (a Grafana destination must match it).
EXEMPLAR_TRACE_LABEL = "trace_id"


def traces_uid(spec: Spec) -> str:
    return JAEGER_UID if spec.traces_backend == "jaeger" else TEMPO_UID


def traces_type(spec: Spec) -> str:
    return "jaeger" if spec.traces_backend == "jaeger" else "tempo"


def uids(spec: Spec) -> dict[str, str]:
    """Provisioned datasource uid -> type."""
    return {
        PROMETHEUS_UID: "prometheus",
        traces_uid(spec): traces_type(spec),
        ALERTMANAGER_UID: "alertmanager",
    }


def _escape(query: str) -> str:
    # Grafana expands $VAR / ${VAR} from the environment in provisioning files; `$$` is a
    # literal `$`, so Grafana's own `$__tags` macro must be written `$$__tags`.
    return query.replace("$", "$$")


def _traces_to_metrics() -> dict[str, Any]:
    """From a span to its service's span metrics (``service.name`` -> ``service_name``)."""
    server = f"{{$__tags, {SERVER_SPANS}}}"
    queries = [
        ("Request rate", f"sum(rate({v.SPAN_CALLS}{server}[5m]))"),
        (
            "Error rate",
            f"sum(rate({v.SPAN_CALLS}{{$__tags, {ERROR_SPANS}}}[5m]))",
        ),
        (
            "p95 latency",
            f"histogram_quantile(0.95, sum by (le) (rate({v.SPAN_DURATION}_bucket{server}[5m])))",
        ),
    ]
    return {
        "datasourceUid": PROMETHEUS_UID,
        "spanStartTimeShift": "-5m",
        "spanEndTimeShift": "5m",
        "tags": [{"key": "service.name", "value": v.SPAN_SERVICE}],
        "queries": [{"name": name, "query": _escape(query)} for name, query in queries],
    }


def prometheus(traces: str) -> dict[str, Any]:
    return {
        "name": "Prometheus",
        "type": "prometheus",
        "uid": PROMETHEUS_UID,
        "access": "proxy",
        "url": PROMETHEUS_URL,
        "isDefault": True,
        "editable": False,
        "jsonData": {
            "httpMethod": "POST",
            # The scrape interval is the smallest step worth asking for ($__rate_interval
            # builds on it).
            "timeInterval": prometheus_config.SCRAPE_INTERVAL,
            "exemplarTraceIdDestinations": [
                {
                    "name": EXEMPLAR_TRACE_LABEL,
                    "datasourceUid": traces,
                    "urlDisplayLabel": "View trace",
                }
            ],
        },
    }


def tempo() -> dict[str, Any]:
    return {
        "name": "Tempo",
        "type": "tempo",
        "uid": TEMPO_UID,
        "access": "proxy",
        "url": TEMPO_URL,
        "editable": False,
        "jsonData": {
            "serviceMap": {"datasourceUid": PROMETHEUS_UID},
            "nodeGraph": {"enabled": True},
            "search": {"hide": False},
            "tracesToMetrics": _traces_to_metrics(),
            "streamingEnabled": {"search": False},
        },
    }


def jaeger() -> dict[str, Any]:
    return {
        "name": "Jaeger",
        "type": "jaeger",
        "uid": JAEGER_UID,
        "access": "proxy",
        "url": JAEGER_URL,
        "editable": False,
        "jsonData": {
            "nodeGraph": {"enabled": True},
            "tracesToMetrics": _traces_to_metrics(),
        },
    }


def alertmanager() -> dict[str, Any]:
    return {
        "name": "Alertmanager",
        "type": "alertmanager",
        "uid": ALERTMANAGER_UID,
        "access": "proxy",
        "url": ALERTMANAGER_URL,
        "editable": False,
        "jsonData": {"implementation": "prometheus", "handleGrafanaManagedAlerts": False},
    }


def provisioning(spec: Spec) -> dict[str, Any]:
    """``grafana/provisioning/datasources/obskit.yaml``."""
    traces = jaeger() if spec.traces_backend == "jaeger" else tempo()
    return {
        "apiVersion": 1,
        # Datasources a previous generation provisioned but this one does not (tempo -> jaeger)
        # are removed instead of lingering with a dead URL.
        "prune": True,
        "datasources": [prometheus(traces_uid(spec)), traces, alertmanager()],
    }
