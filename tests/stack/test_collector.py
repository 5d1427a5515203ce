"""The generated Collector config, checked structurally (no Collector binary runs here) and
against the metric vocabulary the rules and dashboards query."""

from __future__ import annotations

import re

import pytest
import yaml

from obskit.stack import collector, prometheus, traces_backend
from obskit.stack import vocabulary as v
from obskit.stack.serialize import serialize
from obskit.stack.spec import Spec
from obskit.validate.collector import pipeline_problems
from tests.specs import SPECS

SPEC_NAMES = sorted(SPECS)

# Names the pinned collector (0.159) still loads but deprecates (a warning at every start).
DEPRECATED_TYPES = {"spanmetrics", "servicegraph", "otlp_exporter", "otlphttp", "batch"}


def loaded(spec: Spec) -> dict:
    """The config as the Collector would read it: through the serializer and back."""
    return yaml.safe_load(serialize(collector.PATH, collector.config(spec)))


def seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+)(ms|s)", duration)
    assert match, duration
    return int(match[1]) / (1000 if match[2] == "ms" else 1)


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_every_pipeline_component_is_defined_and_memory_limiter_comes_first(name: str) -> None:
    config = loaded(SPECS[name])
    defined = {
        kind: set(config.get(kind) or {})
        for kind in ("receivers", "processors", "exporters", "connectors", "extensions")
    }
    pipelines = config["service"]["pipelines"]
    assert set(pipelines) == {"traces", "metrics/traces"}
    for pipeline in pipelines.values():
        assert set(pipeline["receivers"]) <= defined["receivers"] | defined["connectors"]
        assert set(pipeline.get("processors", [])) <= defined["processors"]
        assert set(pipeline["exporters"]) <= defined["exporters"] | defined["connectors"]
        if set(pipeline["receivers"]) & defined["receivers"]:  # data enters here
            assert pipeline["processors"][0] == "memory_limiter"
    # Every connector is fed by one pipeline and feeds another.
    for connector in defined["connectors"]:
        assert any(connector in p["exporters"] for p in pipelines.values())
        assert any(connector in p["receivers"] for p in pipelines.values())
    assert set(config["service"]["extensions"]) <= defined["extensions"]
    # obskit validate's own cross-check agrees.
    assert pipeline_problems(config) == []


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_component_names_are_the_current_ones(name: str) -> None:
    config = loaded(SPECS[name])
    types = {
        cid.split("/")[0]
        for kind in ("receivers", "processors", "exporters", "connectors", "extensions")
        for cid in config.get(kind) or {}
    }
    assert types == {
        "otlp",
        "memory_limiter",
        "resource",
        "span_metrics",
        "service_graph",
        "otlp_grpc",
        "prometheus",
        "health_check",
    }
    assert not types & DEPRECATED_TYPES


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_histogram_buckets_hold_every_latency_threshold(name: str) -> None:
    spec = SPECS[name]
    config = loaded(spec)
    span_buckets = [
        seconds(b) for b in config["connectors"]["span_metrics"]["histogram"]["explicit"]["buckets"]
    ]
    graph_buckets = [
        seconds(b) for b in config["connectors"]["service_graph"]["latency_histogram_buckets"]
    ]
    assert span_buckets == graph_buckets == sorted(set(span_buckets))
    assert set(v.DEFAULT_BUCKETS_S) <= set(span_buckets)
    for threshold_ms in spec.latency_thresholds_ms:
        assert threshold_ms / 1000 in span_buckets
    assert config["connectors"]["span_metrics"]["histogram"]["unit"] == "s"


def test_odd_thresholds_become_exact_bucket_bounds() -> None:
    assert collector.duration_text(0.075) == "75ms"
    assert collector.duration_text(1.5) == "1500ms"
    assert collector.duration_text(10.0) == "10s"
    assert v.histogram_buckets_s([1234, 250]) == (
        0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 1.234, 2.5, 5.0, 7.5, 10.0,
    )  # fmt: skip


def test_span_metric_names_in_the_vocabulary_follow_from_the_config() -> None:
    """The Prometheus exporter turns the connector's ``<namespace>.calls`` counter into
    ``..._calls_total`` and the ``duration`` histogram (unit s) into ``..._duration_seconds``;
    rules and dashboards use the vocabulary, so the two must agree."""
    config = loaded(SPECS["demo"])
    span = config["connectors"]["span_metrics"]
    prefix = span["namespace"].replace(".", "_")
    assert f"{prefix}_calls_total" == v.SPAN_CALLS
    assert f"{prefix}_duration_seconds" == v.SPAN_DURATION
    assert {f"{v.SPAN_DURATION}_bucket", v.SPAN_CALLS} <= v.PRODUCED
    assert [d["name"] for d in span["dimensions"]] == list(v.SPAN_DIMENSIONS)
    # The dimensions become the same labels the services' own histograms carry.
    labels = {d.replace(".", "_") for d in v.SPAN_DIMENSIONS}
    assert labels == {v.METHOD, v.STATUS, v.ROUTE, v.SERVER_ADDRESS}


def test_exemplars_reach_prometheus() -> None:
    config = loaded(SPECS["demo"])
    assert config["connectors"]["span_metrics"]["exemplars"] == {"enabled": True}
    # Exemplars are only exposed in the OpenMetrics format.
    assert config["exporters"]["prometheus"]["enable_open_metrics"] is True


def test_prometheus_scrapes_the_collectors_metrics_and_its_own_telemetry() -> None:
    spec = SPECS["demo"]
    config = loaded(spec)
    exporter_port = int(config["exporters"]["prometheus"]["endpoint"].rsplit(":", 1)[1])
    reader = config["service"]["telemetry"]["metrics"]["readers"][0]["pull"]["exporter"]
    self_port = reader["prometheus"]["port"]
    assert reader["prometheus"]["host"] == "0.0.0.0"  # reachable from the Prometheus container
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"]
        for job in prometheus.config(spec)["scrape_configs"]
    }
    assert targets[prometheus.JOB_COLLECTOR] == [f"otel-collector:{self_port}"]
    assert targets[prometheus.JOB_COLLECTOR_EXPORTER] == [f"otel-collector:{exporter_port}"]


@pytest.mark.parametrize(("name", "backend"), [("demo", "tempo"), ("jaeger", "jaeger")])
def test_traces_go_to_the_backend_compose_runs(name: str, backend: str) -> None:
    spec = SPECS[name]
    config = loaded(spec)
    exporter = config["exporters"][f"otlp_grpc/{backend}"]
    assert exporter["endpoint"] == f"{backend}:4317"
    assert "batch" in exporter["sending_queue"]  # batching in the exporter, not a processor
    assert f"otlp_grpc/{backend}" in config["service"]["pipelines"]["traces"]["exporters"]
    files = collector.files(spec)
    own = traces_backend.TEMPO_CONFIG if backend == "tempo" else traces_backend.JAEGER_CONFIG
    other = traces_backend.JAEGER_CONFIG if backend == "tempo" else traces_backend.TEMPO_CONFIG
    assert own in files and other not in files


def test_tempo_runs_monolithic_with_local_storage_and_no_metrics_generator() -> None:
    tempo = yaml.safe_load(serialize("t.yaml", traces_backend.tempo(SPECS["demo"])))
    assert tempo["distributor"]["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] == (
        "0.0.0.0:4317"
    )
    assert tempo["storage"]["trace"]["backend"] == "local"
    assert "metrics_generator" not in tempo and "overrides" not in tempo
    assert tempo["backend_worker"]["compaction"]["block_retention"] == "360h"  # 15 days


def test_jaeger_config_is_a_consistent_collector_config() -> None:
    jaeger = yaml.safe_load(serialize("j.yaml", traces_backend.jaeger(SPECS["jaeger"])))
    store = jaeger["exporters"]["jaeger_storage_exporter"]["trace_storage"]
    assert store in jaeger["extensions"]["jaeger_storage"]["backends"]
    assert jaeger["extensions"]["jaeger_query"]["storage"]["traces"] == store
    assert set(jaeger["service"]["extensions"]) == set(jaeger["extensions"])
    assert pipeline_problems(jaeger) == []


def test_environment_and_project_are_set_on_every_span() -> None:
    spec = SPECS["odd-names"]
    attributes = loaded(spec)["processors"]["resource"]["attributes"]
    assert {"key": "deployment.environment.name", "value": "staging-eu", "action": "upsert"} in (
        attributes
    )
    assert {"key": "service.namespace", "value": "my_proj.v2", "action": "insert"} in attributes
