"""The Collector build manifest lists exactly the components the generated config uses, for
every CI spec (Tempo and Jaeger backends), at the pinned contrib version; the built
``otelcol`` holds them (when the build script has run)."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from obskit.stack import collector, collector_manifest
from obskit.stack.compose import IMAGES
from obskit.stack.serialize import serialize
from tests.conftest import require_pinned
from tests.specs import SPECS


def generated_config(name: str) -> dict:
    """The config as the Collector reads it: through the serializer and back."""
    return yaml.safe_load(serialize(collector.PATH, collector.config(SPECS[name])))


def used_by_every_spec() -> set[tuple[str, str]]:
    return set().union(*(collector_manifest.used_components(generated_config(n)) for n in SPECS))


def test_the_specs_cover_both_trace_backends() -> None:
    assert {spec.traces_backend for spec in SPECS.values()} == {"tempo", "jaeger"}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_the_manifest_has_every_component_the_generator_uses(name: str) -> None:
    missing = collector_manifest.missing_components(generated_config(name))
    assert not missing, (
        f"the generated collector config for spec {name!r} uses {sorted(missing)}, which"
        " obskit/stack/collector_manifest.py COMPONENTS lacks: add each one's Go module there"
    )


def test_the_manifest_lists_nothing_the_generator_never_uses() -> None:
    unused = collector_manifest.listed_components() - used_by_every_spec()
    assert not unused, f"in the manifest but in no CI spec's config: {sorted(unused)}"


def test_a_component_missing_from_the_manifest_is_reported() -> None:
    config = generated_config("one-service")
    config["processors"]["filter/drop-health"] = {"error_mode": "ignore"}
    config["exporters"]["debug"] = {}
    assert collector_manifest.missing_components(config) == {
        ("processors", "filter"),
        ("exporters", "debug"),
    }


def test_the_builder_manifest_pins_every_module_to_the_contrib_image_version() -> None:
    manifest = collector_manifest.builder_config("/tmp/out")
    assert manifest["dist"]["version"] == IMAGES["otel-collector"][1]
    lines = [entry["gomod"] for kind in collector_manifest.COMPONENTS for entry in manifest[kind]]
    assert len(lines) == len(collector_manifest.listed_components())
    assert {line.split(" ")[1] for line in lines} == {f"v{IMAGES['otel-collector'][1]}"}


@pytest.mark.slow
def test_the_built_collector_has_exactly_the_manifest_components() -> None:
    """``otelcol components`` lists what the binary was built with, by type."""
    otelcol = require_pinned("otelcol")
    result = subprocess.run(
        [otelcol, "components"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    built = yaml.safe_load(result.stdout)
    assert built["buildinfo"]["version"] == IMAGES["otel-collector"][1]
    for kind, types in collector_manifest.COMPONENTS.items():
        assert {c["name"] for c in built.get(kind) or []} >= set(types), kind
