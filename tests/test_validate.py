"""``obskit validate``: the real validators and obskit's cross-checks on a stack.

Failure cases start from a small hand-made stack (tests/validate/minimal_stack.py) that passes
every check, break exactly one thing, and pin the one line each check reports and the summary.
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from obskit.cli import cli
from obskit.stack.servers import CACHE_ENV, find_binary
from obskit.validate import Status, validate_stack
from tests.validate.minimal_stack import FILES, write_stack

pytestmark = pytest.mark.needs(
    "promtool", "amtool", hint="apt-get install prometheus prometheus-alertmanager"
)

Files = dict[str, Any]
HAS_COMPOSE_V1 = shutil.which("docker-compose") is not None
ALL_CHECKS = 10


def make_stack(root: Path, mutate: Callable[[Files], None] | None = None) -> Path:
    files = copy.deepcopy(FILES)
    if mutate:
        mutate(files)
    return write_stack(root, files)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, ["validate", *args])


def not_ok(directory: Path) -> dict[str, str]:
    """The checks that failed or could not run, with their detail."""
    return {
        r.name: r.detail
        for r in validate_stack(directory).results
        if r.status in (Status.FAILED, Status.MISSING)
    }


def path_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *tools: str) -> None:
    """PATH holds exactly these tools (a missing validator is simulated by leaving it out),
    and obskit's server cache is empty, so promtool and amtool come from PATH too."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in tools:
        found = find_binary(tool) if tool in ("promtool", "amtool") else shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "no-server-cache"))


@pytest.fixture
def without_compose_v1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Compose v1 is optional and its Python start-up is the slowest validator (~1 s): leave
    it out where a case is not about docker-compose.yml."""
    path_with(tmp_path, monkeypatch, "promtool", "amtool")


# --- the stack that passes --------------------------------------------------------------------


def test_every_check_passes_on_a_good_stack(tmp_path: Path) -> None:
    stack = make_stack(tmp_path)
    report = validate_stack(stack)
    details = {r.name: (r.status, r.detail) for r in report.results}
    assert details == {
        "promtool check config": (Status.OK, "valid; follows 1 rule file (2 rules)"),
        "promtool check rules": (Status.OK, "1 file, 2 rules"),
        "promtool test rules": (Status.OK, "1 test file passed"),
        "amtool check-config": (Status.OK, "valid; 1 receiver, 0 inhibit rules, 0 templates"),
        "compose schema": (Status.OK, "valid against the compose-spec schema"),
        "docker-compose config": details["docker-compose config"],
        "collector pipelines": (Status.OK, "2 pipelines, 2 connectors, every component defined"),
        "metrics produced": (Status.OK, "5 queries read only produced metrics"),
        "ports unique": (
            Status.OK,
            "5 published host ports, 1 service on the host, 5 collector ports: no clashes",
        ),
        "grafana datasources": (
            Status.OK,
            "2 datasources; 3 references in 1 dashboard resolve",
        ),
    }
    if HAS_COMPOSE_V1:
        assert details["docker-compose config"] == (
            Status.OK,
            "valid; .env interpolation resolves every variable",
        )


@pytest.mark.usefixtures("without_compose_v1")
def test_the_command_checks_the_current_directory_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(make_stack(tmp_path / "stack"))
    result = invoke()
    assert result.exit_code == 0, result.output
    assert "obskit validate ." in result.stdout
    assert "promtool test rules" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == (
        "All 9 checks passed; 1 skipped (docker-compose not installed:"
        " apt-get install docker-compose)."
    )


# --- one broken thing, one precise failure ----------------------------------------------------

BROKEN_EXPR = "sum(rate(http_server_request_duration_seconds_count[5m])"


def rule_error() -> str:
    """promtool's line for BROKEN_EXPR: it names the expression's line and column in the file
    (computed here, since they depend on how the serializer lays out YAML)."""
    from obskit.stack.serialize import serialize

    files: Files = copy.deepcopy(FILES)
    broken_promql(files)
    lines = serialize("api.yml", files["prometheus/rules/api.yml"]).splitlines()
    line = next(i for i, text in enumerate(lines, 1) if BROKEN_EXPR in text)
    column = lines[line - 1].index(BROKEN_EXPR) + 1
    return (
        f'prometheus/rules/api.yml: {line}:{column}: group "api", rule 1,'
        ' "job:http_requests:rate5m": could not parse expression: 1:57: parse error:'
        " unclosed left parenthesis"
    )


def broken_promql(files: Files) -> None:
    files["prometheus/rules/api.yml"]["groups"][0]["rules"][0]["expr"] = BROKEN_EXPR


def failing_rule_test(files: Files) -> None:
    test = files["prometheus/tests/api.yml"]["tests"][0]["alert_rule_test"][1]
    test["exp_alerts"][0]["exp_labels"]["severity"] = "ticket"


def undefined_receiver(files: Files) -> None:
    route = files["alertmanager/alertmanager.yml"]["route"]
    route["routes"] = [{"receiver": "pager", "matchers": ['severity="page"']}]


def unknown_compose_key(files: Files) -> None:
    files["docker-compose.yml"]["services"]["grafana"]["restart_policy"] = "always"


def undefined_processor(files: Files) -> None:
    pipeline = files["collectors/otel-collector.yaml"]["service"]["pipelines"]["traces"]
    pipeline["processors"].append("attributes/env")


def unproduced_metric(files: Files) -> None:
    target = files["grafana/dashboards/red.json"]["panels"][0]["targets"][0]
    target["expr"] = "sum(rate(http_requests_total[5m]))"


def duplicate_host_port(files: Files) -> None:
    files["docker-compose.yml"]["services"]["grafana"]["ports"] = ["127.0.0.1:9090:3000"]


def duplicate_collector_port(files: Files) -> None:
    files["collectors/otel-collector.yaml"]["extensions"]["health_check"]["endpoint"] = (
        "0.0.0.0:4317"
    )


def host_service_on_a_published_port(files: Files) -> None:
    job = files["prometheus/prometheus.yml"]["scrape_configs"][0]
    job["static_configs"][0]["targets"] = ["host.docker.internal:9090"]


def unknown_datasource(files: Files) -> None:
    panel = files["grafana/dashboards/red.json"]["panels"][0]
    panel["targets"][0]["datasource"] = {"type": "prometheus", "uid": "prom"}


def missing_alertmanager_config(files: Files) -> None:
    del files["alertmanager/alertmanager.yml"]


FAILURES: dict[str, tuple[Callable[[Files], None], dict[str, str], str]] = {
    "broken PromQL in a rule": (
        broken_promql,
        {
            # promtool check config follows rule_files; the unit test loads the same file
            "promtool check config": rule_error(),
            "promtool check rules": rule_error(),
            "promtool test rules": f"prometheus/tests/api.yml: {rule_error()}",
        },
        "3 of 10 checks failed: promtool check config, promtool check rules, promtool test rules.",
    ),
    "a promtool test that fails": (
        failing_rule_test,
        {
            "promtool test rules": (
                "prometheus/tests/api.yml: alertname: ApiDown, time: 2m,"
                ' exp:[ 0: Labels:{alertname="ApiDown", instance="a:9100", job="api",'
                ' service="api", severity="ticket"} Annotations:{summary="api is down"} ],'
                ' got:[ 0: Labels:{alertname="ApiDown", instance="a:9100", job="api",'
                ' service="api", severity="page"} Annotations:{summary="api is down"} ]'
            )
        },
        "1 of 10 checks failed: promtool test rules.",
    ),
    "an undefined receiver in alertmanager": (
        undefined_receiver,
        {
            "amtool check-config": (
                'alertmanager/alertmanager.yml: undefined receiver "pager" used in route'
            )
        },
        "1 of 10 checks failed: amtool check-config.",
    ),
    "a collector pipeline referencing an undefined processor": (
        undefined_processor,
        {
            "collector pipelines": (
                "collectors/otel-collector.yaml: pipeline 'traces': processor 'attributes/env'"
                " is not defined under processors (defined: batch, memory_limiter)"
            )
        },
        "1 of 10 checks failed: collector pipelines.",
    ),
    "a dashboard querying a metric nothing produces": (
        unproduced_metric,
        {
            "metrics produced": (
                "grafana/dashboards/red.json: panel 'Request rate' reads http_requests_total,"
                " which nothing in the stack produces"
            )
        },
        "1 of 10 checks failed: metrics produced.",
    ),
    "two compose services publishing one host port": (
        duplicate_host_port,
        {
            "ports unique": (
                "docker-compose.yml: host port 127.0.0.1:9090/tcp is published by"
                " service 'prometheus' and by service 'grafana'"
            )
        },
        "1 of 10 checks failed: ports unique.",
    ),
    "two collector components on one port": (
        duplicate_collector_port,
        {
            "ports unique": (
                "collectors/otel-collector.yaml: port 4317 is listened on by"
                " receivers.otlp.protocols.grpc and by extensions.health_check"
            )
        },
        "1 of 10 checks failed: ports unique.",
    ),
    "a service on the host using a port compose publishes": (
        host_service_on_a_published_port,
        {
            "ports unique": (
                "prometheus/prometheus.yml: job 'api' scrapes a service on host port 9090,"
                " which docker-compose.yml publishes for service 'prometheus'"
            )
        },
        "1 of 10 checks failed: ports unique.",
    ),
    "a dashboard naming a datasource uid that is not provisioned": (
        unknown_datasource,
        {
            "grafana datasources": (
                "grafana/dashboards/red.json: panels[0].targets[0].datasource: datasource uid"
                " 'prom' is not provisioned (provisioned: obskit-prometheus, obskit-tempo)"
            )
        },
        "1 of 10 checks failed: grafana datasources.",
    ),
    "a stack file that is gone": (
        missing_alertmanager_config,
        {"amtool check-config": "alertmanager/alertmanager.yml not found"},
        "1 of 10 checks failed: amtool check-config.",
    ),
}


@pytest.mark.usefixtures("without_compose_v1")
@pytest.mark.parametrize("case", list(FAILURES))
def test_one_broken_thing_fails_with_a_precise_detail(tmp_path: Path, case: str) -> None:
    mutate, expected, summary = FAILURES[case]
    report = validate_stack(make_stack(tmp_path / "stack", mutate))
    failures = {r.name: r.detail for r in report.results if r.status == Status.FAILED}
    assert failures == expected
    assert not report.missing
    assert report.summary() == summary


@pytest.mark.usefixtures("without_compose_v1")
@pytest.mark.parametrize(
    "case", ["broken PromQL in a rule", "two compose services publishing one host port"]
)
def test_the_command_exits_1_with_the_summary(tmp_path: Path, case: str) -> None:
    mutate, expected, summary = FAILURES[case]
    result = invoke(str(make_stack(tmp_path / "stack", mutate)))
    assert (result.exit_code, result.stderr) == (1, f"Error: {summary}\n")
    for name in expected:  # the table names the failed checks
        assert name in result.stdout


def test_an_unknown_compose_key_fails_both_compose_validators(tmp_path: Path) -> None:
    stack = make_stack(tmp_path, unknown_compose_key)
    expected = {
        "compose schema": (
            "docker-compose.yml: services.grafana: Unevaluated properties are not allowed"
            " ('restart_policy' was unexpected)"
        )
    }
    summary = "1 of 10 checks failed: compose schema."
    if HAS_COMPOSE_V1:
        expected["docker-compose config"] = (
            "docker-compose.yml: Unsupported config option for services.grafana: 'restart_policy'"
        )
        summary = "2 of 10 checks failed: compose schema, docker-compose config."
    assert not_ok(stack) == expected
    if not HAS_COMPOSE_V1:  # optional: skipped, and the report says how to get it
        skipped = {
            r.name: r.detail for r in validate_stack(stack).results if r.status is Status.SKIPPED
        }
        assert skipped == {
            "docker-compose config": (
                "docker-compose is not installed: apt-get install docker-compose (optional)"
            )
        }
    result = invoke(str(stack))
    assert (result.exit_code, result.stderr) == (1, f"Error: {summary}\n")


@pytest.mark.needs("docker-compose", hint="apt-get install docker-compose")
def test_docker_compose_interpolates_dot_env_and_reports_unset_variables(tmp_path: Path) -> None:
    # The image tags come from .env (the good stack passes); without one of them Compose
    # would pull "prom/prometheus:" silently.
    stack = make_stack(tmp_path)
    (stack / ".env").write_text("ALERTMANAGER_VERSION=v0.34.0\n", encoding="utf-8")
    assert not_ok(stack) == {
        "docker-compose config": (
            "PROMETHEUS_VERSION not set in .env (Compose would use an empty string)"
        )
    }


# --- validators that are not installed --------------------------------------------------------


@pytest.fixture
def path_without_promtool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path_with(tmp_path, monkeypatch, "amtool")


PROMTOOL_MISSING = "promtool is not installed: apt-get install prometheus"


@pytest.mark.usefixtures("path_without_promtool")
def test_a_missing_validator_fails_the_run_and_says_how_to_install_it(tmp_path: Path) -> None:
    stack = make_stack(tmp_path / "stack")
    report = validate_stack(stack)
    missing = {r.name: r.detail for r in report.results if r.status == Status.MISSING}
    assert missing == {
        "promtool check config": PROMTOOL_MISSING,
        "promtool check rules": PROMTOOL_MISSING,
        "promtool test rules": PROMTOOL_MISSING,
    }
    result = invoke(str(stack))
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: 3 of 10 checks could not run (promtool not installed: apt-get install"
        " prometheus). Install it, or pass --allow-missing.\n"
    )


@pytest.mark.usefixtures("path_without_promtool")
def test_allow_missing_passes_when_everything_that_ran_passed(tmp_path: Path) -> None:
    result = invoke(str(make_stack(tmp_path / "stack")), "--allow-missing")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == (
        "All 6 checks that ran passed; 3 not run (promtool not installed: apt-get install"
        " prometheus); 1 skipped (docker-compose not installed: apt-get install docker-compose)."
    )


@pytest.mark.usefixtures("path_without_promtool")
def test_allow_missing_still_fails_on_a_failed_check(tmp_path: Path) -> None:
    result = invoke(str(make_stack(tmp_path / "stack", undefined_receiver)), "--allow-missing")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: 1 of 10 checks failed: amtool check-config. 3 not run (promtool not installed:"
        " apt-get install prometheus).\n"
    )


@pytest.mark.usefixtures("without_compose_v1")
def test_docker_compose_is_optional(tmp_path: Path) -> None:
    skipped = [
        (r.name, r.detail)
        for r in validate_stack(make_stack(tmp_path / "stack")).results
        if r.status == Status.SKIPPED
    ]
    assert skipped == [
        (
            "docker-compose config",
            "docker-compose is not installed: apt-get install docker-compose (optional)",
        )
    ]


@pytest.mark.usefixtures("without_compose_v1")
def test_a_missing_check_jsonschema_says_pip_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # check-jsonschema is a Python package: "missing" means obskit's environment lacks it.
    import importlib.util

    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == "check_jsonschema" else real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    assert not_ok(make_stack(tmp_path / "stack")) == {
        "compose schema": "check-jsonschema is not installed: pip install check-jsonschema"
    }


# --- not a stack ------------------------------------------------------------------------------


def test_a_directory_without_a_stack_exits_2_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "docker-compose.yml").write_text("services: {}\n", encoding="utf-8")
    result = invoke(str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {tmp_path} is not a generated stack: it has none of prometheus/prometheus.yml,"
        " collectors/otel-collector.yaml, alertmanager/alertmanager.yml (give the directory"
        " `obskit init --out` wrote, or run `obskit init` first)\n"
    )


def test_a_directory_that_does_not_exist_exits_2(tmp_path: Path) -> None:
    result = invoke(str(tmp_path / "nope"))
    assert (result.exit_code, result.stderr) == (
        2,
        f"Error: {tmp_path / 'nope'} does not exist (give the directory `obskit init --out`"
        " wrote, or run `obskit init` first)\n",
    )
