"""``obskit validate [DIR]``: run the real validators and obskit's cross-checks on a stack."""

from __future__ import annotations

import click

from obskit.cli._errors import reports_errors


@click.command()
@click.argument("directory", default=".", type=click.Path(file_okay=True, dir_okay=True))
@click.option(
    "--allow-missing",
    is_flag=True,
    help="Pass even if a validator (promtool, amtool, check-jsonschema) is not installed.",
)
@click.option(
    "--run",
    "run_servers",
    is_flag=True,
    help="Also run the servers on their configs: otelcol validate, Tempo or Jaeger started"
    " for a few seconds on loopback (the pinned versions from obskit's server cache, else PATH).",
)
@click.option(
    "--spec",
    "spec_path",
    metavar="PATH",
    type=click.Path(dir_okay=False),
    help="The spec the stack was generated from [default: DIRECTORY/obskit.yaml if present].",
)
@reports_errors
def validate(directory: str, allow_missing: bool, run_servers: bool, spec_path: str | None) -> None:
    """Check the stack `obskit init` generated in DIRECTORY (default: here).

    Runs promtool check config / check rules / test rules, amtool check-config, the
    compose-spec schema (check-jsonschema) and docker-compose config when installed, then
    obskit's own cross-checks. With --run, the Collector, Tempo or Jaeger judge their own
    configs too. promtool, amtool and the servers are the versions the stack pins when
    obskit's server cache has them, else those on PATH. Exits 1 if a check fails or a
    required validator is missing (unless --allow-missing), 2 if DIRECTORY holds no
    generated stack.
    """
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from obskit.errors import CheckFailed
    from obskit.validate import CHECKS, Status, validate_stack

    checks = CHECKS
    if run_servers:
        from obskit.validate import live

        checks = (*CHECKS, *live.checks_for(directory))
    report = validate_stack(directory, checks, spec=spec_path)
    styles = {
        Status.OK: "green",
        Status.FAILED: "bold red",
        Status.MISSING: "yellow",
        Status.SKIPPED: "dim",
        Status.WARNED: "yellow",
    }
    table = Table(title=f"obskit validate {directory}", title_justify="left")
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("detail", overflow="fold")
    table.add_column("checked with", overflow="fold")
    for result in report.results:
        style = styles[result.status]
        table.add_row(
            result.name,
            Text(result.status.value, style=style),
            Text(result.detail),
            Text(result.ran_with, style="dim"),
        )
    console = Console()
    console.print(table)
    summary = report.summary(allow_missing=allow_missing)
    if not report.passed(allow_missing=allow_missing):
        raise CheckFailed(summary)
    click.echo(summary)
