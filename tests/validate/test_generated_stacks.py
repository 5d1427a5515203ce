"""Every spec CI covers (tests/specs.py) generates a stack that every validator accepts, and
obskit's cross-checks really read the generated files (break one, they notice)."""

from __future__ import annotations

import json
import shutil
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
    report = validate_stack(generated[name])
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


def own_check(stack: Path, name: str) -> tuple[Status, str]:
    check = next(c for c in CHECKS if c.name == name)
    report = validate_stack(stack, (check,))
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
