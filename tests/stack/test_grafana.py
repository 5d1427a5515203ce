"""Grafana provisioning and dashboards: valid against Grafana's own JSON schemas, wired to the
provisioned datasources, querying only metrics the stack produces, linked traces <-> metrics,
and deterministic, for every spec CI covers."""

from __future__ import annotations

import copy
import json
import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

from obskit.stack import grafana, vocabulary
from obskit.stack.grafana import slo
from obskit.stack.promql_names import metric_names
from obskit.stack.serialize import serialize
from obskit.stack.spec import parse_spec
from tests.conftest import FIXTURES
from tests.specs import SPEC_DATA, SPECS, all_specs

SCHEMAS = FIXTURES / "schemas" / "grafana"
DATASOURCES = "grafana/provisioning/datasources/obskit.yaml"
PROVIDER = "grafana/provisioning/dashboards/obskit.yaml"
DASHBOARD_FILES = (
    "red.json",
    "service-graph.json",
    "slo.json",
    "stack-health.json",
    "dependencies.json",
)


# --- Grafana's JSON schemas (see tests/fixtures/schemas/grafana/SOURCES.md) ------------------------


def _schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / f"{name}.jsonschema.json").read_text())


@cache
def dashboard_validator(relaxed: bool = True) -> Draft7Validator:
    schema = _schema("dashboard")
    if relaxed:  # the three documented translation bugs, A1-A3
        schema = copy.deepcopy(schema)
        d = schema["definitions"]
        d["MatcherConfig"]["properties"]["options"] = {}
        d["DynamicConfigValue"]["properties"]["value"] = {}
        d["DataTransformerConfig"]["properties"]["options"] = {}
        d["VariableModel"]["properties"]["query"]["oneOf"][1]["additionalProperties"] = {}
        d["Threshold"]["required"] = ["color"]
        d["FieldConfig"]["properties"]["links"] = {"type": "array"}
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


@cache
def plugin_validator(file: str, definition: str) -> Draft7Validator:
    schema = _schema(file)
    schema["$ref"] = f"#/definitions/{definition}"
    return Draft7Validator(schema)


def _leaf_errors(err: Any) -> list[Any]:
    # panels[] is oneOf [Panel, RowPanel]: report the branch that matches "type".
    if err.validator == "oneOf" and err.context and isinstance(err.instance, dict):
        want = 1 if err.instance.get("type") == "row" else 0
        sub = [c for c in err.context if c.relative_schema_path[0] == want]
        if sub:
            return [leaf for c in sub for leaf in _leaf_errors(c)]
    return [err]


def schema_errors(dashboard: dict[str, Any], *, relaxed: bool = True) -> list[str]:
    errors = dashboard_validator(relaxed).iter_errors(dashboard)
    return [
        f"{'/'.join(map(str, leaf.absolute_path))}: {leaf.message}"
        for err in errors
        for leaf in _leaf_errors(err)
    ]


# Which per-plugin schema checks which part of a panel. Table FieldConfig is unusable
# (SOURCES.md: a oneOf without discriminator), so only table Options is checked.
PLUGIN_CHECKS = {
    "timeseries": [("timeseries", "Options", "options"), ("timeseries", "FieldConfig", "custom")],
    "stat": [("stat", "Options", "options")],
    "table": [("table", "Options", "options")],
    "nodeGraph": [("nodegraph", "Options", "options")],
}
TARGET_SCHEMAS = {"prometheus": "prometheus", "tempo": "tempo"}


def plugin_errors(dashboard: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for panel in grafana.iter_panels(dashboard):
        where = f"panel {panel['id']} ({panel.get('title')})"
        for file, definition, part in PLUGIN_CHECKS.get(panel["type"], []):
            if part == "custom":
                instance = panel["fieldConfig"]["defaults"].get("custom", {})
            else:
                instance = panel[part]
            for err in plugin_validator(file, definition).iter_errors(instance):
                found.append(f"{where} {file}.{definition}: {err.message}")
        for target in panel.get("targets", []):
            kind = target.get("datasource", {}).get("type")
            if kind in TARGET_SCHEMAS:
                validator = plugin_validator(TARGET_SCHEMAS[kind], "Dataquery")
                for err in validator.iter_errors(target):
                    found.append(f"{where} target {target['refId']}: {err.message}")
    return found


# --- fixtures ------------------------------------------------------------------------------


@cache
def generated(spec_name: str) -> dict[str, Any]:
    return grafana.files(SPECS[spec_name])


def dashboards_of(spec_name: str) -> dict[str, dict[str, Any]]:
    files = generated(spec_name)
    return {name: files[f"grafana/dashboards/{name}"] for name in DASHBOARD_FILES}


def datasource_uids(spec_name: str) -> dict[str, str]:
    return {ds["uid"]: ds["type"] for ds in generated(spec_name)[DATASOURCES]["datasources"]}


ALL = [(spec, name) for spec in SPECS for name in DASHBOARD_FILES]


def _ids(case: tuple[str, str]) -> str:
    return f"{case[0]}-{case[1]}"


# --- the schema is a fair judge ------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("grafana-dashboards/*.json")), ids=str)
def test_real_grafana_dashboards_pass_the_relaxed_schema(path: Path) -> None:
    # If Grafana's own exports failed, a failure on ours would prove nothing.
    assert schema_errors(json.loads(path.read_text())) == []


def test_the_schema_catches_a_broken_dashboard() -> None:
    broken = copy.deepcopy(dashboards_of("demo")["red.json"])
    broken["panels"][0]["gridPos"]["w"] = 25
    broken["panels"][1]["datasrouce"] = broken["panels"][1].pop("datasource")
    del broken["schemaVersion"]
    errors = schema_errors(broken)
    assert any("schemaVersion" in e for e in errors)
    assert any("25 is greater than the maximum of 24" in e for e in errors)
    assert any("datasrouce" in e for e in errors)


# --- every generated dashboard -------------------------------------------------------------


@pytest.mark.parametrize("case", ALL, ids=_ids)
def test_dashboard_matches_grafana_schema(case: tuple[str, str]) -> None:
    dashboard = dashboards_of(case[0])[case[1]]
    # obskit's own output needs none of the allowances: check the schema as published.
    assert schema_errors(dashboard, relaxed=False) == []
    assert 39 <= dashboard["schemaVersion"] <= 41


@pytest.mark.parametrize("case", ALL, ids=_ids)
def test_panels_match_their_plugin_schemas(case: tuple[str, str]) -> None:
    assert plugin_errors(dashboards_of(case[0])[case[1]]) == []


@pytest.mark.parametrize("spec_name", SPECS)
def test_uids_are_fixed_short_and_unique(spec_name: str) -> None:
    uids = [d["uid"] for d in dashboards_of(spec_name).values()]
    assert uids == [
        "obskit-red",
        "obskit-service-graph",
        "obskit-slo",
        "obskit-stack-health",
        "obskit-dependencies",
    ]
    assert all(8 <= len(uid) <= 40 for uid in uids)
    assert set(datasource_uids(spec_name)) >= {"obskit-prometheus", "obskit-alertmanager"}


@pytest.mark.parametrize("case", ALL, ids=_ids)
def test_panel_ids_are_unique_and_panels_do_not_overlap(case: tuple[str, str]) -> None:
    panels = list(grafana.iter_panels(dashboards_of(case[0])[case[1]]))
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))
    cells: dict[tuple[int, int], int] = {}
    for panel in panels:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"panel {panel['id']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["id"]


def _datasource_refs(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        refs = [node["datasource"]] if isinstance(node.get("datasource"), dict) else []
        return refs + [ref for value in node.values() for ref in _datasource_refs(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in _datasource_refs(item)]
    return []


@pytest.mark.parametrize("case", ALL, ids=_ids)
def test_every_datasource_reference_is_provisioned(case: tuple[str, str]) -> None:
    spec_name, name = case
    dashboard = dashboards_of(spec_name)[name]
    provisioned = datasource_uids(spec_name)
    refs = _datasource_refs(dashboard)
    assert refs, "a dashboard that names no datasource queries the default by accident"
    for ref in refs:
        assert provisioned.get(ref["uid"]) == ref["type"], ref
    assert "${DS_" not in json.dumps(dashboard)


@pytest.mark.parametrize("case", ALL, ids=_ids)
def test_every_panel_queries_only_produced_metrics(case: tuple[str, str]) -> None:
    dashboard = dashboards_of(case[0])[case[1]]
    queries = grafana.panel_queries(dashboard)
    names = {name for expr in queries for name in metric_names(expr)}
    assert names, "the dashboard queries no metric at all"
    assert names <= vocabulary.PRODUCED, names - vocabulary.PRODUCED
    for variable in dashboard["templating"]["list"]:
        match = re.fullmatch(r"label_values\((\w+), (\w+)\)", variable["query"])
        assert match and match.group(1) in vocabulary.PRODUCED


def _promtool_check(queries: list[str], tmp_path: Path) -> None:
    """Prometheus' own parser: every expression, as a recording rule, must load."""
    rules = {
        "groups": [
            {
                "name": "panels",
                "rules": [{"record": f"panel:query{i}", "expr": q} for i, q in enumerate(queries)],
            }
        ]
    }
    path = tmp_path / "panels.yml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run(
        ["promtool", "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.needs("promtool", hint="apt-get install prometheus (gives promtool)")
@pytest.mark.parametrize("spec_name", SPECS)
def test_every_panel_query_parses_in_prometheus(spec_name: str, tmp_path: Path) -> None:
    service = SPECS[spec_name].services[0].name
    queries = [
        grafana.expand_query(expr, {"service": service})
        for dashboard in dashboards_of(spec_name).values()
        for expr in grafana.panel_queries(dashboard)
    ]
    _promtool_check(queries, tmp_path)


def test_promtool_check_rejects_a_bad_query(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="parse error"):
        _promtool_check(["sum(rate(up[5m])"], tmp_path)


# --- the $service variable -----------------------------------------------------------------


@pytest.mark.parametrize("spec_name", SPECS)
def test_red_dashboard_is_driven_by_the_service_variable(spec_name: str) -> None:
    red = dashboards_of(spec_name)["red.json"]
    (variable,) = red["templating"]["list"]
    assert variable["name"] == "service"
    assert variable["query"] == "label_values(http_server_request_duration_seconds_count, job)"
    first = SPECS[spec_name].services[0].name
    assert variable["current"] == {"text": first, "value": first}
    queries = grafana.panel_queries(red)
    assert len(queries) >= 10
    for expr in queries:
        assert '="$service"' in expr, expr
    traces = next(p for p in grafana.iter_panels(red) if p["title"] == "Recent traces of $service")
    assert "$service" in json.dumps(traces["targets"])


# --- links between traces and metrics -------------------------------------------------------


@pytest.mark.parametrize("spec_name", SPECS)
def test_exemplars_link_to_the_traces_backend(spec_name: str) -> None:
    backend = SPECS[spec_name].traces_backend
    traces_uid = f"obskit-{backend}"
    sources = {ds["uid"]: ds for ds in generated(spec_name)[DATASOURCES]["datasources"]}
    assert set(sources) == {"obskit-prometheus", traces_uid, "obskit-alertmanager"}
    prometheus = sources["obskit-prometheus"]
    assert prometheus["url"] == "http://prometheus:9090"
    assert prometheus["jsonData"]["exemplarTraceIdDestinations"] == [
        {"name": "trace_id", "datasourceUid": traces_uid, "urlDisplayLabel": "View trace"}
    ]
    red = dashboards_of(spec_name)["red.json"]
    latency = [
        panel
        for panel in grafana.iter_panels(red)
        if panel["type"] == "timeseries" and panel["fieldConfig"]["defaults"]["unit"] == "s"
    ]
    assert latency and all(t.get("exemplar") for p in latency for t in p["targets"])


@pytest.mark.parametrize("spec_name", SPECS)
def test_traces_link_to_their_service_metrics(spec_name: str) -> None:
    backend = SPECS[spec_name].traces_backend
    traces = next(
        ds
        for ds in generated(spec_name)[DATASOURCES]["datasources"]
        if ds["uid"] == f"obskit-{backend}"
    )
    assert traces["type"] == backend
    assert traces["url"] == {"tempo": "http://tempo:3200", "jaeger": "http://jaeger:16686"}[backend]
    links = traces["jsonData"]["tracesToMetrics"]
    assert links["datasourceUid"] == "obskit-prometheus"
    assert links["tags"] == [{"key": "service.name", "value": "service_name"}]
    assert [q["name"] for q in links["queries"]] == ["Request rate", "Error rate", "p95 latency"]
    for query in links["queries"]:
        # `$$` keeps Grafana's provisioning from expanding `$__tags` as an environment variable
        assert "{$$__tags" in query["query"] and "$__tags" not in query["query"].replace("$$", "")
        expr = query["query"].replace("$$__tags", 'service_name="x"')
        assert set(metric_names(expr)) <= vocabulary.PRODUCED
    assert traces["jsonData"]["nodeGraph"] == {"enabled": True}
    if backend == "tempo":
        assert traces["jsonData"]["serviceMap"] == {"datasourceUid": "obskit-prometheus"}


@pytest.mark.parametrize("spec_name", SPECS)
def test_service_map_uses_the_traces_backend(spec_name: str) -> None:
    board = dashboards_of(spec_name)["service-graph.json"]
    (node_graph,) = [p for p in grafana.iter_panels(board) if p["type"] == "nodeGraph"]
    backend = SPECS[spec_name].traces_backend
    (query,) = node_graph["targets"]
    assert query["datasource"] == {"type": backend, "uid": f"obskit-{backend}"}
    assert query["queryType"] == {"tempo": "serviceMap", "jaeger": "dependencyGraph"}[backend]
    names = {n for expr in grafana.panel_queries(board) for n in metric_names(expr)}
    assert {
        "traces_service_graph_request_total",
        "traces_service_graph_request_failed_total",
    } <= names


# --- SLO dashboard ------------------------------------------------------------------------


def test_slo_rows_follow_the_spec() -> None:
    board = dashboards_of("demo")["slo.json"]
    rows = [p["title"] for p in board["panels"] if p["type"] == "row"]
    assert rows == [
        "storefront: availability (non-5xx), objective 99.9% over 30d",
        "storefront: latency under 500 ms, objective 99% over 30d",
        "checkout: availability (non-5xx), objective 99.9% over 30d",
        "checkout: latency under 300 ms, objective 99% over 30d",
        "inventory: availability (non-5xx), objective 99.5% over 30d",
        "inventory: latency under 100 ms, objective 95% over 30d",
        "pricing: availability (non-5xx), objective 99.5% over 30d",
        "payments: availability (non-5xx), objective 99.9% over 30d",
        "payments: latency under 1000 ms, objective 99% over 30d",
    ]
    # more than a handful of objectives: rows start collapsed, panels nested inside them
    assert all(p["collapsed"] and len(p["panels"]) == 4 for p in board["panels"])


def test_slo_panels_use_the_objective() -> None:
    board = dashboards_of("demo")["slo.json"]
    checkout_latency = board["panels"][3]
    sli, budget, burn, over_time = checkout_latency["panels"]
    (sli_query,) = sli["targets"]
    assert 'http_server_request_duration_seconds_bucket{job="checkout"' in sli_query["expr"]
    assert 'le=~"0\\\\.3"' in sli_query["expr"]
    assert "[30d]" in sli_query["expr"]
    steps = sli["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert steps == [{"color": "red", "value": None}, {"color": "green", "value": 0.99}]
    assert budget["targets"][0]["expr"].endswith(" / 0.01")
    assert [t["legendFormat"] for t in burn["targets"]] == list(slo.BURN_WINDOWS)
    assert [t["legendFormat"] for t in over_time["targets"]] == [
        "1h (14.4x)",
        "6h (6x)",
        "1d (3x)",
        "3d (1x)",
    ]


def test_services_without_slo_get_no_slo_row() -> None:
    panels = dashboards_of("no-slo")["slo.json"]["panels"]
    rows = [p["title"] for p in panels if p["type"] == "row"]
    assert rows == [
        "web: availability (non-5xx), objective 99.9% over 30d",
        "web: latency under 250 ms, objective 99% over 30d",
    ]


def test_slo_dashboard_without_any_slo_says_how_to_add_one() -> None:
    spec = parse_spec({**SPEC_DATA["no-slo"], "services": [SPEC_DATA["no-slo"]["services"][0]]})
    board = grafana.files(spec)["grafana/dashboards/slo.json"]
    (panel,) = board["panels"]
    assert panel["type"] == "text" and "slo:" in panel["options"]["content"]
    assert schema_errors(board, relaxed=False) == []


@pytest.mark.parametrize(
    ("availability", "days", "legends"),
    [
        (99.9, 30, ["1h (14.4x)", "6h (6x)", "1d (3x)", "3d (1x)"]),
        (99.9, 7, ["1h (3.36x)", "6h (1.4x)", "1d (0.7x)", "3d (0.233x)"]),
        # a 90% objective cannot burn 14.4x its budget: the alerts leave that tier out
        (90, 30, ["6h (6x)", "1d (3x)", "3d (1x)"]),
    ],
)
def test_burn_rate_thresholds_are_the_alerts(
    availability: float, days: int, legends: list[str]
) -> None:
    data = copy.deepcopy(SPEC_DATA["one-service"])
    data["services"][0]["slo"] = {"availability": availability, "window_days": days}
    board = grafana.files(parse_spec(data))["grafana/dashboards/slo.json"]
    over_time = board["panels"][-1]
    assert [t["legendFormat"] for t in over_time["targets"]] == legends


# --- provisioning files ---------------------------------------------------------------------


def test_dashboard_provider_is_read_only_and_points_at_the_mount() -> None:
    (provider,) = generated("demo")[PROVIDER]["providers"]
    assert provider["options"]["path"] == grafana.DASHBOARDS_MOUNT == "/var/lib/grafana/dashboards"
    assert provider["folder"] == "obskit"
    assert provider["allowUiUpdates"] is False and provider["disableDeletion"] is True
    assert all(d["editable"] is False for d in dashboards_of("demo").values())


def test_generated_paths() -> None:
    assert sorted(generated("demo")) == sorted(
        [DATASOURCES, PROVIDER, *(f"grafana/dashboards/{n}" for n in DASHBOARD_FILES)]
    )


@pytest.mark.parametrize("spec_name", SPECS)
def test_generation_is_deterministic(spec_name: str) -> None:
    # a spec parsed afresh gives byte-identical files
    first = grafana.files(SPECS[spec_name])
    second = grafana.files(all_specs()[spec_name])
    assert {p: serialize(p, d) for p, d in first.items()} == {
        p: serialize(p, d) for p, d in second.items()
    }


# --- reading dashboards back ----------------------------------------------------------------


def test_panel_queries_include_panels_nested_in_collapsed_rows() -> None:
    board = dashboards_of("twelve-services")["slo.json"]
    assert board["panels"] and all(p["type"] == "row" for p in board["panels"])
    queries = grafana.panel_queries(board)
    # 8 services with both objectives, 4 with availability only; 13 queries per objective
    assert len(queries) == (8 * 2 + 4) * 13


def test_expand_query_fills_in_grafana_variables() -> None:
    expr = 'rate(x{job="$service"}[$__rate_interval]) + rate(x[${__range}])'
    assert grafana.expand_query(expr, {"service": "api"}) == (
        'rate(x{job="api"}[1m]) + rate(x[1h])'
    )
    with pytest.raises(KeyError, match=r"\$route"):
        grafana.expand_query('x{route="$route"}')
