"""What one check found, and what a whole ``obskit validate`` run adds up to."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Status(StrEnum):
    OK = "ok"
    FAILED = "failed"
    MISSING = "missing"  # a required validator is not installed: the check did not run
    SKIPPED = "skipped"  # an optional validator is not installed; never fails a run
    WARNED = "warning"  # passed, but something could not be checked (facts unknown)


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    detail: str = ""
    install_hint: str = ""  # how to get the validator, for MISSING and SKIPPED
    tool: str = ""  # the missing validator's name, for MISSING and SKIPPED
    ran_with: str = ""  # the validator and its version, for a check that ran one


@dataclass
class Report:
    """Every check's result, in the order the checks are listed."""

    results: list[CheckResult] = field(default_factory=list)

    def with_status(self, status: Status) -> list[CheckResult]:
        return [r for r in self.results if r.status is status]

    @property
    def failed(self) -> list[CheckResult]:
        return self.with_status(Status.FAILED)

    @property
    def missing(self) -> list[CheckResult]:
        return self.with_status(Status.MISSING)

    @property
    def skipped(self) -> list[CheckResult]:
        return self.with_status(Status.SKIPPED)

    @property
    def warned(self) -> list[CheckResult]:
        return self.with_status(Status.WARNED)

    def passed(self, *, allow_missing: bool = False) -> bool:
        return not self.failed and (allow_missing or not self.missing)

    def summary(self, *, allow_missing: bool = False) -> str:
        """One line: what passed, what failed, what could not run and how to fix that."""
        total = len(self.results)
        ran = len(self.results) - len(self.missing) - len(self.skipped)
        not_run = f"{len(self.missing)} not run ({_tools(self.missing)})"
        skipped = f"{len(self.skipped)} skipped ({_tools(self.skipped)})"
        if self.failed:
            line = f"{len(self.failed)} of {total} checks failed: {_names(self.failed)}."
            return f"{line} {not_run[0].upper()}{not_run[1:]}." if self.missing else line
        if self.missing and not allow_missing:
            tools = {r.tool for r in self.missing}
            return (
                f"{len(self.missing)} of {total} checks could not run ({_tools(self.missing)})."
                f" Install {'it' if len(tools) == 1 else 'them'}, or pass --allow-missing."
            )
        parts = [f"All {ran} checks {'that ran ' if self.missing else ''}passed"]
        if self.warned:
            parts.append(f"{len(self.warned)} with a warning ({_names(self.warned)})")
        if self.missing:
            parts.append(not_run)
        if self.skipped:
            parts.append(skipped)
        return "; ".join(parts) + "."


def _names(results: list[CheckResult]) -> str:
    return ", ".join(r.name for r in results)


def _tools(results: list[CheckResult]) -> str:
    """``promtool not installed: apt-get install prometheus``, once per tool; a check skipped
    for another reason gives its own detail."""
    seen: dict[str, str] = {}
    for r in results:
        if r.tool:
            seen.setdefault(r.tool, f"{r.tool} not installed: {r.install_hint}")
        else:
            seen.setdefault(r.name, f"{r.name}: {r.detail}")
    return "; ".join(seen.values())
