"""``prometheus/prometheus.yml``: what Prometheus scrapes, where its rules are, where alerts go.

* One scrape job per service, named after the service: rules and dashboards select a
  service's own HTTP histograms by ``job`` (:data:`obskit.stack.promql.SERVICE_LABEL`),
  because OTel's Prometheus exporter adds no service label to them.
* The services run on the host, not in compose, so Prometheus (in a container) reaches them at
  ``host.docker.internal:<metrics_port>``; compose maps that name to the host with
  ``extra_hosts: host.docker.internal:host-gateway`` (Linux needs it; Docker Desktop has it).
  The services must listen where the container can reach them (the docker bridge, not only
  127.0.0.1): ``obskit instrument`` listens on the docker0 address by default (the spec's
  ``metrics_host``).
* The Collector twice: its own telemetry (:data:`JOB_COLLECTOR`) and the span/service-graph
  metrics its ``prometheus`` exporter serves (:data:`JOB_COLLECTOR_EXPORTER`); Prometheus
  itself; Alertmanager.

Only keys that both Prometheus 2.42 (Debian, where promtool runs) and 3.x (the image) accept:
no ``scrape_config_files``, ``scrape_protocols`` or rule-group ``query_offset``.
"""

from __future__ import annotations

from typing import Any

from obskit.stack import collector, host_gateway
from obskit.stack.spec import Spec

PATH = "prometheus/prometheus.yml"
RULE_FILES = "rules/*.yml"  # relative to prometheus.yml, as Prometheus resolves it

SCRAPE_INTERVAL = "15s"
HOST = host_gateway.HOST
PORT = 9090
ALERTMANAGER_PORT = 9093

JOB_PROMETHEUS = "prometheus"
JOB_ALERTMANAGER = "alertmanager"
JOB_COLLECTOR = "otel-collector"
JOB_COLLECTOR_EXPORTER = "otel-collector-exporter"
STACK_JOBS = (JOB_PROMETHEUS, JOB_ALERTMANAGER, JOB_COLLECTOR, JOB_COLLECTOR_EXPORTER)


def files(spec: Spec) -> dict[str, Any]:
    return {PATH: config(spec)}


def retention_days(spec: Spec) -> int:
    """How long Prometheus keeps samples: the spec's ``retention_days``, and at least the
    longest SLO window, which the error-budget rules sum over."""
    windows = [s.slo.window_days for s in spec.services if s.slo]
    return max([spec.retention_days, *windows])


def _job(name: str, target: str, **extra: Any) -> dict[str, Any]:
    return {"job_name": name, **extra, "static_configs": [{"targets": [target]}]}


def config(spec: Spec) -> dict[str, Any]:
    service_jobs = [_job(s.name, f"{HOST}:{s.metrics_port}") for s in spec.services]
    return {
        "global": {
            "scrape_interval": SCRAPE_INTERVAL,
            "evaluation_interval": SCRAPE_INTERVAL,
            # On every alert Alertmanager receives, and on remote-written series.
            "external_labels": {"project": spec.project, "environment": spec.environment},
        },
        "rule_files": [RULE_FILES],
        "alerting": {
            "alertmanagers": [
                {"static_configs": [{"targets": [f"alertmanager:{ALERTMANAGER_PORT}"]}]}
            ]
        },
        "scrape_configs": [
            _job(JOB_PROMETHEUS, f"localhost:{PORT}"),
            _job(JOB_ALERTMANAGER, f"alertmanager:{ALERTMANAGER_PORT}"),
            _job(JOB_COLLECTOR, f"{collector.COMPOSE_SERVICE}:{collector.SELF_METRICS_PORT}"),
            _job(
                JOB_COLLECTOR_EXPORTER,
                f"{collector.COMPOSE_SERVICE}:{collector.EXPORTER_PORT}",
            ),
            *service_jobs,
        ],
    }
