"""obskit's own cross-checks and output folding, on small inputs (no external tools)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from obskit.validate import CHECKS, validate_stack
from obskit.validate.collector import pipeline_problems
from obskit.validate.datasources import dashboard_problems
from obskit.validate.interpolation import interpolate
from obskit.validate.metrics import variable_queries
from obskit.validate.ports import Binding, clashes, collector_bindings, compose_bindings
from obskit.validate.promtool import failure_lines
from obskit.validate.result import CheckResult, Report, Status
from tests.validate.minimal_stack import COLLECTOR, DASHBOARD, FILES, write_stack

# --- ports ------------------------------------------------------------------------------------


def published(*entries: Any) -> list[tuple[str, int, str]]:
    bindings, problems = compose_bindings({"services": {"s": {"ports": list(entries)}}})
    assert problems == []
    return [(b.ip, b.port, b.protocol) for b in bindings]


def test_compose_port_syntaxes() -> None:
    assert published(
        "3000",  # container port only: Docker picks an ephemeral host port
        "3001:3000",
        "127.0.0.1:3002:3000",
        "127.0.0.1::3000",  # ephemeral again
        "[::1]:3003:3000/udp",
        "8000-8001:8000-8001",
        {"target": 3000, "published": 3004, "host_ip": "127.0.0.1"},
        {"target": 3000, "published": "3005", "protocol": "udp"},
        {"target": 3000},
    ) == [
        ("", 3001, "tcp"),
        ("127.0.0.1", 3002, "tcp"),
        ("[::1]", 3003, "udp"),
        ("", 8000, "tcp"),
        ("", 8001, "tcp"),
        ("127.0.0.1", 3004, "tcp"),
        ("", 3005, "udp"),
    ]


def test_an_unreadable_port_entry_is_reported() -> None:
    _, problems = compose_bindings({"services": {"web": {"ports": ["eighty:80"]}}})
    assert problems == [
        "docker-compose.yml: service 'web' has a port entry obskit cannot read: 'eighty:80'"
    ]


@pytest.mark.parametrize(
    ("first", "second", "clash"),
    [
        (("127.0.0.1", 80, "tcp"), ("127.0.0.1", 80, "tcp"), True),
        (("", 80, "tcp"), ("127.0.0.1", 80, "tcp"), True),  # all interfaces include loopback
        (("0.0.0.0", 80, "tcp"), ("10.0.0.1", 80, "tcp"), True),
        (("127.0.0.1", 80, "tcp"), ("127.0.0.2", 80, "tcp"), False),
        (("127.0.0.1", 80, "tcp"), ("127.0.0.1", 80, "udp"), False),
        (("127.0.0.1", 80, "tcp"), ("127.0.0.1", 81, "tcp"), False),
    ],
)
def test_which_bindings_clash(
    first: tuple[str, int, str], second: tuple[str, int, str], clash: bool
) -> None:
    a, b = Binding(*first, owner="a"), Binding(*second, owner="b")
    assert bool(clashes([a, b])) is clash


def test_collector_listening_ports_leave_out_where_it_sends() -> None:
    config = copy.deepcopy(COLLECTOR)
    config["service"]["telemetry"] = {
        "metrics": {
            "readers": [{"pull": {"exporter": {"prometheus": {"host": "0.0.0.0", "port": 8888}}}}]
        }
    }
    owners = {b.owner: b.port for b in collector_bindings(config)}
    assert owners == {
        "receivers.otlp.protocols.grpc": 4317,
        "receivers.otlp.protocols.http": 4318,
        "extensions.health_check": 13133,
        "exporters.prometheus": 8889,
        "service.telemetry.metrics.readers[0]": 8888,
    }  # not exporters.otlp/tempo (tempo:4317): the collector sends there


# --- interpolation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${BIND:-127.0.0.1}:3000:3000", "0.0.0.0:3000:3000"),
        ("${UNSET:-127.0.0.1}:3000", "127.0.0.1:3000"),
        ("${EMPTY:-d}/${EMPTY-d}", "d/"),  # ":-" also replaces empty, "-" only unset
        ("${BIND:+set}${UNSET:+set}", "set"),
        ("$BIND and $$BIND", "0.0.0.0 and $BIND"),
        ("${UNSET}", ""),
    ],
)
def test_compose_interpolation(text: str, expected: str) -> None:
    assert interpolate(text, {"BIND": "0.0.0.0", "EMPTY": ""}) == expected


# --- collector pipelines ----------------------------------------------------------------------


def problems_after(change: dict[str, Any]) -> list[str]:
    config = copy.deepcopy(COLLECTOR)
    config["service"]["pipelines"].update(change)
    return pipeline_problems(config)


def test_the_minimal_collector_config_has_no_problems() -> None:
    assert pipeline_problems(COLLECTOR) == []


def test_a_connector_must_be_exported_to_and_received_from() -> None:
    assert problems_after(
        {
            "metrics/traces": {
                "receivers": ["otlp"],
                "processors": ["memory_limiter"],
                "exporters": ["prometheus"],
            }
        }
    ) == [
        "connector 'servicegraph' is an exporter in 'traces' but no pipeline receives from it",
        "connector 'spanmetrics' is an exporter in 'traces' but no pipeline receives from it",
    ]


def test_a_connector_joins_pipelines_of_the_signals_it_converts() -> None:
    assert problems_after(
        {
            "traces": {
                "receivers": ["otlp"],
                "processors": ["memory_limiter"],
                "exporters": ["otlp/tempo", "servicegraph"],
            },
            "metrics": {
                "receivers": ["otlp"],
                "processors": ["memory_limiter"],
                "exporters": ["spanmetrics"],
            },
        }
    ) == [
        "connector 'spanmetrics' cannot join metrics pipeline 'metrics' to metrics pipeline 'metrics/traces'"
    ]


def test_memory_limiter_comes_first_where_data_enters() -> None:
    assert problems_after(
        {
            "traces": {
                "receivers": ["otlp"],
                "processors": ["batch", "memory_limiter"],
                "exporters": ["otlp/tempo", "spanmetrics", "servicegraph"],
            },
            "logs": {"receivers": ["otlp"], "processors": ["batch"], "exporters": ["otlp/tempo"]},
        }
    ) == [
        "pipeline 'traces': memory_limiter must be the first processor, not 'batch'",
        "pipeline 'logs': takes data from a receiver but has no memory_limiter processor first",
    ]


def test_undefined_receivers_exporters_extensions_and_bad_pipeline_names() -> None:
    config = copy.deepcopy(COLLECTOR)
    config["service"]["extensions"].append("pprof")
    config["service"]["pipelines"]["traces"]["receivers"] = ["otlp", "jaeger", "otlp"]
    config["service"]["pipelines"]["spans"] = {
        "receivers": ["otlp"],
        "processors": ["memory_limiter"],
        "exporters": ["otlp/jaeger"],
    }
    assert pipeline_problems(config) == [
        "service.extensions: extension 'pprof' is not defined under extensions (defined: health_check)",
        "pipeline 'traces': receiver 'otlp' listed twice",
        "pipeline 'traces': receiver 'jaeger' is not defined under receivers or connectors"
        " (defined: otlp, servicegraph, spanmetrics)",
        "pipeline 'spans': unknown signal 'spans' (use traces, metrics, logs, profiles)",
        "pipeline 'spans': exporter 'otlp/jaeger' is not defined under exporters or connectors"
        " (defined: otlp/tempo, prometheus, servicegraph, spanmetrics)",
    ]


# --- grafana datasources ----------------------------------------------------------------------

UIDS = {
    "obskit-prometheus": {"name": "Prometheus", "type": "prometheus"},
    "obskit-tempo": {"name": "Tempo", "type": "tempo"},
}


def test_datasource_references_by_variable_builtin_and_wrong_type() -> None:
    dashboard = copy.deepcopy(DASHBOARD)
    dashboard["templating"]["list"].append(
        {
            "name": "ds",
            "type": "datasource",
            "query": "prometheus",
            "current": {"value": "obskit-prometheus"},
        }
    )
    dashboard["panels"] += [
        {"title": "by variable", "datasource": {"type": "prometheus", "uid": "${ds}"}},
        {"title": "annotations", "datasource": {"type": "datasource", "uid": "grafana"}},
        {"title": "default", "datasource": None},
        {"title": "wrong type", "datasource": {"type": "jaeger", "uid": "obskit-tempo"}},
        {"title": "not a variable", "datasource": {"uid": "$service"}},
        {"title": "legacy name", "datasource": "Tempo"},
    ]
    assert dashboard_problems("d.json", dashboard, UIDS) == [
        "d.json: panels[4].datasource: datasource 'obskit-tempo' has type 'tempo', the panel expects 'jaeger'",
        "d.json: panels[5].datasource: $service is not a datasource variable of this dashboard",
    ]


def test_a_datasource_variable_needs_a_datasource_of_its_type() -> None:
    dashboard = {
        "templating": {
            "list": [
                {
                    "name": "logs",
                    "type": "datasource",
                    "query": "loki",
                    "current": {"value": "obskit-loki"},
                }
            ]
        }
    }
    assert dashboard_problems("d.json", dashboard, UIDS) == [
        "d.json: variable $logs: no provisioned datasource of type 'loki'",
        "d.json: variable $logs: default uid 'obskit-loki' is not provisioned",
    ]


# --- metric names in dashboard variables ------------------------------------------------------


def test_query_variables_name_their_metric_not_their_label() -> None:
    dashboard = {
        "templating": {
            "list": [
                {"name": "a", "type": "query", "query": "label_values(target_info, service_name)"},
                {
                    "name": "b",
                    "type": "query",
                    "query": {"query": 'label_values(up{job="x"}, instance)'},
                },
                {"name": "c", "type": "query", "query": "label_values(job)"},
                {"name": "d", "type": "query", "query": "query_result(topk(5, up))"},
                {"name": "e", "type": "custom", "query": "a,b"},
            ]
        }
    }
    assert list(variable_queries(dashboard)) == [
        ("a", "target_info"),
        ("b", 'up{job="x"}'),
        ("d", "topk(5, up)"),
    ]


# --- promtool output --------------------------------------------------------------------------


def test_promtool_failures_are_folded_to_one_line_per_problem() -> None:
    # `promtool check config` output (stdout and stderr interleaved) with a broken rule file.
    output = (
        "Checking prometheus/prometheus.yml\n"
        "  SUCCESS: 2 rule files found\n"
        " SUCCESS: prometheus/prometheus.yml is valid prometheus config file syntax\n"
        "\n"
        "Checking prometheus/rules/a.yml\n"
        "  SUCCESS: 2 rules found\n"
        "\n"
        "Checking prometheus/rules/b.yml\n"
        "  FAILED:\n"
        '     prometheus/rules/b.yml: 5:15: group "b", rule 1, "x:y": could not parse expression\n'
    )
    assert failure_lines(output) == [
        'prometheus/rules/b.yml: 5:15: group "b", rule 1, "x:y": could not parse expression'
    ]
    assert failure_lines("Checking p.yml\n  FAILED: parsing YAML file p.yml: bad\n") == [
        "p.yml: parsing YAML file p.yml: bad"
    ]
    assert failure_lines("error: unknown flag --nope\n") == ["error: unknown flag --nope"]


# --- summary lines ----------------------------------------------------------------------------


def result(name: str, status: Status, tool: str = "", hint: str = "") -> CheckResult:
    return CheckResult(name, status, "", hint, tool)


def test_summary_names_every_missing_tool_once() -> None:
    report = Report(
        [
            result(
                "promtool check config", Status.MISSING, "promtool", "apt-get install prometheus"
            ),
            result(
                "promtool check rules", Status.MISSING, "promtool", "apt-get install prometheus"
            ),
            result(
                "amtool check-config",
                Status.MISSING,
                "amtool",
                "apt-get install prometheus-alertmanager",
            ),
            result("ports unique", Status.OK),
        ]
    )
    assert not report.passed()
    assert report.summary() == (
        "3 of 4 checks could not run (promtool not installed: apt-get install prometheus;"
        " amtool not installed: apt-get install prometheus-alertmanager)."
        " Install them, or pass --allow-missing."
    )
    assert report.passed(allow_missing=True)


def test_a_file_of_an_unexpected_shape_fails_its_check_without_a_traceback(
    tmp_path: Path,
) -> None:
    files = copy.deepcopy(FILES)
    files["collectors/otel-collector.yaml"]["service"]["pipelines"] = {"traces": ["otlp"]}
    own = tuple(c for c in CHECKS if c.tool is None)
    report = validate_stack(write_stack(tmp_path, files), own)
    assert [(r.name, r.status, r.detail) for r in report.failed] == [
        (
            "collector pipelines",
            Status.FAILED,
            "cannot check: unexpected file structure"
            " (AttributeError(\"'list' object has no attribute 'get'\"))",
        )
    ]


def test_prometheus_3_test_rules_output_is_about_the_file_it_was_given() -> None:
    # promtool 3.x `test rules t.yml` prints no "Unit Testing: t.yml" line before its verdict.
    output = (
        "\n\n  FAILED:\n"
        "    name: gateway slow,\n"
        "    alertname: ExternalDependencySlow, time: 3m, \n"
        "        exp:[\n"
        '              Labels:{alertname="ExternalDependencySlow", severity="page"}\n'
        "            ], \n"
        "        got:[\n"
        '              Labels:{alertname="ExternalDependencySlow", severity="ticket"}\n'
        "            ]\n"
    )
    assert failure_lines(output, file="prometheus/tests/external.yml") == [
        "prometheus/tests/external.yml: name: gateway slow, alertname: ExternalDependencySlow,"
        ' time: 3m, exp:[ Labels:{alertname="ExternalDependencySlow", severity="page"} ],'
        ' got:[ Labels:{alertname="ExternalDependencySlow", severity="ticket"} ]'
    ]
