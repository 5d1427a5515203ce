"""``obskit validate --run``: the pinned servers judge the generated configs themselves.

A generated stack passes; an unknown key in the Collector config and a bad label in a rule
each fail a named check with a line that says what broke.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from obskit.cli import cli
from obskit.stack import writer
from obskit.stack.compose import IMAGES
from obskit.validate import CHECKS, Status, live, validate_stack
from obskit.validate.stackdir import COLLECTOR, RULES_DIR
from tests.conftest import require_pinned
from tests.specs import SPECS

pytestmark = pytest.mark.slow

OTELCOL_VERSION = IMAGES["otel-collector"][1]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    stacks = {}
    for name in ("demo", "jaeger"):
        out = tmp_path_factory.mktemp(f"run-{name}")
        writer.write(out, writer.render(SPECS[name]))
        stacks[name] = out
    return stacks


@pytest.fixture
def demo(generated: dict[str, Path], tmp_path: Path) -> Path:
    """A copy of the demo (Tempo) stack a test may break."""
    require_pinned("otelcol")
    return Path(shutil.copytree(generated["demo"], tmp_path / "demo"))


def run_checks(stack: Path) -> dict[str, tuple[Status, str]]:
    report = validate_stack(stack, (*CHECKS, *live.checks_for(stack)))
    return {r.name: (r.status, r.detail) for r in report.results}


def edit_yaml(path: Path, edit) -> None:  # type: ignore[no-untyped-def]
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def test_the_generated_jaeger_stack_passes_run(generated: dict[str, Path]) -> None:
    """Runs the Jaeger stand-in (v2.12.0) where the pinned 2.20.0 cannot be built; the row
    says which version ran."""
    require_pinned("otelcol")
    jaeger = require_pinned("jaeger", stand_in=True)
    results = run_checks(generated["jaeger"])
    problems = {n: d for n, (s, d) in results.items() if s in (Status.FAILED, Status.MISSING)}
    assert problems == {}
    assert results["otelcol validate"] == (
        Status.OK,
        f"valid (otelcol {OTELCOL_VERSION}, as pinned)",
    )
    status, detail = results["jaeger start"]
    assert status is Status.OK
    assert detail.startswith("started and ready on loopback, then stopped (jaeger ")
    assert Path(jaeger).parent.name.removeprefix("jaeger-v") in detail
    assert "tempo start" not in results


def test_the_generated_tempo_stack_passes_run(generated: dict[str, Path]) -> None:
    require_pinned("otelcol")
    require_pinned("tempo")  # not run where Tempo cannot be built: it says why
    results = run_checks(generated["demo"])
    problems = {n: d for n, (s, d) in results.items() if s in (Status.FAILED, Status.MISSING)}
    assert problems == {}
    assert results["tempo start"][0] is Status.OK


def test_the_collector_accepts_the_generated_tempo_config(generated: dict[str, Path]) -> None:
    require_pinned("otelcol")
    check = live.checks_for(generated["demo"])[0]
    result = validate_stack(generated["demo"], (check,)).results[0]
    assert (result.name, result.status) == ("otelcol validate", Status.OK), result.detail


def test_an_unknown_collector_key_fails_otelcol_validate(demo: Path) -> None:
    def unknown_key(config: dict) -> None:
        config["exporters"]["prometheus"]["scrape_interval"] = "15s"

    edit_yaml(demo / COLLECTOR, unknown_key)
    status, detail = run_checks(demo)["otelcol validate"]
    assert status is Status.FAILED
    assert detail.startswith(f"{COLLECTOR}: ")
    assert "prometheus" in detail
    assert "has invalid keys: scrape_interval" in detail


def has_alert(rule_file: Path) -> bool:
    data = yaml.safe_load(rule_file.read_text())
    return any("alert" in r for g in data["groups"] for r in g["rules"])


def first_alert(data: dict) -> dict:
    return next(r for g in data["groups"] for r in g["rules"] if "alert" in r)


def test_a_broken_rule_label_template_fails_promtool_check_rules(demo: Path) -> None:
    require_pinned("promtool")
    rule_file = next(p for p in sorted((demo / RULES_DIR).glob("*.yml")) if has_alert(p))
    edit_yaml(rule_file, lambda d: first_alert(d)["labels"].update(service="{{ $labels.service"))
    status, detail = run_checks(demo)["promtool check rules"]
    assert status is Status.FAILED
    assert detail.startswith(f"{RULES_DIR}/{rule_file.name}: ")
    assert "template" in detail


def test_a_wrong_rule_label_fails_promtool_test_rules_naming_the_alert(demo: Path) -> None:
    """The generated unit tests expect each alert's labels: a page turned ticket is caught."""
    require_pinned("promtool")
    rule_file = next(
        p
        for p in sorted((demo / RULES_DIR).glob("*.yml"))
        if any(
            r.get("labels", {}).get("severity") == "page"
            for g in yaml.safe_load(p.read_text())["groups"]
            for r in g["rules"]
        )
    )
    alert_name = ""

    def page_to_ticket(data: dict) -> None:
        nonlocal alert_name
        rule = next(
            r
            for g in data["groups"]
            for r in g["rules"]
            if r.get("labels", {}).get("severity") == "page"
        )
        rule["labels"]["severity"] = "ticket"
        alert_name = rule["alert"]

    edit_yaml(rule_file, page_to_ticket)
    status, detail = run_checks(demo)["promtool test rules"]
    assert status is Status.FAILED
    assert alert_name in detail
    assert 'severity="ticket"' in detail


def test_the_command_runs_the_servers_with_run(demo: Path) -> None:
    def unknown_key(config: dict) -> None:
        config["receivers"]["otlp"]["protocols"]["grpc"]["max_conns"] = 5

    edit_yaml(demo / COLLECTOR, unknown_key)
    plain = CliRunner().invoke(cli, ["validate", str(demo), "--allow-missing"])
    assert "otelcol validate" not in plain.output
    # Wide enough that the table does not wrap the collector's message across its borders.
    result = CliRunner().invoke(
        cli, ["validate", str(demo), "--run", "--allow-missing"], env={"COLUMNS": "1000"}
    )
    assert result.exit_code == 1
    assert "otelcol validate" in result.output
    assert "has invalid keys: max_conns" in " ".join(result.output.split())
    assert result.stderr.startswith("Error: 1 of ")
    assert "checks failed: otelcol validate." in result.stderr
