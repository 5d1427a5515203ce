"""The generated Prometheus rules and their promtool unit tests, for every spec CI covers.

promtool of the pinned Prometheus version (v3.14.0, built by tests/stack/peers/build) checks the
rule files and runs the generated tests; a generator-side lint
checks the alert conventions and that every alert has a firing and a non-firing test case.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from obskit.stack import rule_tests, rules
from obskit.stack.promql import le_matcher, le_spellings, quote, regex_escape
from obskit.stack.serialize import serialize
from tests.conftest import REPO, require_pinned
from tests.specs import SPECS

REQUIRED_LABELS = ("severity", "service")
REQUIRED_ANNOTATIONS = ("summary", "description", "runbook_url")
ALWAYS_FIRING = {rules.ALERT_WATCHDOG}
RUNBOOKS = REPO / "docs" / "runbooks.md"


def promtool() -> str:
    return require_pinned("promtool")


@dataclass
class Generated:
    root: Path
    rules: dict[str, Any]  # path -> data
    tests: dict[str, Any]

    def paths(self, files: dict[str, Any]) -> list[str]:
        return [str(self.root / path) for path in sorted(files)]


def write(root: Path, files: dict[str, Any]) -> None:
    for path, data in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(serialize(path, data), encoding="utf-8")


@pytest.fixture(scope="module", params=sorted(SPECS))
def generated(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    spec = SPECS[request.param]
    root = tmp_path_factory.mktemp(f"rules-{request.param}")
    made = Generated(root, rules.files(spec), rule_tests.files(spec))
    write(root, made.rules)
    write(root, made.tests)
    return made


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=300)


def run_tests_in_parallel(paths: list[str]) -> list[subprocess.CompletedProcess[str]]:
    """One promtool per file, two at a time: promtool evaluates one group after another."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda p: run(promtool(), "test", "rules", p), paths))


def test_promtool_accepts_rules(generated: Generated) -> None:
    result = run(promtool(), "check", "rules", "--lint-fatal", *generated.paths(generated.rules))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(generated.rules)


def test_promtool_unit_tests_pass(generated: Generated) -> None:
    results = run_tests_in_parallel(generated.paths(generated.tests))
    failed = [r.stdout + r.stderr for r in results if r.returncode != 0]
    assert not failed, "\n".join(failed)


# --- generator-side lint ---------------------------------------------------------------------------


def alert_rules(files: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, data in files.items():
        for group in data["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    yield path, rule


def convention_problems(files: dict[str, Any], runbooks: str) -> list[str]:
    anchors = {line[3:].strip().lower() for line in runbooks.splitlines() if line.startswith("## ")}
    problems = []
    for path, rule in alert_rules(files):
        where = f"{path}: {rule['alert']}"
        problems += [
            f"{where}: no {k} label" for k in REQUIRED_LABELS if not rule.get("labels", {}).get(k)
        ]
        problems += [
            f"{where}: no {k} annotation"
            for k in REQUIRED_ANNOTATIONS
            if not rule.get("annotations", {}).get(k)
        ]
        url = rule.get("annotations", {}).get("runbook_url", "")
        anchor = url.partition("#")[2]
        if not url.startswith(rules.RUNBOOK_BASE + "#") or anchor not in anchors:
            problems.append(f"{where}: runbook_url {url!r} has no section in docs/runbooks.md")
    return problems


def static_labels(rule: dict[str, Any]) -> dict[str, str]:
    """The rule's labels that are not templates: what every alert of it carries verbatim."""
    return {k: str(v) for k, v in rule["labels"].items() if "{{" not in str(v)}


def coverage_problems(rule_files: dict[str, Any], test_files: dict[str, Any]) -> list[str]:
    """Every alert rule needs a test case where it fires (an expected alert carrying its
    labels) and one where it must not (a check of its alertname expecting no such alert),
    in a test file that loads the rule's file."""
    fires: set[tuple[str, int]] = set()
    silent: set[tuple[str, int]] = set()
    for test_path, suite in test_files.items():
        loaded = {
            str(PurePosixPath(test_path).parent.parent / PurePosixPath(f).relative_to(".."))
            for f in suite["rule_files"]
        }
        for group in suite["tests"]:
            for check in group.get("alert_rule_test", []):
                for path, rule in alert_rules({p: rule_files[p] for p in loaded}):
                    if rule["alert"] != check["alertname"]:
                        continue
                    key = (path, id(rule))
                    want = static_labels(rule)
                    expected = check.get("exp_alerts") or []
                    if any(want.items() <= exp["exp_labels"].items() for exp in expected):
                        fires.add(key)
                    else:
                        silent.add(key)
                    for exp in expected:
                        missing = set(REQUIRED_ANNOTATIONS) - set(exp.get("exp_annotations", {}))
                        if missing:
                            return [f"{test_path}: an expected alert lacks {sorted(missing)}"]
    problems = []
    for path, rule in alert_rules(rule_files):
        key = (path, id(rule))
        name = f"{path}: {rule['alert']} {static_labels(rule)}"
        if key not in fires:
            problems.append(f"{name} never fires in a test")
        if key not in silent and rule["alert"] not in ALWAYS_FIRING:
            problems.append(f"{name} has no test where it must stay silent")
    return problems


def test_every_alert_follows_the_conventions(generated: Generated) -> None:
    assert convention_problems(generated.rules, RUNBOOKS.read_text(encoding="utf-8")) == []


def test_every_alert_fires_and_stays_silent_in_a_test(generated: Generated) -> None:
    assert coverage_problems(generated.rules, generated.tests) == []


def test_lint_finds_an_alert_without_a_firing_test() -> None:
    spec = SPECS["one-service"]
    rule_files, test_files = rules.files(spec), rule_tests.files(spec)
    page = test_files["prometheus/tests/slo-api-page.yml"]
    for group in page["tests"]:
        for check in group["alert_rule_test"]:
            check["exp_alerts"] = [
                e for e in check["exp_alerts"] if e["exp_labels"].get("long_window") != "1h"
            ]
    assert coverage_problems(rule_files, test_files) == [
        "prometheus/rules/slo-api.yml: AvailabilityErrorBudgetBurn {'severity': 'page', "
        "'service': 'api', 'slo': 'availability', 'long_window': '1h', 'short_window': '5m'} "
        "never fires in a test",
        "prometheus/rules/slo-api.yml: LatencyErrorBudgetBurn {'severity': 'page', "
        "'service': 'api', 'slo': 'latency', 'long_window': '1h', 'short_window': '5m'} "
        "never fires in a test",
    ]


def test_lint_finds_an_alert_without_its_labels() -> None:
    rule_files = rules.files(SPECS["one-service"])
    platform = rule_files["prometheus/rules/platform.yml"]["groups"][0]["rules"]
    del platform[0]["labels"]["severity"]
    del platform[0]["annotations"]["runbook_url"]
    assert convention_problems(rule_files, RUNBOOKS.read_text(encoding="utf-8")) == [
        "prometheus/rules/platform.yml: TargetDown: no severity label",
        "prometheus/rules/platform.yml: TargetDown: no runbook_url annotation",
        "prometheus/rules/platform.yml: TargetDown: runbook_url '' has no section in "
        "docs/runbooks.md",
    ]


def test_promtool_tests_catch_a_wrong_burn_factor(tmp_path: Path) -> None:
    """The tests have teeth: a fast-page threshold of 2 % instead of 1.44 % fails them."""
    spec = SPECS["one-service"]
    rule_files = rules.files(spec)
    for rule in rule_files["prometheus/rules/slo-api.yml"]["groups"][0]["rules"]:
        if rule.get("alert") and rule["labels"]["long_window"] == "1h":
            rule["expr"] = rule["expr"].replace("> 0.0144", "> 0.02")
    write(tmp_path, rule_files)
    write(
        tmp_path,
        {
            "prometheus/tests/slo-api-page.yml": rule_tests.files(spec)[
                "prometheus/tests/slo-api-page.yml"
            ]
        },
    )
    result = run(promtool(), "test", "rules", str(tmp_path / "prometheus/tests/slo-api-page.yml"))
    assert result.returncode == 1
    assert "just above 14.4x over 1h" in result.stderr + result.stdout


# --- what the rules select -----------------------------------------------------------------------


def test_names_with_dots_and_dashes_are_exact_matchers() -> None:
    spec = SPECS["odd-names"]
    text = "\n".join(serialize(p, d) for p, d in rules.files(spec).items())
    assert 'job="billing.api"' in text
    assert 'server_address="pay-gw.example.eu",server_port="8443"' in text
    # No name ever ends up inside a regex matcher.
    for matcher in re.findall(r'=~"([^"]*)"', text):
        assert matcher in {"5..", r"0\\.25", r"0\\.075"}, matcher


def test_le_matcher_accepts_every_spelling_of_the_bound() -> None:
    assert le_spellings(300) == ["0.3"]
    assert le_spellings(1000) == ["1", "1.0"]
    assert le_spellings(75) == ["0.075"]
    assert le_matcher(1000) == r'le=~"1|1\\.0"'
    for ms in (1, 75, 250, 300, 1000, 2500, 600_000):
        pattern = re.compile(regex_escape("|".join(le_spellings(ms))).replace(r"\|", "|"))
        assert pattern.fullmatch(str(ms / 1000)), ms  # what OTel's Python exporter prints
        assert not pattern.fullmatch("10" + str(ms / 1000))


def test_quote_escapes_what_promql_strings_need() -> None:
    assert quote('a"b\\c') == r'"a\"b\\c"'
    assert regex_escape("pay.gw_v2-eu") == r"pay\.gw_v2-eu"


def test_burn_factors_are_the_sre_workbook_ones_for_30_days() -> None:
    assert [(t.severity, t.long, t.short, t.factor(30)) for t in rules.TIERS] == [
        ("page", "1h", "5m", 14.4),
        ("page", "6h", "30m", 6.0),
        ("ticket", "1d", "2h", 3.0),
        ("ticket", "3d", "6h", 1.0),
    ]


def test_a_worker_gets_no_red_rules_but_is_watched_for_being_down() -> None:
    # The demo's mailer consumes RabbitMQ messages and serves no HTTP (`http: false`): RED
    # rules for it would record nothing, and a dashboard choice of it would show nothing.
    from obskit.stack.spec import load_spec

    spec = load_spec(REPO / "demo_services" / "obskit.yaml")
    generated = rules.files(spec)

    def services(file: str) -> set[str]:
        group = generated[f"prometheus/rules/{file}.yml"]["groups"][0]
        return {rule["labels"].get("service") for rule in group["rules"]}

    assert "mailer" not in services("red")
    assert "checkout" in services("red")
    assert "mailer" in services("platform")  # its TargetDown alert
    red_tests = rule_tests.files(spec)["prometheus/tests/red.yml"]
    assert 'job="mailer"' not in str(red_tests)
    assert 'job="checkout"' in str(red_tests)
