"""One check: a name, the validator it needs (if any), and a function that looks at the stack
and returns whether it passed with a one-or-few-line detail."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from obskit.validate.result import CheckResult, Status
from obskit.validate.stackdir import FileProblem, StackDir
from obskit.validate.tools import Tool

MAX_DETAIL_LINES = 15


@dataclass(frozen=True)
class Outcome:
    ok: bool
    detail: str
    status: Status | None = None  # WARNED or SKIPPED; else from ``ok``


def plural(count: int, noun: str, nouns: str = "") -> str:
    """``1 rule``, ``2 rules``."""
    return f"{count} {noun}" if count == 1 else f"{count} {nouns or noun + 's'}"


def passed(detail: str) -> Outcome:
    return Outcome(True, detail)


def _lines(problems: list[str] | str) -> str:
    lines = [problems] if isinstance(problems, str) else problems
    if len(lines) > MAX_DETAIL_LINES:
        more = len(lines) - MAX_DETAIL_LINES
        lines = [*lines[:MAX_DETAIL_LINES], f"… and {more} more"]
    return "\n".join(lines)


def failed(problems: list[str] | str) -> Outcome:
    return Outcome(False, _lines(problems))


def warned(problems: list[str] | str) -> Outcome:
    """Nothing wrong that obskit can see, but something it could not check."""
    return Outcome(True, _lines(problems), Status.WARNED)


def skipped(detail: str) -> Outcome:
    """The check needs something the run was not given (a spec)."""
    return Outcome(True, detail, Status.SKIPPED)


# A tool check gets the argv prefix that runs its tool; an own check gets an empty list.
CheckFunc = Callable[[StackDir, list[str]], Outcome]


@dataclass(frozen=True)
class Check:
    name: str
    func: CheckFunc
    tool: Tool | None = None

    def run(self, stack: StackDir) -> CheckResult:
        argv: list[str] = []
        if self.tool is not None:
            found = self.tool.command()
            if found is None:
                status = Status.MISSING if self.tool.required else Status.SKIPPED
                detail = f"{self.tool.name} is not installed: {self.tool.install_hint}"
                if not self.tool.required:
                    detail += " (optional)"
                return CheckResult(
                    self.name, status, detail, self.tool.install_hint, self.tool.name
                )
            argv = found
        try:
            outcome = self.func(stack, argv)
        except FileProblem as problem:
            outcome = Outcome(False, str(problem))
        except (AttributeError, KeyError, TypeError, ValueError) as err:
            # A hand-edited file of an unexpected shape (a list where a mapping belongs):
            # report it on the check's row rather than crash the whole run.
            outcome = Outcome(False, f"cannot check: unexpected file structure ({err!r})")
        ran_with = self.tool.ran_with(argv) if self.tool is not None else ""
        status = outcome.status or (Status.OK if outcome.ok else Status.FAILED)
        return CheckResult(self.name, status, outcome.detail, ran_with=ran_with)
