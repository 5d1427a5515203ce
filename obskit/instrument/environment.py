"""The OTEL_* environment that makes one service emit what the generated stack expects:
traces over OTLP (gRPC or HTTP, as the endpoint speaks), stable HTTP semantic-convention
metrics on a Prometheus endpoint, trace ids in log lines. Built as data here; the launcher
passes it to the child process and ``--print-env`` serializes it for a Dockerfile or a
Kubernetes manifest."""

from __future__ import annotations

from collections.abc import Mapping

from obskit.instrument import settings as names
from obskit.instrument.settings import Settings
from obskit.stack.vocabulary import DEFAULT_BUCKETS_S

FORMATS = ("dotenv", "k8s")


def resource_attributes(settings: Settings) -> dict[str, str]:
    attrs = {"service.version": settings.version}
    if settings.environment:
        # Both keys: dashboards and backends still read the old one, semconv 1.27+ the new.
        attrs["deployment.environment"] = settings.environment
        attrs["deployment.environment.name"] = settings.environment
    if settings.project:
        attrs["service.namespace"] = settings.project
    return attrs


def service_environment(
    settings: Settings, *, inherited: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The variables to set for the service. ``inherited`` resource attributes (set by
    whoever started us) are kept, and win over ours on the same key."""
    attrs = ",".join(f"{k}={v}" for k, v in resource_attributes(settings).items())
    extra = (inherited or {}).get(names.OTEL_RESOURCE_ATTRIBUTES, "").strip().strip(",")
    return {
        names.OTEL_SERVICE_NAME: settings.service_name,
        names.OTEL_RESOURCE_ATTRIBUTES: f"{attrs},{extra}" if extra else attrs,
        # Said explicitly: `otlp` alone means gRPC under opentelemetry-distro, whatever the
        # port. The endpoint's port decides (4317 gRPC, 4318 HTTP), as the collector,
        # Jaeger, Tempo and `obskit serve` all listen.
        names.OTEL_TRACES_EXPORTER: "otlp",
        names.OTEL_EXPORTER_OTLP_PROTOCOL: settings.protocol,
        names.OTEL_EXPORTER_OTLP_ENDPOINT: settings.endpoint,
        names.OTEL_EXPORTER_OTLP_COMPRESSION: "gzip",
        names.OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
        names.OTEL_TRACES_SAMPLER_ARG: _ratio(settings.sampling_ratio),
        # The stable names (http.server.request.duration, http.route, ...) are what the
        # generated rules and dashboards query.
        names.OTEL_SEMCONV_STABILITY_OPT_IN: "http",
        # OTel's Prometheus exporter, with the spec's latency thresholds as bucket bounds
        names.OTEL_METRICS_EXPORTER: names.METRICS_EXPORTER,
        names.OBSKIT_HISTOGRAM_BUCKETS: ",".join(f"{b:g}" for b in buckets(settings)),
        names.OTEL_EXPORTER_PROMETHEUS_HOST: settings.metrics_host,
        names.OTEL_EXPORTER_PROMETHEUS_PORT: str(settings.metrics_port),
        names.OTEL_PYTHON_LOG_CORRELATION: "true",
        names.OTEL_LOGS_EXPORTER: "none",
    }


def render(env: Mapping[str, str], fmt: str, *, header: str | None = None) -> str:
    """``dotenv`` (``KEY=value`` lines: ``docker run --env-file``, compose ``env_file``) or
    ``k8s`` (a container's ``env:`` list)."""
    from obskit.stack.serialize import to_env, to_yaml

    if fmt == "k8s":
        return to_yaml({"env": [{"name": k, "value": v} for k, v in env.items()]}, header=header)
    return to_env(dict(env), header=header)


def buckets(settings: Settings) -> tuple[float, ...]:
    """OTel's default HTTP buckets plus every latency threshold of the spec, in seconds."""
    return tuple(sorted({*DEFAULT_BUCKETS_S, *(ms / 1000 for ms in settings.thresholds_ms)}))


def _ratio(value: float) -> str:
    return f"{value:g}"
