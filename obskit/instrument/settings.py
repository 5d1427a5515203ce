"""What one instrumented service needs to know: who it is, where spans go, where metrics are
served, how much to sample. Resolved once, from (first wins) explicit arguments, the OTel
environment variables already set, the service's entry in ``obskit.yaml``, then defaults.

An OTel variable already in the environment is an explicit choice of whoever started the
process (a Dockerfile, a shell), so it beats the spec; arguments beat both.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from obskit.errors import InputError
from obskit.stack.spec import NAME_RE, NAME_RULE, URL_RE, Spec, load_spec

# --- environment variable names (OpenTelemetry's, plus obskit's own) ----------------------
OTEL_SERVICE_NAME = "OTEL_SERVICE_NAME"
OTEL_RESOURCE_ATTRIBUTES = "OTEL_RESOURCE_ATTRIBUTES"
OTEL_TRACES_EXPORTER = "OTEL_TRACES_EXPORTER"
OTEL_METRICS_EXPORTER = "OTEL_METRICS_EXPORTER"
OTEL_LOGS_EXPORTER = "OTEL_LOGS_EXPORTER"
OTEL_EXPORTER_OTLP_PROTOCOL = "OTEL_EXPORTER_OTLP_PROTOCOL"
OTEL_EXPORTER_OTLP_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
OTEL_EXPORTER_OTLP_COMPRESSION = "OTEL_EXPORTER_OTLP_COMPRESSION"
OTEL_TRACES_SAMPLER = "OTEL_TRACES_SAMPLER"
OTEL_TRACES_SAMPLER_ARG = "OTEL_TRACES_SAMPLER_ARG"
OTEL_SEMCONV_STABILITY_OPT_IN = "OTEL_SEMCONV_STABILITY_OPT_IN"
OTEL_EXPORTER_PROMETHEUS_HOST = "OTEL_EXPORTER_PROMETHEUS_HOST"
OTEL_EXPORTER_PROMETHEUS_PORT = "OTEL_EXPORTER_PROMETHEUS_PORT"
OTEL_PYTHON_LOG_CORRELATION = "OTEL_PYTHON_LOG_CORRELATION"
OBSKIT_SPEC = "OBSKIT_SPEC"  # where to find obskit.yaml when --spec is not given
# bucket bounds (seconds, comma-separated) of the HTTP duration histograms; see metrics.py
OBSKIT_HISTOGRAM_BUCKETS = "OBSKIT_HISTOGRAM_BUCKETS"
METRICS_EXPORTER = "obskit_prometheus"  # our entry point: OTel's Prometheus reader + buckets

DEFAULT_ENDPOINT = "http://127.0.0.1:4318"
# OTLP's two transports, as OTEL_EXPORTER_OTLP_PROTOCOL names them, and their standard ports
GRPC, HTTP_PROTOBUF = "grpc", "http/protobuf"
PROTOCOLS = (GRPC, HTTP_PROTOBUF)
OTLP_GRPC_PORT = 4317
DEFAULT_METRICS_PORT = 9464  # the OTel Prometheus exporter's own default
DEFAULT_SPEC = "obskit.yaml"
METRICS_HOST = "127.0.0.1"  # secure default: only this machine's Prometheus scrapes


@dataclass(frozen=True)
class Settings:
    service_name: str
    endpoint: str  # OTLP base URL; the HTTP exporter appends /v1/traces
    metrics_port: int
    protocol: str = HTTP_PROTOBUF  # what the endpoint speaks: GRPC or HTTP_PROTOBUF
    sampling_ratio: float = 1.0
    version: str = "0.0.0"
    environment: str | None = None
    project: str | None = None
    spec_path: str | None = None  # the obskit.yaml the values came from, if any
    metrics_host: str = METRICS_HOST
    thresholds_ms: tuple[int, ...] = ()  # every latency threshold in the spec


def find_spec_path(spec: str | None, environ: Mapping[str, str]) -> Path | None:
    """``--spec``, else ``$OBSKIT_SPEC``, else ``./obskit.yaml`` when it exists."""
    if spec:
        return Path(spec)
    if environ.get(OBSKIT_SPEC):
        return Path(environ[OBSKIT_SPEC])
    default = Path(DEFAULT_SPEC)
    return default if default.is_file() else None


def resolve(
    *,
    service_name: str | None = None,
    endpoint: str | None = None,
    metrics_port: int | None = None,
    spec: str | Path | Spec | None = None,
    environ: Mapping[str, str] | None = None,
    fallback_name: str | None = None,
) -> Settings:
    """Settings for one service. ``fallback_name`` is used when nothing else names it
    (the launcher derives one from the command)."""
    env = os.environ if environ is None else environ
    loaded, spec_path = _load(spec, env)
    name = service_name or env.get(OTEL_SERVICE_NAME) or fallback_name
    if not name:
        raise InputError("no service name: pass --service-name NAME")
    if not NAME_RE.match(name):
        raise InputError(f"service name {name!r}: {NAME_RULE}")
    entry = None
    if loaded is not None:
        entry = loaded.service(name)
        if entry is None:
            known = ", ".join(s.name for s in loaded.services)
            raise InputError(
                f"unknown service {name!r}: {spec_path} lists {known}",
                hint="pass --service-name with one of them, or --spec with another spec",
            )
    chosen_endpoint = (
        endpoint
        or env.get(OTEL_EXPORTER_OTLP_ENDPOINT)
        or (loaded.otlp_endpoint if loaded else None)
        or DEFAULT_ENDPOINT
    )
    if metrics_port is None and env.get(OTEL_EXPORTER_PROMETHEUS_PORT):
        metrics_port = _port(env[OTEL_EXPORTER_PROMETHEUS_PORT], OTEL_EXPORTER_PROMETHEUS_PORT)
    if metrics_port is None:
        metrics_port = entry.metrics_port if entry else DEFAULT_METRICS_PORT
    ratio = 1.0
    if loaded is not None:
        ratio = loaded.sampling_ratio
        if entry is not None and entry.sampling_ratio is not None:
            ratio = entry.sampling_ratio
    base = _endpoint(chosen_endpoint)
    return Settings(
        service_name=name,
        endpoint=base,
        protocol=protocol_for(base, env.get(OTEL_EXPORTER_OTLP_PROTOCOL)),
        metrics_port=_port(metrics_port, "--metrics-port"),
        sampling_ratio=ratio,
        version=entry.version if entry else "0.0.0",
        environment=loaded.environment if loaded else None,
        project=loaded.project if loaded else None,
        spec_path=str(spec_path) if spec_path else None,
        thresholds_ms=tuple(loaded.latency_thresholds_ms) if loaded else (),
    )


def check_port_free(host: str, port: int) -> None:
    """Fail early, with one line, when the metrics port is taken: the Prometheus exporter
    would otherwise die inside the service with a traceback, or serve someone else's data."""
    with socket.socket() as sock:
        # as servers do: connections of a previous run in TIME_WAIT do not make it busy
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            raise InputError(
                f"metrics port {port} is already in use on {host}",
                hint="stop what listens there or pass --metrics-port with a free port",
            ) from None


def _load(
    spec: str | Path | Spec | None, env: Mapping[str, str]
) -> tuple[Spec | None, Path | None]:
    if isinstance(spec, Spec):
        return spec, None
    path = find_spec_path(str(spec) if spec else None, env)
    if path is None:
        return None, None
    return load_spec(path), path


def _endpoint(url: str) -> str:
    # Values end up in .env files and Kubernetes manifests: no quotes, spaces or shell syntax.
    if not URL_RE.match(url) or any(c in url for c in "'\"$`\\ #"):
        raise InputError(f"endpoint {url!r} is not an http:// or https:// URL")
    url = url.rstrip("/")
    # People paste the traces URL; the OTel variable wants the base.
    return url.removesuffix("/v1/traces")


def protocol_for(endpoint: str, chosen: str | None = None) -> str:
    """``chosen`` (OTEL_EXPORTER_OTLP_PROTOCOL) when set; else what the endpoint's port
    speaks by convention: 4317 is OTLP/gRPC, 4318 (and anything else) OTLP/HTTP."""
    if chosen:
        if chosen not in PROTOCOLS:
            raise InputError(
                f"{OTEL_EXPORTER_OTLP_PROTOCOL}={chosen!r} is not one of {', '.join(PROTOCOLS)}"
            )
        return chosen
    from urllib.parse import urlsplit

    try:
        port = urlsplit(endpoint).port
    except ValueError:
        port = None
    return GRPC if port == OTLP_GRPC_PORT else HTTP_PROTOBUF


def _port(value: object, where: str) -> int:
    try:
        port = int(str(value))
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise InputError(f"{where}: {value!r} is not a port from 1 to 65535")
    return port
