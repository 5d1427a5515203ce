"""What one check found, and what a whole ``obskit validate`` run adds up to."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Status(str, Enum):
    OK = "ok"
    FAILED = "failed"
    MISSING = "missing"  # a required validator is not installed: the check did not run
    SKIPPED = "skipped"  # an optional validator is not installed; never fails a run


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    detail: str = ""
    install_hint: str = ""  # how to get the validator, for MISSING and SKIPPED
    tool: str = ""  # the missing validator's name, for MISSING and SKIPPED


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

    def passed(self, *, allow_missing: bool = False) -> bool:
        return not self.failed and (allow_missing or not self.missing)

    def summary(self, *, allow_missing: bool = False) -> str:
        """One line: what passed, what failed, what could not run and how to fix that."""
        total = len(self.results)
        ran = [r for r in self.results if r.status in (Status.OK, Status.FAILED)]
        if self.failed:
            line = f"{len(self.failed)} of {total} checks failed: {_names(self.failed)}."
            if self.missing:
                line += f" Not run: {_names(self.missing)} ({_tools(self.missing)})."
            return line
        if self.missing and not allow_missing:
            return (
                f"{len(self.missing)} of {total} checks could not run: {_tools(self.missing)};"
                " install it, or pass --allow-missing to accept."
            )
        if self.missing:
            line = f"All {len(ran)} checks that ran passed; not run: {_names(self.missing)}"
            line += f" ({_tools(self.missing)})"
        else:
            line = f"All {len(ran)} checks passed"
        if self.skipped:
            line += f"; skipped: {_names(self.skipped)} ({_tools(self.skipped)})"
        return line + "."


def _names(results: list[CheckResult]) -> str:
    return ", ".join(r.name for r in results)


def _tools(results: list[CheckResult]) -> str:
    """``promtool is not installed: apt-get install prometheus``, once per tool."""
    seen: dict[str, str] = {}
    for r in results:
        seen.setdefault(r.tool, r.install_hint)
    return "; ".join(f"{tool} is not installed: {hint}" for tool, hint in seen.items())
