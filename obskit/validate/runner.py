"""Run every check on a stack. The external validators run in parallel (each is a separate
process); obskit's own cross-checks run meanwhile in this thread."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from obskit.stack.spec import Spec
from obskit.validate import (
    amtool,
    collector,
    compose,
    containers,
    datasources,
    metrics,
    ports,
    promtool,
)
from obskit.validate.check import Check
from obskit.validate.result import CheckResult, Report
from obskit.validate.stackdir import StackDir

# The order of the table: the real tools first, then obskit's cross-checks.
CHECKS: tuple[Check, ...] = (
    *promtool.CHECKS,
    *amtool.CHECKS,
    *compose.CHECKS,
    *collector.CHECKS,
    *metrics.CHECKS,
    *ports.CHECKS,
    *datasources.CHECKS,
    *containers.CHECKS,
)


def validate_stack(
    directory: str | Path,
    checks: tuple[Check, ...] = CHECKS,
    *,
    spec: str | Path | Spec | None = None,
) -> Report:
    """Check the stack in ``directory`` (generated from ``spec``, by default the
    ``obskit.yaml`` in it). Raises :class:`NotAStack` when it holds none."""
    stack = StackDir(directory, spec)
    external = [c for c in checks if c.tool is not None]
    own = [c for c in checks if c.tool is None]
    results: dict[str, CheckResult] = {}
    with ThreadPoolExecutor(max_workers=max(1, len(external))) as pool:
        futures = {c.name: pool.submit(c.run, stack) for c in external}
        for check in own:
            results[check.name] = check.run(stack)
        for name, future in futures.items():
            results[name] = future.result()
    return Report([results[c.name] for c in checks])
