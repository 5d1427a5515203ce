"""The commented starter ``obskit.yaml`` that ``obskit init`` writes when there is no spec.

Built from data: each section is a small mapping serialized by
:func:`obskit.stack.serialize.to_yaml` (so no value can break the YAML), with comment lines
above it; optional sections are shown as commented-out examples. :func:`starter_text`
checks that the result parses back into the same spec before anyone writes it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from obskit.errors import InputError
from obskit.stack.serialize import to_yaml
from obskit.stack.spec import NAME_RE, NAME_RULE

DEFAULT_SERVICES = (("api", 8000),)
METRICS_PORT_OFFSET = 1000  # metrics_port = port + 1000 unless that is out of range
DEFAULT_SLO = {"availability": 99.9, "latency": {"threshold_ms": 300, "target": 99}}

_SERVICE_ARG = re.compile(r"^(?P<name>[^=]+)=(?P<port>[^=]+)$")

HEADER = """\
obskit.yaml: the one spec `obskit init` generates your observability stack from
(OpenTelemetry Collector, Prometheus rules and alerts, Alertmanager, Grafana, docker-compose).
Edit it and run `obskit init` again; `obskit validate` checks the result.
Names: letters, digits, '.', '_' and '-', starting with a letter or digit."""

SECTIONS: tuple[tuple[str, str], ...] = (
    ("project", "Labels every metric and alert; also the docker-compose project name."),
    ("environment", "Set as deployment.environment on every span (dev, staging, prod...)."),
    ("traces_backend", "Where traces are stored: tempo (default) or jaeger."),
    (
        "services",
        "Your Python services. port: its HTTP port; metrics_port: where Prometheus scrapes\n"
        "its /metrics. slo (optional, per service): availability = % of requests without a\n"
        "5xx over 30 days; latency = % of requests faster than threshold_ms.",
    ),
)

EXAMPLES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    (
        "external",
        "Third-party dependencies your services call: alerts when their p95 latency, seen\n"
        "from your services, exceeds latency_threshold_ms.",
        {
            "external": [
                {
                    "name": "payments-gateway",
                    "host": "api.gateway.example",
                    "latency_threshold_ms": 500,
                }
            ]
        },
    ),
    (
        "metrics_host",
        "Where `obskit instrument` serves /metrics: docker-bridge (the default: the docker0\n"
        "address, which Prometheus in Docker reaches as host.docker.internal on Linux), or an\n"
        "IP: 0.0.0.0 (every interface, your network too), 127.0.0.1 (Docker Desktop only).",
        {"metrics_host": "docker-bridge"},
    ),
    (
        "alerting",
        "Where alerts go: a webhook, and optionally Slack and e-mail. Secrets are read from\n"
        "files (paths relative to the output directory), never written here. A URL on\n"
        "127.0.0.1 means this host: Alertmanager's container uses host.docker.internal.",
        {
            "alerting": {
                "webhook_url": "http://127.0.0.1:5001/alerts",
                "slack": {"channel": "#alerts", "api_url_file": "secrets/slack_api_url"},
                "email": {
                    "to": "oncall@example.com",
                    "from": "alertmanager@example.com",
                    "smarthost": "smtp.example.com:587",
                    "auth_username": "alertmanager@example.com",
                    "auth_password_file": "secrets/smtp_password",
                },
            }
        },
    ),
)


def parse_service_arg(text: str) -> tuple[str, int]:
    """``--service checkout=8002`` -> ("checkout", 8002). The name is checked with the spec."""
    match = _SERVICE_ARG.match(text.strip())
    port = match.group("port").strip() if match else ""
    if not match or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise InputError(
            f"--service {text!r}: expected NAME=PORT with PORT from 1 to 65535, like checkout=8002"
        )
    name = match.group("name").strip()
    if not NAME_RE.match(name):
        raise InputError(f"--service {text!r}: NAME must {NAME_RULE}")
    return name, int(port)


def starter_data(services: list[tuple[str, int]] | None = None) -> dict[str, Any]:
    items = []
    used = {port for _, port in services or DEFAULT_SERVICES}
    for name, port in services or DEFAULT_SERVICES:
        metrics_port = port + METRICS_PORT_OFFSET
        while metrics_port > 65535 or metrics_port in used:
            metrics_port = metrics_port - 1 if metrics_port > 65535 else metrics_port + 1
        used.add(metrics_port)
        items.append({"name": name, "port": port, "metrics_port": metrics_port, "slo": DEFAULT_SLO})
    return {
        "project": "my-project",
        "environment": "dev",
        "traces_backend": "tempo",
        "services": items,
    }


def _comment(text: str) -> str:
    return "".join(f"# {line}\n" if line else "#\n" for line in text.splitlines())


def starter_text(services: list[tuple[str, int]] | None = None) -> str:
    """The commented starter spec. Raises :class:`obskit.errors.SpecError` (naming the
    field) when a ``--service`` name is not a valid spec name."""
    import yaml

    from obskit.stack.spec import parse_spec

    data = starter_data(services)
    parts = [_comment(HEADER)]
    for key, comment in SECTIONS:
        parts.append("\n" + _comment(comment) + to_yaml({key: data[key]}))
    for _, comment, example in EXAMPLES:
        parts.append("\n" + _comment(comment) + _comment(to_yaml(example)))
    text = "".join(parts)
    expected = parse_spec(data)
    if parse_spec(yaml.safe_load(text)) != expected:  # the comments must not change the spec
        raise AssertionError("the starter spec does not parse back to its own data")
    return text


def write_starter(path: Path, services: list[tuple[str, int]] | None = None) -> str:
    """Write the starter spec at ``path``; never overwrites an existing file."""
    text = starter_text(services)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise InputError(f"{path} already exists; obskit never overwrites a spec") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return text
