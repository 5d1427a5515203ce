"""Every spec CI covers (tests/specs.py) generates a stack that every validator accepts, and
obskit's cross-checks really read the generated files (break one, they notice)."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from obskit.stack import writer
from obskit.validate import CHECKS, Status, validate_stack
from tests.specs import SPECS

pytestmark = pytest.mark.needs(
    "promtool", "amtool", hint="apt-get install prometheus prometheus-alertmanager"
)

HAS_COMPOSE_V1 = shutil.which("docker-compose") is not None


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``obskit init`` output for every spec, written once per session."""
    stacks = {}
    for name, spec in SPECS.items():
        out = tmp_path_factory.mktemp(f"stack-{name}")
        writer.write(out, writer.render(spec))
        stacks[name] = out
    return stacks


@pytest.mark.parametrize("name", list(SPECS))
def test_every_validator_passes_on_the_generated_stack(
    generated: dict[str, Path], name: str
) -> None:
    report = validate_stack(generated[name], spec=SPECS[name])
    problems = {
        r.name: r.detail for r in report.results if r.status in (Status.FAILED, Status.MISSING)
    }
    assert problems == {}
    ran = {r.name for r in report.results if r.status is Status.OK}
    expected = {c.name for c in CHECKS} - (set() if HAS_COMPOSE_V1 else {"docker-compose config"})
    assert ran == expected
    rule_files = sorted((generated[name] / "prometheus" / "rules").glob("*.yml"))
    checked = next(r.detail for r in report.results if r.name == "promtool check rules")
    assert checked.startswith(f"{len(rule_files)} files, ")


# --- the cross-checks read what init generates ------------------------------------------------


def own_check(stack: Path, name: str, spec=None) -> tuple[Status, str]:  # type: ignore[no-untyped-def]
    check = next(c for c in CHECKS if c.name == name)
    report = validate_stack(stack, (check,), spec=spec)
    return report.results[0].status, report.results[0].detail


@pytest.fixture
def demo(generated: dict[str, Path], tmp_path: Path) -> Path:
    """A copy of the demo stack a test may break."""
    return Path(shutil.copytree(generated["demo"], tmp_path / "demo"))


def edit_yaml(path: Path, edit) -> None:  # type: ignore[no-untyped-def]
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def test_a_generated_dashboard_panel_reading_an_unknown_metric(demo: Path) -> None:
    path = demo / "grafana" / "dashboards" / "red.json"
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    panel = next(p for p in dashboard["panels"] if p.get("targets"))
    panel["targets"][0]["expr"] = "sum(rate(http_requests_total[5m]))"
    path.write_text(json.dumps(dashboard), encoding="utf-8")
    assert own_check(demo, "metrics produced") == (
        Status.FAILED,
        f"grafana/dashboards/red.json: panel {panel['title']!r} reads http_requests_total,"
        " which nothing in the stack produces",
    )


def rules_in(path: Path) -> list[dict]:  # type: ignore[type-arg]
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [rule for group in data["groups"] for rule in group["rules"]]


def test_a_generated_alert_reading_an_unknown_metric(demo: Path) -> None:
    rule_file = next(
        path
        for path in sorted((demo / "prometheus" / "rules").glob("*.yml"))
        if any("alert" in rule for rule in rules_in(path))
    )
    found: dict[str, str] = {}

    def edit(data: dict) -> None:  # type: ignore[type-arg]
        rule = next(r for g in data["groups"] for r in g["rules"] if "alert" in r)
        rule["expr"] = "rate(requests_failed_total[5m]) > 0"
        found["alert"] = rule["alert"]

    edit_yaml(rule_file, edit)
    assert own_check(demo, "metrics produced") == (
        Status.FAILED,
        f"prometheus/rules/{rule_file.name}: alert {found['alert']} reads"
        " requests_failed_total, which nothing in the stack produces",
    )


def test_a_generated_pipeline_naming_an_undefined_processor(demo: Path) -> None:
    path = demo / "collectors" / "otel-collector.yaml"
    found: dict[str, str] = {}

    def edit(config: dict) -> None:  # type: ignore[type-arg]
        name, pipeline = next(iter(config["service"]["pipelines"].items()))
        pipeline["processors"].append("transform/redact")
        found["pipeline"] = name
        found["defined"] = ", ".join(sorted(config["processors"]))

    edit_yaml(path, edit)
    assert own_check(demo, "collector pipelines") == (
        Status.FAILED,
        f"collectors/otel-collector.yaml: pipeline {found['pipeline']!r}: processor"
        f" 'transform/redact' is not defined under processors (defined: {found['defined']})",
    )


def test_two_generated_services_on_one_host_port(demo: Path) -> None:
    path = demo / "docker-compose.yml"
    found: dict[str, str] = {}

    def edit(compose: dict) -> None:  # type: ignore[type-arg]
        published = [(n, s) for n, s in compose["services"].items() if s.get("ports")]
        (first, first_body), (second, second_body) = published[:2]
        second_body["ports"] = list(first_body["ports"][:1])
        found.update(first=first, second=second, port=first_body["ports"][0])

    edit_yaml(path, edit)
    status, detail = own_check(demo, "ports unique")
    assert status is Status.FAILED
    assert detail.endswith(
        f"is published by service {found['first']!r} and by service {found['second']!r}"
    ), detail


# --- what the generator wrote before issue 11 fails the container checks ----------------------


def test_the_old_tempo_healthcheck_fails(demo: Path) -> None:
    def edit(compose: dict) -> None:  # type: ignore[type-arg]
        compose["services"]["tempo"]["healthcheck"] = {
            "test": ["CMD", "wget", "-q", "--spider", "http://127.0.0.1:3200/ready"]
        }

    edit_yaml(demo / "docker-compose.yml", edit)
    assert own_check(demo, "healthchecks") == (
        Status.FAILED,
        "docker-compose.yml: service 'tempo': the healthcheck runs wget, which"
        " grafana/tempo:3.0.3 (gcr.io/distroless/static-debian12) does not have, so it never"
        " turns healthy; remove the healthcheck and let dependents wait with condition:"
        " service_started",
    )


def test_the_old_0600_grafana_password_fails(demo: Path) -> None:
    if os.getuid() == 472:
        pytest.skip("the file would be Grafana's own")
    (demo / "secrets" / "grafana_admin_password").chmod(0o600)
    status, detail = own_check(demo, "container file access")
    assert status is Status.FAILED
    assert detail.startswith(
        "docker-compose.yml: service 'grafana' (uid 472) cannot read secret"
        " secrets/grafana_admin_password (mode 0600, owner "
    ), detail


def test_the_old_loopback_metrics_fail(demo: Path) -> None:
    spec = replace(SPECS["demo"], metrics_host="127.0.0.1")
    status, detail = own_check(demo, "host targets", spec)
    assert status is Status.FAILED
    assert detail.splitlines()[0] == (
        "prometheus/prometheus.yml: job 'storefront' scrapes host.docker.internal:9101, but"
        " obskit.yaml has storefront serve metrics on 127.0.0.1 (metrics_host), which"
        " Prometheus in Docker cannot reach on Linux; set metrics_host: docker-bridge (the"
        " default) or 0.0.0.0"
    )
    # one line per service, the queue's consumer (mailer) included: it serves metrics too
    assert len(detail.splitlines()) == 6
    assert "job 'mailer' scrapes host.docker.internal:9107" in detail.splitlines()[-1]


def test_the_old_webhook_on_loopback_fails(demo: Path) -> None:
    path = demo / "alertmanager" / "alertmanager.yml"
    path.write_text(
        path.read_text().replace("host.docker.internal:5001", "127.0.0.1:5001"), encoding="utf-8"
    )
    status, detail = own_check(demo, "container URLs")
    assert status is Status.FAILED
    assert detail.splitlines()[0] == (
        "alertmanager/alertmanager.yml: receivers[0].webhook_configs[0].url:"
        " http://127.0.0.1:5001/alerts is the alertmanager container itself, not the host"
        " (service 'alertmanager'); use http://host.docker.internal:5001/alerts, or the"
        " compose service's name for another container"
    )
    assert len(detail.splitlines()) == 4  # default, page, ticket, watchdog


def test_the_old_15_day_retention_fails(demo: Path) -> None:
    def edit(compose: dict) -> None:  # type: ignore[type-arg]
        command = compose["services"]["prometheus"]["command"]
        at = next(i for i, c in enumerate(command) if c.startswith("--storage.tsdb.retention"))
        command[at] = "--storage.tsdb.retention.time=15d"

    edit_yaml(demo / "docker-compose.yml", edit)
    status, detail = own_check(demo, "retention")
    assert status is Status.FAILED
    assert detail.startswith(
        "docker-compose.yml: service 'prometheus' keeps 15d of samples"
        " (--storage.tsdb.retention.time), but prometheus/rules/"
    ), detail
    assert detail.endswith(
        "reads [30d], over data already deleted; keep at least 30d (obskit.yaml: retention_days)"
    )
