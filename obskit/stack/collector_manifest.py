"""The Collector that runs the generated config, as the OpenTelemetry Collector Builder's
manifest: exactly the components :mod:`obskit.stack.collector` configures, from the Go modules
of the pinned contrib release (core components from the collector repository, the rest from
contrib; both are tagged with the same version). ``tests/stack/peers/build`` feeds
:func:`builder_config` to ``go.opentelemetry.io/collector/cmd/builder`` of that version.

A component the generator starts to use must be added here: a test generates every spec's
config and fails on a component type this table lacks.
"""

from __future__ import annotations

from typing import Any

from obskit.stack.compose import IMAGES

CORE = "go.opentelemetry.io/collector"
CONTRIB = "github.com/open-telemetry/opentelemetry-collector-contrib"
BUILDER = f"{CORE}/cmd/builder"
BINARY = "otelcol"

# kind (the config's top-level section) -> component type -> Go module
COMPONENTS: dict[str, dict[str, str]] = {
    "extensions": {"health_check": f"{CONTRIB}/extension/healthcheckextension"},
    "receivers": {"otlp": f"{CORE}/receiver/otlpreceiver"},
    "processors": {
        "memory_limiter": f"{CORE}/processor/memorylimiterprocessor",
        "resource": f"{CONTRIB}/processor/resourceprocessor",
    },
    "exporters": {
        "otlp_grpc": f"{CORE}/exporter/otlpexporter",
        "prometheus": f"{CONTRIB}/exporter/prometheusexporter",
    },
    "connectors": {
        "span_metrics": f"{CONTRIB}/connector/spanmetricsconnector",
        "service_graph": f"{CONTRIB}/connector/servicegraphconnector",
    },
}


def version() -> str:
    """The Go module version of the pinned contrib image: ``0.159.0`` -> ``v0.159.0``."""
    return f"v{IMAGES['otel-collector'][1].removeprefix('v')}"


def used_components(config: dict[str, Any]) -> set[tuple[str, str]]:
    """(kind, type) of every component a collector config defines; ``otlp_grpc/tempo`` is
    an instance of type ``otlp_grpc``."""
    return {
        (kind, component_id.split("/", 1)[0])
        for kind in COMPONENTS
        for component_id in config.get(kind) or {}
    }


def listed_components() -> set[tuple[str, str]]:
    return {(kind, type_) for kind, types in COMPONENTS.items() for type_ in types}


def missing_components(config: dict[str, Any]) -> set[tuple[str, str]]:
    """Components ``config`` uses that a Collector built from this manifest would lack."""
    return used_components(config) - listed_components()


def builder_config(output_path: str) -> dict[str, Any]:
    """The builder's manifest (``dist`` plus one ``gomod`` line per component); the
    builder's default config providers (env, file, http, https, yaml) are kept."""
    pinned = version()
    return {
        "dist": {
            "name": BINARY,
            "description": "obskit's OpenTelemetry Collector (the generated config's components)",
            "version": pinned.removeprefix("v"),
            "output_path": output_path,
        },
        **{
            kind: [{"gomod": f"{module} {pinned}"} for module in sorted(set(types.values()))]
            for kind, types in COMPONENTS.items()
        },
    }
