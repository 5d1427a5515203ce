"""``promtool check config`` (which follows ``rule_files``), ``promtool check rules`` and
``promtool test rules`` on the generated Prometheus files."""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor

from obskit.validate.check import Check, Outcome, failed, passed, plural
from obskit.validate.stackdir import PROMETHEUS, RULES_DIR, TESTS_DIR, StackDir
from obskit.validate.tools import PROMTOOL, run

_BLOCK_START = re.compile(r"^(Checking|Unit Testing:)\s+(?P<file>.+?)\s*$")
_RULES_FOUND = re.compile(r"SUCCESS: (\d+) rules found")


def check_config(stack: StackDir, promtool: list[str]) -> Outcome:
    stack.require(PROMETHEUS)
    result = run([*promtool, "check", "config", PROMETHEUS], cwd=stack.root)
    if not result.ok:
        return failed(failure_lines(result.output))
    rule_files = len(re.findall(r"^Checking (?!.*prometheus\.yml$)", result.output, re.M))
    rules = sum(int(n) for n in _RULES_FOUND.findall(result.output))
    return passed(f"valid; follows {plural(rule_files, 'rule file')} ({plural(rules, 'rule')})")


def check_rules(stack: StackDir, promtool: list[str]) -> Outcome:
    files = stack.rule_files
    if not files:
        return failed(f"no rule files in {RULES_DIR}/")
    result = run([*promtool, "check", "rules", *files], cwd=stack.root)
    if not result.ok:
        return failed(failure_lines(result.output))
    rules = sum(int(n) for n in _RULES_FOUND.findall(result.output))
    return passed(f"{plural(len(files), 'file')}, {plural(rules, 'rule')}")


def test_rules(stack: StackDir, promtool: list[str]) -> Outcome:
    files = stack.rule_test_files
    if not files:
        return failed(f"no rule unit tests in {TESTS_DIR}/")
    # One promtool per file, as many at once as there are cores: promtool tests files one
    # after another on one core, and long SLO windows make some files take seconds.
    biggest_first = sorted(files, key=lambda rel: -stack.path(rel).stat().st_size)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        runs = {
            rel: pool.submit(run, [*promtool, "test", "rules", rel], cwd=stack.root)
            for rel in biggest_first
        }
    problems: list[str] = []
    for rel in files:
        result = runs[rel].result()
        if not result.ok:
            problems += failure_lines(result.output, file=rel)
    if problems:
        return failed(problems)
    return passed(f"{plural(len(files), 'test file')} passed")


def failure_lines(output: str, file: str | None = None) -> list[str]:
    """promtool's failures, one line each, prefixed with the file they are about.

    promtool prints a block per file (``Checking F`` / ``Unit Testing: F``) followed by
    ``SUCCESS`` or ``FAILED:`` and the details, some spread over several indented lines (a
    unit test's exp/got diff); keep only the failed blocks and fold each detail to a line.
    Prometheus 3's ``test rules`` prints no ``Unit Testing:`` line: output that starts
    without one is about ``file``, the one file promtool was given."""
    failures: list[str] = []
    current: str | None = file
    body: list[str] = []

    def flush() -> None:
        details = [line for line in body if line.strip() and not _is_noise(line)]
        if current is not None and any("FAILED" in line for line in body):
            failures.extend(_fold(current, details) or [f"{current}: FAILED"])

    for line in output.splitlines():
        start = _BLOCK_START.match(line)
        if start:
            flush()
            current, body = start.group("file").strip("'"), []
        else:
            body.append(line)
    flush()
    if failures:
        return failures
    # Not per-file output (a usage error, a crash): show what the tool said.
    return [line.strip() for line in output.splitlines() if line.strip()] or ["failed, no output"]


def _is_noise(line: str) -> bool:
    text = line.strip()
    return text.startswith("SUCCESS") or text.rstrip(":") == "FAILED"


def _fold(file: str, details: list[str]) -> list[str]:
    """A line indented deeper than the block's first detail continues the line above it."""
    folded: list[str] = []
    base = None
    for line in details:
        indent = len(line) - len(line.lstrip())
        text = line.strip().removeprefix("FAILED:").strip()
        # "name: <test group name>," heads the failure that follows it on the next line.
        if base is not None and folded and (indent > base or folded[-1].endswith(",")):
            folded[-1] = f"{folded[-1]} {text}"
            continue
        base = indent if base is None else base
        folded.append(text if text.startswith(file) else f"{file}: {text}")
    return [re.sub(r"\s+", " ", line).strip() for line in folded]


CHECKS = (
    Check("promtool check config", check_config, PROMTOOL),
    Check("promtool check rules", check_rules, PROMTOOL),
    Check("promtool test rules", test_rules, PROMTOOL),
)
