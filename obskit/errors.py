"""obskit's exceptions. Every expected failure is one of these; the CLI turns them into one line.

Each error carries the process exit code the CLI uses for it:

* 1: a check failed (``validate``, ``init --check``, ``analyze --fail-on-flag``)
* 2: usage or bad input (a bad spec, an unreadable trace file, a user-edited file)
* 3: a backend could not give us what we asked for (not found, refused, timed out)
"""

from __future__ import annotations


class ObskitError(Exception):
    """Root of obskit's errors. ``str(err)`` is the one line shown to the user."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class InputError(ObskitError):
    """Input obskit cannot use: a malformed trace, an unknown format, a missing file."""


class SpecError(InputError):
    """``obskit.yaml`` is invalid. The message names the field and what is wrong."""

    def __init__(self, field: str, problem: str, *, path: str | None = None) -> None:
        where = f"{path}: " if path else ""
        super().__init__(f"{where}{field}: {problem}")
        self.field = field
        self.problem = problem


class UserEditedError(InputError):
    """A generated file was changed by hand; obskit leaves it alone."""


class CheckFailed(ObskitError):
    """A check ran and found a problem (drift, a failed validator, a flagged hop)."""

    exit_code = 1


class BackendError(ObskitError):
    """A trace backend failed: not found, connection refused, timeout, bad answer."""

    exit_code = 3


class TraceNotFound(BackendError):
    """The backend answered, and it does not have the trace."""


class MissingDependencyError(InputError):
    """An optional dependency or external tool is missing; the hint says how to install it."""
