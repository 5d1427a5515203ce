"""``obskit validate``: the real validators and obskit's cross-checks on a stack.

Failure cases start from a small hand-made stack (tests/validate/minimal_stack.py) that passes
every check, break exactly one thing, and pin the one line each check reports and the summary.
"""

from __future__ import annotations

import copy
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from obskit.cli import cli
from obskit.stack.servers import CACHE_ENV, find_binary
from obskit.validate import CHECKS, Status, validate_stack
from tests.validate.minimal_stack import FILES, write_stack

pytestmark = pytest.mark.needs(
    "promtool", "amtool", hint="apt-get install prometheus prometheus-alertmanager"
)

Files = dict[str, Any]
HAS_COMPOSE_V1 = shutil.which("docker-compose") is not None
ALL_CHECKS = 16


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
        "image facts": (Status.OK, "4 images, each with known facts"),
        "healthchecks": (
            Status.OK,
            "1 healthcheck the images can run; every awaited service has one",
        ),
        "container file access": (
            Status.OK,
            "13 mounted paths readable by the container users",
        ),
        "container URLs": (Status.OK, "8 addresses in container configs reachable"),
        "host targets": (Status.OK, "1 service on the host reachable from Prometheus"),
        "retention": (Status.OK, "15d kept; the longest rule range is 5m"),
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
        "All 15 checks passed; 1 skipped (docker-compose not installed:"
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


# --- the container context (issue 11) ----------------------------------------------------------


def unknown_image(files: Files) -> None:
    files["docker-compose.yml"]["services"]["grafana"]["image"] = "grafana/grafana:12.0.0"


def healthcheck_without_wget(files: Files) -> None:
    wget = ["CMD", "wget", "-q", "--spider", "http://127.0.0.1:13133/"]
    files["docker-compose.yml"]["services"]["collector"]["healthcheck"] = {"test": wget}


def shell_healthcheck_in_scratch(files: Files) -> None:
    check = {"test": ["CMD-SHELL", "otelcol-contrib --version || exit 1"]}
    files["docker-compose.yml"]["services"]["collector"]["healthcheck"] = check


def waits_for_a_service_without_healthcheck(files: Files) -> None:
    depends = files["docker-compose.yml"]["services"]["grafana"]["depends_on"]
    depends["collector"] = {"condition": "service_healthy"}


def webhook_on_loopback(files: Files) -> None:
    receiver = files["alertmanager/alertmanager.yml"]["receivers"][0]
    receiver["webhook_configs"][0]["url"] = "http://127.0.0.1:5001/alerts"


def no_host_gateway(files: Files) -> None:
    del files["docker-compose.yml"]["services"]["alertmanager"]["extra_hosts"]


def exporter_to_loopback(files: Files) -> None:
    files["collectors/otel-collector.yaml"]["exporters"]["otlp/tempo"]["endpoint"] = (
        "localhost:4317"
    )


def host_service_on_loopback(files: Files) -> None:
    files["obskit.yaml"] = {**files["obskit.yaml"], "metrics_host": "127.0.0.1"}


def short_retention(files: Files) -> None:
    command = files["docker-compose.yml"]["services"]["prometheus"]["command"]
    command.append("--storage.tsdb.retention.time=2m")


FAILURES: dict[str, tuple[Callable[[Files], None], dict[str, str], str]] = {
    "a healthcheck running wget in the scratch Collector image": (
        healthcheck_without_wget,
        {
            "healthchecks": (
                "docker-compose.yml: service 'collector': the healthcheck runs wget, which"
                " otel/opentelemetry-collector-contrib:0.159.0 (scratch) does not have, so it"
                " never turns healthy; remove the healthcheck and let dependents wait with"
                " condition: service_started"
            )
        },
        "1 of 16 checks failed: healthchecks.",
    ),
    "a shell healthcheck in an image without a shell": (
        shell_healthcheck_in_scratch,
        {
            "healthchecks": (
                "docker-compose.yml: service 'collector': the healthcheck runs a shell, which"
                " otel/opentelemetry-collector-contrib:0.159.0 (scratch) does not have, so it"
                " never turns healthy; remove the healthcheck and let dependents wait with"
                " condition: service_started"
            )
        },
        "1 of 16 checks failed: healthchecks.",
    ),
    "waiting for a service without a healthcheck to be healthy": (
        waits_for_a_service_without_healthcheck,
        {
            "healthchecks": (
                "docker-compose.yml: service 'grafana' waits for 'collector' to be healthy, but"
                " 'collector' has no healthcheck, so it never starts; use condition:"
                " service_started"
            )
        },
        "1 of 16 checks failed: healthchecks.",
    ),
    "a webhook on loopback inside the Alertmanager container": (
        webhook_on_loopback,
        {
            "container URLs": (
                "alertmanager/alertmanager.yml: receivers[0].webhook_configs[0].url:"
                " http://127.0.0.1:5001/alerts is the alertmanager container itself, not the"
                " host (service 'alertmanager'); use http://host.docker.internal:5001/alerts,"
                " or the compose service's name for another container"
            )
        },
        "1 of 16 checks failed: container URLs.",
    ),
    "a collector exporter sending to its own loopback": (
        exporter_to_loopback,
        {
            "container URLs": (
                "collectors/otel-collector.yaml: exporters.otlp/tempo.endpoint: localhost:4317"
                " is the collector container itself, not the host (service 'collector'); use"
                " host.docker.internal:4317, or the compose service's name for another"
                " container"
            )
        },
        "1 of 16 checks failed: container URLs.",
    ),
    "host.docker.internal without the host-gateway mapping": (
        no_host_gateway,
        {
            "container URLs": (
                "docker-compose.yml: service 'alertmanager': alertmanager/alertmanager.yml sends"
                " to host.docker.internal, which Linux only defines with extra_hosts:"
                ' ["host.docker.internal:host-gateway"]; add it'
            )
        },
        "1 of 16 checks failed: container URLs.",
    ),
    "a scraped host service listening on loopback": (
        host_service_on_loopback,
        {
            "host targets": (
                "prometheus/prometheus.yml: job 'api' scrapes host.docker.internal:9100, but"
                " obskit.yaml has api serve metrics on 127.0.0.1 (metrics_host), which"
                " Prometheus in Docker cannot reach on Linux; set metrics_host: docker-bridge"
                " (the default) or 0.0.0.0"
            )
        },
        "1 of 16 checks failed: host targets.",
    ),
    "retention shorter than a rule's range": (
        short_retention,
        {
            "retention": (
                "docker-compose.yml: service 'prometheus' keeps 2m of samples"
                " (--storage.tsdb.retention.time), but prometheus/rules/api.yml: record"
                " job:http_requests:rate5m reads [5m], over data already deleted; keep at"
                " least 5m (obskit.yaml: retention_days)"
            )
        },
        "1 of 16 checks failed: retention.",
    ),
    "broken PromQL in a rule": (
        broken_promql,
        {
            # promtool check config follows rule_files; the unit test loads the same file
            "promtool check config": rule_error(),
            "promtool check rules": rule_error(),
            "promtool test rules": f"prometheus/tests/api.yml: {rule_error()}",
        },
        "3 of 16 checks failed: promtool check config, promtool check rules, promtool test rules.",
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
        "1 of 16 checks failed: promtool test rules.",
    ),
    "an undefined receiver in alertmanager": (
        undefined_receiver,
        {
            "amtool check-config": (
                'alertmanager/alertmanager.yml: undefined receiver "pager" used in route'
            )
        },
        "1 of 16 checks failed: amtool check-config.",
    ),
    "a collector pipeline referencing an undefined processor": (
        undefined_processor,
        {
            "collector pipelines": (
                "collectors/otel-collector.yaml: pipeline 'traces': processor 'attributes/env'"
                " is not defined under processors (defined: batch, memory_limiter)"
            )
        },
        "1 of 16 checks failed: collector pipelines.",
    ),
    "a dashboard querying a metric nothing produces": (
        unproduced_metric,
        {
            "metrics produced": (
                "grafana/dashboards/red.json: panel 'Request rate' reads http_requests_total,"
                " which nothing in the stack produces"
            )
        },
        "1 of 16 checks failed: metrics produced.",
    ),
    "two compose services publishing one host port": (
        duplicate_host_port,
        {
            "ports unique": (
                "docker-compose.yml: host port 127.0.0.1:9090/tcp is published by"
                " service 'prometheus' and by service 'grafana'"
            )
        },
        "1 of 16 checks failed: ports unique.",
    ),
    "two collector components on one port": (
        duplicate_collector_port,
        {
            "ports unique": (
                "collectors/otel-collector.yaml: port 4317 is listened on by"
                " receivers.otlp.protocols.grpc and by extensions.health_check"
            )
        },
        "1 of 16 checks failed: ports unique.",
    ),
    "a service on the host using a port compose publishes": (
        host_service_on_a_published_port,
        {
            "ports unique": (
                "prometheus/prometheus.yml: job 'api' scrapes a service on host port 9090,"
                " which docker-compose.yml publishes for service 'prometheus'"
            )
        },
        "1 of 16 checks failed: ports unique.",
    ),
    "a dashboard naming a datasource uid that is not provisioned": (
        unknown_datasource,
        {
            "grafana datasources": (
                "grafana/dashboards/red.json: panels[0].targets[0].datasource: datasource uid"
                " 'prom' is not provisioned (provisioned: obskit-prometheus, obskit-tempo)"
            )
        },
        "1 of 16 checks failed: grafana datasources.",
    ),
    "a stack file that is gone": (
        missing_alertmanager_config,
        {"amtool check-config": "alertmanager/alertmanager.yml not found"},
        "1 of 16 checks failed: amtool check-config.",
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
def test_an_image_without_known_facts_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    report = validate_stack(make_stack(tmp_path / "stack", unknown_image))
    warned = {r.name: r.detail for r in report.results if r.status is Status.WARNED}
    assert warned == {
        "image facts": (
            "docker-compose.yml: service 'grafana': image grafana/grafana:12.0.0 is not in"
            " obskit's image facts (obskit/stack/images.py): its healthcheck, user and file"
            " access are not checked; facts unknown"
        )
    }
    assert report.passed()
    assert report.summary() == (
        "All 15 checks passed; 1 with a warning (image facts); 1 skipped (docker-compose not"
        " installed: apt-get install docker-compose)."
    )


def mounted_failure(stack: Path) -> dict[str, str]:
    report = validate_stack(stack, (next(c for c in CHECKS if c.name == "container file access"),))
    assert report.results[0].status is Status.FAILED
    return {r.name: r.detail for r in report.results}


def owner() -> str:
    return f"{os.getuid()}:{os.getgid()}"


@pytest.mark.skipif(os.getuid() == 472, reason="the file would be Grafana's own")
def test_a_secret_the_grafana_user_cannot_read(tmp_path: Path) -> None:
    # What `obskit init` wrote before issue 11: 0600, owned by the host user.
    stack = make_stack(tmp_path / "stack")
    (stack / "secrets" / "grafana_admin_password").chmod(0o600)
    assert mounted_failure(stack) == {
        "container file access": (
            "docker-compose.yml: service 'grafana' (uid 472) cannot read secret"
            f" secrets/grafana_admin_password (mode 0600, owner {owner()}): a bind mount keeps"
            " the host's mode and owner; chmod 644 it and keep secrets/ at mode 0700"
        )
    }


@pytest.mark.skipif(os.getuid() == 65534, reason="the file would be nobody's own")
def test_a_config_the_prometheus_user_cannot_read(tmp_path: Path) -> None:
    stack = make_stack(tmp_path / "stack")
    (stack / "prometheus" / "prometheus.yml").chmod(0o600)
    assert mounted_failure(stack) == {
        "container file access": (
            "docker-compose.yml: service 'prometheus' (uid 65534) cannot read file"
            f" prometheus/prometheus.yml (mode 0600, owner {owner()}): a bind mount keeps the"
            " host's mode and owner; chmod 644 it"
        )
    }


def test_a_secret_every_host_user_can_read(tmp_path: Path) -> None:
    stack = make_stack(tmp_path / "stack")
    (stack / "secrets").chmod(0o755)
    assert mounted_failure(stack) == {
        "container file access": (
            "docker-compose.yml: service 'grafana': secret secrets/grafana_admin_password (mode"
            " 0644) is readable by every user of this host, as secrets/ lets them in; chmod 700"
            " secrets"
        )
    }


def test_a_fresh_clone_without_the_secret(tmp_path: Path) -> None:
    # secrets/ is git-ignored: compose refuses to start until `obskit init` writes it.
    stack = make_stack(tmp_path / "stack")
    (stack / "secrets" / "grafana_admin_password").unlink()
    assert mounted_failure(stack) == {
        "container file access": (
            "docker-compose.yml: service 'grafana': secret file secrets/grafana_admin_password"
            " does not exist and compose refuses to start without it; run `obskit init` (it"
            " writes the Grafana password) or create it"
        )
    }


def test_without_a_spec_the_host_targets_check_is_skipped_and_says_why(tmp_path: Path) -> None:
    stack = make_stack(tmp_path / "stack")
    (stack / "obskit.yaml").unlink()
    report = validate_stack(stack, (next(c for c in CHECKS if c.name == "host targets"),))
    assert (report.results[0].status, report.results[0].detail) == (
        Status.SKIPPED,
        "no obskit.yaml next to the stack: pass --spec to check where host services listen",
    )
    # --spec names it
    spec = tmp_path / "elsewhere.yaml"
    spec.write_text(
        "project: mini\nmetrics_host: 127.0.0.1\n"
        "services: [{name: api, port: 8100, metrics_port: 9100}]\n",
        encoding="utf-8",
    )
    report = validate_stack(
        stack, (next(c for c in CHECKS if c.name == "host targets"),), spec=spec
    )
    assert report.results[0].status is Status.FAILED
    assert "elsewhere.yaml has api serve metrics on 127.0.0.1" in report.results[0].detail


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
    summary = "1 of 16 checks failed: compose schema."
    if HAS_COMPOSE_V1:
        expected["docker-compose config"] = (
            "docker-compose.yml: Unsupported config option for services.grafana: 'restart_policy'"
        )
        summary = "2 of 16 checks failed: compose schema, docker-compose config."
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
        "Error: 3 of 16 checks could not run (promtool not installed: apt-get install"
        " prometheus). Install it, or pass --allow-missing.\n"
    )


@pytest.mark.usefixtures("path_without_promtool")
def test_allow_missing_passes_when_everything_that_ran_passed(tmp_path: Path) -> None:
    result = invoke(str(make_stack(tmp_path / "stack")), "--allow-missing")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == (
        "All 12 checks that ran passed; 3 not run (promtool not installed: apt-get install"
        " prometheus); 1 skipped (docker-compose not installed: apt-get install docker-compose)."
    )


@pytest.mark.usefixtures("path_without_promtool")
def test_allow_missing_still_fails_on_a_failed_check(tmp_path: Path) -> None:
    result = invoke(str(make_stack(tmp_path / "stack", undefined_receiver)), "--allow-missing")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: 1 of 16 checks failed: amtool check-config. 3 not run (promtool not installed:"
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


# --- which promtool and amtool ran (issue 11, problem 6) ---------------------------------------


def fake_tool(path: Path, banner: str) -> Path:
    """An executable that only answers --version: the selection is what is under test."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho '{banner}'\n", encoding="utf-8")
    path.chmod(0o755)
    return path


def test_the_pinned_promtool_in_the_servers_cache_wins_over_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from obskit.validate.tools import AMTOOL, PROMTOOL

    monkeypatch.setenv("OBSKIT_SERVERS_CACHE", str(tmp_path / "cache"))
    assert PROMTOOL.command() == [shutil.which("promtool")]  # nothing cached: PATH
    cached = fake_tool(
        tmp_path / "cache" / "prometheus-v3.14.0" / "promtool",
        "promtool, version 3.14.0 (branch: HEAD, revision: unknown)",
    )
    assert PROMTOOL.command() == [str(cached)]
    assert PROMTOOL.ran_with([str(cached)]) == "promtool 3.14.0"
    amtool = fake_tool(
        tmp_path / "cache" / "alertmanager-v0.34.0" / "amtool", "amtool, version 0.34.0"
    )
    assert AMTOOL.command() == [str(amtool)]
    assert AMTOOL.ran_with([str(amtool)]) == "amtool 0.34.0"


def test_a_promtool_of_another_major_version_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from obskit.validate.tools import PROMTOOL, version

    monkeypatch.setenv("OBSKIT_SERVERS_CACHE", str(tmp_path / "empty"))
    found = PROMTOOL.command()
    assert found is not None
    ran = version(found[0])
    assert ran is not None
    report = validate_stack(make_stack(tmp_path / "stack"))
    checked_with = {r.name: r.ran_with for r in report.results if r.ran_with}
    expected = f"promtool {ran}" + ("" if ran.startswith("3.") else ", not the image's 3.14.0")
    assert checked_with["promtool check config"] == expected
    assert checked_with["promtool test rules"] == expected
    assert checked_with["amtool check-config"].startswith("amtool ")
