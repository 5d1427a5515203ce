"""Options and glue shared by the trace commands (``analyze``, ``graph``, and later modes).

Options come in bundles (``source_options``, ``output_options``) so a command states what it
takes in two lines and a new mode (issue 6's ``--service/--since``) adds a bundle instead of
editing every command. The glue turns parsed options into library calls: pick the source,
fetch bytes, read the trace, render, write.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from obskit.errors import InputError

if TYPE_CHECKING:
    from obskit.model import Trace, TraceWarning
    from obskit.render import Format
    from obskit.stack.spec import Spec

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_SPEC = "obskit.yaml"


@dataclass(frozen=True)
class SourceOptions:
    trace_id: str | None
    jaeger: str | None
    tempo: str | None
    file: str | None
    spec: str | None
    timeout: float | None
    ca_bundle: str | None


def _stack(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    def apply(func: F) -> F:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


def source_options(func: F) -> F:
    """``--trace-id`` and where to get it from; the command receives ``source: SourceOptions``."""

    options = _stack(
        click.option("--trace-id", metavar="ID", help="The trace to analyse (hex)."),
        click.option(
            "--jaeger", metavar="URL", help="Jaeger query URL, e.g. http://127.0.0.1:16686."
        ),
        click.option("--tempo", metavar="URL", help="Tempo URL, e.g. http://127.0.0.1:3200."),
        click.option(
            "--file",
            "file_",
            metavar="PATH",
            help="A trace file (Jaeger, OTLP JSON/JSONL/protobuf, Tempo, Zipkin); - for stdin.",
        ),
        click.option(
            "--spec",
            metavar="PATH",
            help="obskit.yaml for the default backend and external names "
            "[default: ./obskit.yaml if present].",
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(min=0, min_open=True),
            metavar="SECONDS",
            help="Wait this long for the backend [env OBSKIT_TIMEOUT; default 30].",
        ),
        click.option(
            "--ca-bundle",
            metavar="PEM",
            help="Trust these CA certificates for https backends [env OBSKIT_CA_BUNDLE].",
        ),
    )

    def wrapped(**kwargs: Any) -> Any:
        kwargs["source"] = SourceOptions(
            trace_id=kwargs.pop("trace_id"),
            jaeger=kwargs.pop("jaeger"),
            tempo=kwargs.pop("tempo"),
            file=kwargs.pop("file_"),
            spec=kwargs.pop("spec"),
            timeout=kwargs.pop("timeout"),
            ca_bundle=kwargs.pop("ca_bundle"),
        )
        return func(**kwargs)

    return options(functools.wraps(func)(wrapped))  # type: ignore[return-value]  # F's shape, less `source`


def output_options(formats: dict[str, Format], default: str = "text") -> Callable[[F], F]:
    """``--format`` (choices from a renderer registry) and ``-o/--output``."""
    return _stack(
        click.option(
            "--format",
            "fmt",
            type=click.Choice(list(formats)),
            help=f"Output format [default: from -o's extension, else {default}].",
        ),
        click.option(
            "-o",
            "--output",
            metavar="FILE",
            help="Write to FILE instead of stdout (- for stdout).",
        ),
    )


# --- glue -------------------------------------------------------------------------------------


def load_spec(source: SourceOptions) -> Spec | None:
    """``--spec``, else ``./obskit.yaml`` when there is one, else None."""
    from obskit.stack.spec import load_spec as load

    if source.spec:
        return load(source.spec)
    if Path(DEFAULT_SPEC).is_file():
        return load(DEFAULT_SPEC)
    return None


def external_names(spec: Spec | None) -> dict[str, str]:
    """The spec's ``external`` list as {host or host:port: name} for the hop classifier."""
    return {ext.address: ext.name for ext in spec.external} if spec else {}


def load_trace(source: SourceOptions, spec: Spec | None) -> Trace:
    """Fetch the trace from the chosen source and read it into a Trace."""
    from obskit.sources import normalize_trace_id, resolve_source
    from obskit.sources.fetch import fetch_trace
    from obskit.sources.http import settings_from_env

    trace_id = normalize_trace_id(source.trace_id) if source.trace_id else None
    chosen = resolve_source(
        jaeger=source.jaeger,
        tempo=source.tempo,
        file=source.file,
        spec=spec,
        settings=lambda: settings_from_env(timeout_s=source.timeout, ca_bundle=source.ca_bundle),
    )
    try:
        return fetch_trace(chosen, trace_id)
    finally:
        chosen.close()


def choose_format(fmt: str | None, output: str | None, formats: dict[str, Format]) -> str:
    from obskit.render import format_for_path

    if fmt:
        return fmt
    if output and output != "-":
        return format_for_path(output, formats)
    return "text"


def terminal() -> tuple[bool, int]:
    """(color, width) for stdout: color only on a terminal and without NO_COLOR."""
    import shutil

    tty = sys.stdout.isatty()
    color = tty and not os.environ.get("NO_COLOR")
    width = min(max(shutil.get_terminal_size((100, 24)).columns, 60), 160) if tty else 100
    return color, width


def emit(text: str, output: str | None, what: str) -> None:
    """Print ``text`` or write it to ``output`` (and say where on stderr)."""
    if not output or output == "-":
        click.echo(text, nl=False)
        return
    path = Path(output)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        raise InputError(f"-o {output}: cannot write it: {err.strerror or err}") from None
    click.echo(f"Wrote {what} to {output}", err=True)


def echo_warnings(warnings: tuple[TraceWarning, ...], limit: int = 5) -> None:
    """Warnings on stderr, for outputs that are not the terminal report (which lists them)."""
    from obskit.render.labels import printable

    for warning in warnings[:limit]:
        click.echo(f"Warning: [{warning.code}] {printable(warning.message)}", err=True)
    if len(warnings) > limit:
        click.echo(f"Warning: … and {len(warnings) - limit} more (see the report)", err=True)
