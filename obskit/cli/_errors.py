"""The one place that turns obskit's errors into a message and an exit code."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

import click

from obskit.errors import ObskitError
from obskit.text import printable

P = ParamSpec("P")
R = TypeVar("R")


class ObskitClickError(click.ClickException):
    """A ClickException that keeps obskit's exit code. The message is made printable: it may
    quote a backend's answer, a file or a span, and must not drive the terminal."""

    def __init__(self, error: ObskitError) -> None:
        super().__init__(printable(str(error)))
        self.exit_code = error.exit_code


@contextmanager
def reported() -> Iterator[None]:
    """Run a command body; an ObskitError becomes ``Error: <one line>`` and its exit code."""
    try:
        yield
    except ObskitError as err:
        raise ObskitClickError(err) from None
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)


def reports_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Decorator form of :func:`reported` for click commands."""
    import functools

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with reported():
            return func(*args, **kwargs)

    return wrapper
