"""The trace backend compose runs: Tempo (default) or Jaeger v2, and the Collector exporter
that feeds it.

* ``tempo/tempo.yaml``: Tempo 3 in monolithic mode (``-target=all``, no Kafka), local block
  storage on the ``tempo-data`` volume, OTLP gRPC in on :data:`OTLP_GRPC_PORT`, query API on
  :data:`TEMPO_HTTP_PORT`. The metrics-generator stays off: the Collector's connectors are the
  one source of span metrics and service-graph metrics, whichever backend runs.
* ``jaeger/jaeger.yaml``: Jaeger v2 (itself a Collector build) with Badger storage on the
  ``jaeger-data`` volume, the query UI/API on :data:`JAEGER_UI_PORT` and a health endpoint.
"""

from __future__ import annotations

from typing import Any

from obskit.stack import ports
from obskit.stack.spec import Spec

TEMPO_CONFIG = "tempo/tempo.yaml"
JAEGER_CONFIG = "jaeger/jaeger.yaml"

OTLP_GRPC_PORT = ports.OTLP_GRPC
TEMPO_HTTP_PORT = ports.TEMPO_HTTP
JAEGER_UI_PORT = ports.JAEGER_UI
JAEGER_HEALTH_PORT = 13133
TEMPO_DATA = "/var/tempo"  # owned by the image's tempo user (uid 10001)
JAEGER_DATA = "/tmp"  # the jaeger image's only writable volume for uid 10001


def compose_service(spec: Spec) -> str:
    return "jaeger" if spec.traces_backend == "jaeger" else "tempo"


def exporter_id(spec: Spec) -> str:
    return f"otlp_grpc/{compose_service(spec)}"


def exporter(spec: Spec) -> dict[str, Any]:
    """OTLP/gRPC to the backend inside the compose network, batched in the sending queue."""
    return {
        "endpoint": f"{compose_service(spec)}:{OTLP_GRPC_PORT}",
        "tls": {"insecure": True},  # in-network hop; nothing leaves the compose network
        "sending_queue": {
            "enabled": True,
            "sizer": "items",
            "queue_size": 50000,
            "batch": {"flush_timeout": "1s", "min_size": 2048, "max_size": 8192},
        },
        "retry_on_failure": {"enabled": True, "max_elapsed_time": "5m"},
    }


def files(spec: Spec) -> dict[str, Any]:
    if spec.traces_backend == "jaeger":
        return {JAEGER_CONFIG: jaeger(spec)}
    return {TEMPO_CONFIG: tempo(spec)}


def tempo(spec: Spec) -> dict[str, Any]:
    retention = f"{spec.retention_days * 24}h"
    return {
        "stream_over_http_enabled": True,
        "server": {"http_listen_port": TEMPO_HTTP_PORT, "log_level": "info"},
        "distributor": {
            "receivers": {
                "otlp": {"protocols": {"grpc": {"endpoint": f"0.0.0.0:{OTLP_GRPC_PORT}"}}}
            }
        },
        "backend_scheduler": {
            "provider": {"compaction": {"compaction": {"block_retention": retention}}}
        },
        "backend_worker": {"compaction": {"block_retention": retention}},
        "storage": {
            "trace": {
                "backend": "local",
                "wal": {"path": f"{TEMPO_DATA}/wal"},
                "local": {"path": f"{TEMPO_DATA}/blocks"},
            }
        },
        "usage_report": {"reporting_enabled": False},
    }


def jaeger(spec: Spec) -> dict[str, Any]:
    store = "traces"
    return {
        "service": {
            "extensions": ["jaeger_storage", "jaeger_query", "healthcheckv2"],
            "pipelines": {
                "traces": {
                    "receivers": ["otlp"],
                    "processors": ["memory_limiter"],
                    "exporters": ["jaeger_storage_exporter"],
                }
            },
        },
        "extensions": {
            "healthcheckv2": {
                "use_v2": True,
                "http": {"endpoint": f"0.0.0.0:{JAEGER_HEALTH_PORT}"},
            },
            "jaeger_query": {
                "storage": {"traces": store},
                "http": {"endpoint": f"0.0.0.0:{JAEGER_UI_PORT}"},
            },
            "jaeger_storage": {
                "backends": {
                    store: {
                        "badger": {
                            "directories": {
                                "keys": f"{JAEGER_DATA}/jaeger/keys",
                                "values": f"{JAEGER_DATA}/jaeger/values",
                            },
                            "ephemeral": False,
                            "ttl": {"spans": f"{spec.retention_days * 24}h"},
                        }
                    }
                }
            },
        },
        "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": f"0.0.0.0:{OTLP_GRPC_PORT}"}}}},
        "processors": {
            "memory_limiter": {
                "check_interval": "1s",
                "limit_percentage": 80,
                "spike_limit_percentage": 25,
            }
        },
        "exporters": {"jaeger_storage_exporter": {"trace_storage": store}},
    }
