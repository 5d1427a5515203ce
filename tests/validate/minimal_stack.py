"""A small hand-made stack in the generated layout: one service, every file the validators
read. Tests break one thing in it and expect exactly one precise failure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from obskit.stack.serialize import serialize

COLLECTOR: dict[str, Any] = {
    "receivers": {
        "otlp": {
            "protocols": {
                "grpc": {"endpoint": "0.0.0.0:4317"},
                "http": {"endpoint": "0.0.0.0:4318"},
            }
        }
    },
    "processors": {
        "memory_limiter": {"check_interval": "1s", "limit_percentage": 80},
        "batch": {},
    },
    "connectors": {"spanmetrics": {}, "servicegraph": {}},
    "exporters": {
        "otlp/tempo": {"endpoint": "tempo:4317", "tls": {"insecure": True}},
        "prometheus": {"endpoint": "0.0.0.0:8889"},
    },
    "extensions": {"health_check": {"endpoint": "0.0.0.0:13133"}},
    "service": {
        "extensions": ["health_check"],
        "pipelines": {
            "traces": {
                "receivers": ["otlp"],
                "processors": ["memory_limiter", "batch"],
                "exporters": ["otlp/tempo", "spanmetrics", "servicegraph"],
            },
            "metrics/traces": {
                "receivers": ["spanmetrics", "servicegraph"],
                "processors": ["batch"],
                "exporters": ["prometheus"],
            },
        },
        "telemetry": {"metrics": {"address": "0.0.0.0:8888"}},
    },
}

PROMETHEUS: dict[str, Any] = {
    "global": {"scrape_interval": "15s", "evaluation_interval": "15s"},
    "rule_files": ["rules/*.yml"],
    "alerting": {"alertmanagers": [{"static_configs": [{"targets": ["alertmanager:9093"]}]}]},
    "scrape_configs": [
        {"job_name": "api", "static_configs": [{"targets": ["host.docker.internal:9100"]}]},
        {"job_name": "prometheus", "static_configs": [{"targets": ["localhost:9090"]}]},
    ],
}

RULES: dict[str, Any] = {
    "groups": [
        {
            "name": "api",
            "rules": [
                {
                    "record": "job:http_requests:rate5m",
                    "expr": "sum by (job) (rate(http_server_request_duration_seconds_count[5m]))",
                },
                {
                    "alert": "ApiDown",
                    "expr": 'up{job="api"} == 0',
                    "for": "1m",
                    "labels": {"severity": "page", "service": "api"},
                    "annotations": {"summary": "api is down"},
                },
            ],
        }
    ]
}

RULE_TESTS: dict[str, Any] = {
    "rule_files": ["../rules/api.yml"],
    "evaluation_interval": "1m",
    "tests": [
        {
            "interval": "1m",
            "input_series": [{"series": 'up{job="api", instance="a:9100"}', "values": "0x5"}],
            "alert_rule_test": [
                {"eval_time": "0m", "alertname": "ApiDown", "exp_alerts": []},
                {
                    "eval_time": "2m",
                    "alertname": "ApiDown",
                    "exp_alerts": [
                        {
                            "exp_labels": {
                                "severity": "page",
                                "service": "api",
                                "job": "api",
                                "instance": "a:9100",
                            },
                            "exp_annotations": {"summary": "api is down"},
                        }
                    ],
                },
            ],
        }
    ],
}

ALERTMANAGER: dict[str, Any] = {
    "route": {"receiver": "webhook", "group_by": ["alertname", "service"]},
    "receivers": [
        {
            "name": "webhook",
            "webhook_configs": [{"url": "http://host.docker.internal:5001/alerts"}],
        }
    ],
}

BIND = "${OBSKIT_BIND:-127.0.0.1}"
HOST_GATEWAY = ["host.docker.internal:host-gateway"]
COMPOSE: dict[str, Any] = {
    "services": {
        "prometheus": {
            "image": "prom/prometheus:${PROMETHEUS_VERSION}",
            "command": ["--config.file=/etc/prometheus/prometheus.yml"],
            "ports": [f"{BIND}:9090:9090"],
            "volumes": ["./prometheus:/etc/prometheus:ro", "prometheus-data:/prometheus"],
            "extra_hosts": HOST_GATEWAY,
            "healthcheck": {
                "test": ["CMD", "wget", "-q", "--spider", "http://127.0.0.1:9090/-/ready"]
            },
        },
        "alertmanager": {
            "image": "prom/alertmanager:${ALERTMANAGER_VERSION}",
            "ports": [f"{BIND}:9093:9093"],
            "volumes": ["./alertmanager:/etc/alertmanager:ro"],
            "extra_hosts": HOST_GATEWAY,
            "depends_on": {"prometheus": {"condition": "service_started"}},
        },
        "collector": {
            "image": "otel/opentelemetry-collector-contrib:0.159.0",
            "ports": [f"{BIND}:4317:4317", f"{BIND}:4318:4318"],
            "volumes": ["./collectors/otel-collector.yaml:/etc/otelcol-contrib/config.yaml:ro"],
        },
        "grafana": {
            "image": "grafana/grafana:13.2.0",
            "ports": ["127.0.0.1:3000:3000"],
            "volumes": ["./grafana/provisioning:/etc/grafana/provisioning:ro"],
            "secrets": ["grafana_admin_password"],
            "depends_on": {
                "prometheus": {"condition": "service_healthy"},
                "collector": {"condition": "service_started"},
            },
        },
    },
    "volumes": {"prometheus-data": {}},
    "secrets": {"grafana_admin_password": {"file": "./secrets/grafana_admin_password"}},
}
ENV = {"PROMETHEUS_VERSION": "v3.14.0", "ALERTMANAGER_VERSION": "v0.34.0"}

DATASOURCES: dict[str, Any] = {
    "apiVersion": 1,
    "datasources": [
        {
            "name": "Prometheus",
            "type": "prometheus",
            "uid": "obskit-prometheus",
            "url": "http://prometheus:9090",
            "jsonData": {
                "exemplarTraceIdDestinations": [
                    {"name": "trace_id", "datasourceUid": "obskit-tempo"}
                ]
            },
        },
        {
            "name": "Tempo",
            "type": "tempo",
            "uid": "obskit-tempo",
            "url": "http://tempo:3200",
            "jsonData": {
                "tracesToMetrics": {
                    "datasourceUid": "obskit-prometheus",
                    "queries": [
                        {
                            "name": "Rate",
                            "query": "sum(rate(traces_span_metrics_calls_total{$$__tags}[5m]))",
                        }
                    ],
                }
            },
        },
    ],
}

PROM_REF = {"type": "prometheus", "uid": "obskit-prometheus"}
DASHBOARD: dict[str, Any] = {
    "uid": "obskit-red",
    "title": "RED",
    "schemaVersion": 41,
    "templating": {
        "list": [
            {
                "name": "service",
                "type": "query",
                "datasource": PROM_REF,
                "query": {"query": "label_values(target_info, job)", "refId": "A"},
            }
        ]
    },
    "panels": [
        {
            "id": 1,
            "type": "timeseries",
            "title": "Request rate",
            "datasource": PROM_REF,
            "targets": [
                {
                    "refId": "A",
                    "datasource": PROM_REF,
                    "expr": 'sum(rate(http_server_request_duration_seconds_count{job="$service"}[$__rate_interval]))',
                }
            ],
        }
    ],
}

# The spec the stack comes from, for the check of where host services listen.
SPEC: dict[str, Any] = {
    "project": "mini",
    "services": [{"name": "api", "port": 8100, "metrics_port": 9100}],
}
SECRET = "secrets/grafana_admin_password"

FILES: dict[str, Any] = {
    "collectors/otel-collector.yaml": COLLECTOR,
    "prometheus/prometheus.yml": PROMETHEUS,
    "prometheus/rules/api.yml": RULES,
    "prometheus/tests/api.yml": RULE_TESTS,
    "alertmanager/alertmanager.yml": ALERTMANAGER,
    "docker-compose.yml": COMPOSE,
    ".env": ENV,
    "grafana/provisioning/datasources/obskit.yaml": DATASOURCES,
    "grafana/dashboards/red.json": DASHBOARD,
    "obskit.yaml": SPEC,
    SECRET: "s3cret",
}


def write_stack(root: Path, files: dict[str, Any] | None = None) -> Path:
    """Files as ``obskit init`` leaves them: configs 0644 (the containers' users read them),
    the secret 0644 in a directory of mode 0700."""
    for rel, data in (FILES if files is None else files).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(data if isinstance(data, str) else serialize(rel, data), encoding="utf-8")
        path.chmod(0o644)
    if (root / "secrets").is_dir():
        (root / "secrets").chmod(0o700)
    return root
