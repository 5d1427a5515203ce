"""``docker-compose.yml`` and ``.env``: the stack as containers.

Secure, reproducible defaults:

* every image pinned (:data:`IMAGES` is the one versions table; ``.env`` repeats the tags so
  an upgrade is a one-line edit there, and the compose file carries the same tag as default);
* every published port bound to ``${OBSKIT_BIND:-127.0.0.1}``: nothing is reachable from
  the network unless you set ``OBSKIT_BIND`` in ``.env``;
* Grafana's admin password read from the Docker secret ``secrets/grafana_admin_password``
  (written by ``obskit init``, git-ignored). A file secret is a bind mount: the container sees
  the host file's mode and numeric owner, and Grafana runs as uid 472. So the file is mode
  0644 inside ``secrets/``, a directory of mode 0700: uid 472 can read it in the container,
  other users of the host cannot reach it (see :mod:`obskit.stack.writer`). Anonymous access
  and sign-up off;
* healthchecks only with what the image has (:mod:`obskit.stack.images`): ``wget`` against
  the ready endpoint where the image has busybox or curl; none for the Collector
  (``scratch``) and Tempo 3 (distroless), which others wait for with ``service_started``,
  as the upstream compose files do; named volumes for all state, memory limits, log
  rotation, config mounted read-only;
* containers that reach programs on the host (Prometheus scraping the services, Alertmanager
  posting to a webhook on the host) get ``host.docker.internal`` from ``extra_hosts``
  (:mod:`obskit.stack.host_gateway`).

No top-level ``name:`` (Debian's docker-compose 1.29 rejects it): the project name comes from
``COMPOSE_PROJECT_NAME`` in ``.env``.
"""

from __future__ import annotations

import re
from typing import Any

from obskit.stack import alertmanager, collector, host_gateway, images, prometheus, traces_backend
from obskit.stack.spec import Spec

COMPOSE_PATH = "docker-compose.yml"
ENV_PATH = ".env"
GRAFANA_PASSWORD_SECRET = "grafana_admin_password"
GRAFANA_PASSWORD_FILE = f"secrets/{GRAFANA_PASSWORD_SECRET}"
BIND = "${OBSKIT_BIND:-127.0.0.1}"

# The one versions table. Prometheus and Alertmanager tags start with "v"; the others don't.
IMAGES: dict[str, tuple[str, str]] = {
    "otel-collector": ("otel/opentelemetry-collector-contrib", "0.159.0"),
    "tempo": ("grafana/tempo", "3.0.3"),
    "jaeger": ("jaegertracing/jaeger", "2.20.0"),
    "prometheus": ("prom/prometheus", "v3.14.0"),
    "alertmanager": ("prom/alertmanager", "v0.34.0"),
    "grafana": ("grafana/grafana", "13.2.0"),
}

# (memory limit, and for Go programs the soft limit GOMEMLIMIT ~80 % of it)
MEMORY: dict[str, str] = {
    "otel-collector": "512m",
    "tempo": "1g",
    "jaeger": "1g",
    "prometheus": "1g",
    "alertmanager": "128m",
    "grafana": "512m",
}
COLLECTOR_GOMEMLIMIT = "400MiB"

GRAFANA_PORT = 3000


def files(spec: Spec) -> dict[str, Any]:
    return {COMPOSE_PATH: compose(spec), ENV_PATH: env(spec)}


def image_variable(service: str) -> str:
    return "OBSKIT_IMAGE_" + service.upper().replace("-", "_")


def image_ref(service: str) -> str:
    name, tag = IMAGES[service]
    return f"{name}:{tag}"


def project_name(spec: Spec) -> str:
    """A compose project name (lowercase letters, digits, ``-`` and ``_``) from the spec."""
    return "obskit-" + re.sub(r"[^a-z0-9_-]", "-", spec.project.lower())


def env(spec: Spec) -> dict[str, str]:
    values = {
        "COMPOSE_PROJECT_NAME": project_name(spec),
        # Host address every published port binds to. 0.0.0.0 exposes the stack to your network.
        "OBSKIT_BIND": "127.0.0.1",
    }
    for service in _services_for(spec):
        values[image_variable(service)] = image_ref(service)
    return values


def _services_for(spec: Spec) -> list[str]:
    return [
        "otel-collector",
        traces_backend.compose_service(spec),
        "prometheus",
        "alertmanager",
        "grafana",
    ]


def _healthcheck(service: str, url: str) -> dict[str, Any]:
    """``wget`` against ``url`` where the image has it; nothing where it has no program to
    check with (an image's own binary cannot probe HTTP)."""
    facts = images.facts_for(image_ref(service))
    if facts is None or not facts.can_run("wget"):
        return {}
    return {
        "healthcheck": {
            "test": ["CMD", "wget", "-q", "--spider", url],
            "interval": "10s",
            "timeout": "5s",
            "retries": 5,
            "start_period": "20s",
        }
    }


def has_healthcheck(service: str) -> bool:
    facts = images.facts_for(image_ref(service))
    return facts is not None and facts.can_run("wget")


def _port(port: int, container_port: int | None = None) -> str:
    return f"{BIND}:{port}:{container_port or port}"


def _after(*services: str) -> dict[str, dict[str, str]]:
    """Wait for each service to be healthy, or to have started where it has no healthcheck
    (``service_healthy`` on a service without one never comes true)."""
    return {
        name: {"condition": "service_healthy" if has_healthcheck(name) else "service_started"}
        for name in services
    }


def _base(service: str) -> dict[str, Any]:
    return {
        "image": f"${{{image_variable(service)}:-{image_ref(service)}}}",
        "restart": "unless-stopped",
        "mem_limit": MEMORY[service],
        "logging": {"driver": "json-file", "options": {"max-size": "10m", "max-file": "3"}},
    }


def compose(spec: Spec) -> dict[str, Any]:
    backend = traces_backend.compose_service(spec)
    services = {
        "otel-collector": _collector(spec),
        backend: _jaeger(spec) if backend == "jaeger" else _tempo(spec),
        "prometheus": _prometheus(spec),
        "alertmanager": _alertmanager(spec),
        "grafana": _grafana(spec),
    }
    secrets = {GRAFANA_PASSWORD_SECRET: {"file": f"./{GRAFANA_PASSWORD_FILE}"}}
    for name, path in alertmanager.secret_files(spec).items():
        secrets[name] = {"file": path if path.startswith("/") else f"./{path}"}
    return {
        "services": services,
        "volumes": {f"{name}-data": {} for name in services if name != "otel-collector"},
        "secrets": secrets,
    }


def _collector(spec: Spec) -> dict[str, Any]:
    backend = traces_backend.compose_service(spec)
    return {
        **_base("otel-collector"),
        "command": ["--config=/etc/otelcol-contrib/config.yaml"],
        "volumes": [f"./{collector.PATH}:/etc/otelcol-contrib/config.yaml:ro"],
        "environment": {"GOMEMLIMIT": COLLECTOR_GOMEMLIMIT},
        "ports": [_port(collector.OTLP_GRPC_PORT), _port(collector.OTLP_HTTP_PORT)],
        "depends_on": _after(backend),
    }


def _tempo(spec: Spec) -> dict[str, Any]:
    port = traces_backend.TEMPO_HTTP_PORT
    return {
        **_base("tempo"),
        "command": ["-target=all", "-config.file=/etc/tempo/tempo.yaml"],
        "volumes": [
            f"./{traces_backend.TEMPO_CONFIG}:/etc/tempo/tempo.yaml:ro",
            f"tempo-data:{traces_backend.TEMPO_DATA}",
        ],
        "ports": [_port(port)],
        **_healthcheck("tempo", f"http://127.0.0.1:{port}/ready"),
    }


def _jaeger(spec: Spec) -> dict[str, Any]:
    return {
        **_base("jaeger"),
        "command": ["--config=/etc/jaeger/jaeger.yaml"],
        "volumes": [
            f"./{traces_backend.JAEGER_CONFIG}:/etc/jaeger/jaeger.yaml:ro",
            f"jaeger-data:{traces_backend.JAEGER_DATA}",
        ],
        "ports": [_port(traces_backend.JAEGER_UI_PORT)],
        **_healthcheck("jaeger", f"http://127.0.0.1:{traces_backend.JAEGER_HEALTH_PORT}/status"),
    }


def _prometheus(spec: Spec) -> dict[str, Any]:
    port = prometheus.PORT
    return {
        **_base("prometheus"),
        "command": [
            "--config.file=/etc/prometheus/prometheus.yml",
            "--storage.tsdb.path=/prometheus",
            # At least the longest SLO window: the error-budget rules sum over it.
            f"--storage.tsdb.retention.time={prometheus.retention_days(spec)}d",
            "--web.enable-lifecycle",
            # Exemplars: the trace ids the Collector attaches to span-metric buckets.
            "--enable-feature=exemplar-storage",
        ],
        "volumes": ["./prometheus:/etc/prometheus:ro", "prometheus-data:/prometheus"],
        "ports": [_port(port)],
        # The services run on the host: see obskit.stack.prometheus.
        "extra_hosts": [host_gateway.EXTRA_HOST],
        **_healthcheck("prometheus", f"http://127.0.0.1:{port}/-/ready"),
        "depends_on": _after("alertmanager"),
    }


def _alertmanager(spec: Spec) -> dict[str, Any]:
    port = prometheus.ALERTMANAGER_PORT
    body: dict[str, Any] = {
        **_base("alertmanager"),
        "command": [
            "--config.file=/etc/alertmanager/alertmanager.yml",
            "--storage.path=/alertmanager",
            # A single instance: no cluster port listening on every interface.
            "--cluster.listen-address=",
        ],
        "volumes": ["./alertmanager:/etc/alertmanager:ro", "alertmanager-data:/alertmanager"],
        "ports": [_port(port)],
        **_healthcheck("alertmanager", f"http://127.0.0.1:{port}/-/ready"),
    }
    if alertmanager.reaches_host(spec):
        # A receiver on the host: see obskit.stack.alertmanager.
        body["extra_hosts"] = [host_gateway.EXTRA_HOST]
    secrets = list(alertmanager.secret_files(spec))
    if secrets:
        body["secrets"] = secrets
    return body


def _grafana(spec: Spec) -> dict[str, Any]:
    from obskit.stack import grafana

    backend = traces_backend.compose_service(spec)
    return {
        **_base("grafana"),
        "environment": {
            "GF_SECURITY_ADMIN_USER": "admin",
            "GF_SECURITY_ADMIN_PASSWORD__FILE": f"/run/secrets/{GRAFANA_PASSWORD_SECRET}",
            "GF_AUTH_ANONYMOUS_ENABLED": "false",
            "GF_USERS_ALLOW_SIGN_UP": "false",
            "GF_ANALYTICS_REPORTING_ENABLED": "false",
            "GF_SECURITY_COOKIE_SAMESITE": "strict",
        },
        "secrets": [GRAFANA_PASSWORD_SECRET],
        "volumes": [
            f"./{grafana.PROVISIONING_DIR}:{grafana.PROVISIONING_MOUNT}:ro",
            f"./{grafana.DASHBOARDS_DIR}:{grafana.DASHBOARDS_MOUNT}:ro",
            "grafana-data:/var/lib/grafana",
        ],
        "ports": [_port(GRAFANA_PORT)],
        **_healthcheck("grafana", f"http://127.0.0.1:{GRAFANA_PORT}/api/health"),
        "depends_on": _after("prometheus", backend, "alertmanager"),
    }
