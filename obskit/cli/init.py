"""``obskit init``: generate the observability stack from ``obskit.yaml``.

Thin: the spec is read by :mod:`obskit.stack.spec`, files come from
:func:`obskit.stack.writer.render`, and the writer decides what is written, kept or removed.
"""

from __future__ import annotations

from pathlib import Path

import click

from obskit.cli._errors import reports_errors
from obskit.errors import CheckFailed, InputError, UserEditedError


def _files(count: int) -> str:
    return f"{count} file" if count == 1 else f"{count} files"


@click.command("init")
@click.option(
    "--spec",
    "spec_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("obskit.yaml"),
    show_default=True,
    help="The spec. If it does not exist, a commented starter spec is written there first.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to generate the stack (default: the spec's directory).",
)
@click.option(
    "--service",
    "services",
    multiple=True,
    metavar="NAME=PORT",
    help="A service for the starter spec (repeatable); only when the spec does not exist yet.",
)
@click.option("--force", is_flag=True, help="Overwrite generated files edited by hand.")
@click.option("--diff", "show_diff", is_flag=True, help="Show what would change; write nothing.")
@click.option(
    "--check", "check_only", is_flag=True, help="Exit 1 if generated files are out of date."
)
@reports_errors
def init(
    spec_path: Path,
    out_dir: Path | None,
    services: tuple[str, ...],
    force: bool,
    show_diff: bool,
    check_only: bool,
) -> None:
    """Generate the observability stack from obskit.yaml.

    Writes the Collector, Prometheus (rules and their tests), Alertmanager and Grafana
    configs and a docker-compose.yml. Files you edited by hand are left alone unless --force.
    """
    from obskit.stack import alertmanager, starter, writer
    from obskit.stack.spec import load_spec

    if show_diff and check_only:
        raise InputError("--diff and --check cannot be combined", hint="pick one")
    out = out_dir if out_dir is not None else spec_path.parent
    if not spec_path.exists() and not (show_diff or check_only):
        parsed = [starter.parse_service_arg(s) for s in services]
        starter.write_starter(spec_path, parsed or None)
        click.echo(f"wrote starter spec {spec_path}: edit it and re-run `obskit init`")
    elif services:
        raise InputError(
            f"--service only applies when writing a new spec, and {spec_path} exists",
            hint=f"add the service to {spec_path} instead",
        )

    spec = load_spec(spec_path)
    rendered = writer.render(spec, spec_name=spec_path.name)

    if show_diff:
        text, changes = writer.diff(out, rendered)
        click.echo(text, nl=False)
        kept = [c.path for c in changes if c.status is writer.Status.KEPT]
        changed = [c for c in changes if c.status is not writer.Status.UNCHANGED]
        summary = f"{_files(len(changed))} would change in {out}"
        if kept:
            summary += f"; {_files(len(kept))} edited by hand would be left alone without --force"
        click.echo(summary + ".", err=True)
        return

    if check_only:
        problems = writer.check(out, rendered)
        for path, problem in problems:
            click.echo(f"  {problem:<21} {path}")
        if problems:
            verb = "differs" if len(problems) == 1 else "differ"
            raise CheckFailed(
                f"{_files(len(problems))} in {out} {verb} from what {spec_path} generates",
                hint="run `obskit init` to update them; --diff shows the changes",
            )
        click.echo(f"{out}: all {_files(len(rendered))} are up to date with {spec_path}.")
        return

    report = writer.write(out, rendered, force=force)
    written = report.paths(writer.Status.CREATED, writer.Status.UPDATED, writer.Status.OVERWRITTEN)
    rewritten_here = alertmanager.rewritten_addresses(spec) if alertmanager.PATH in written else []
    for field, given, rewritten in rewritten_here:
        report.notes.append(
            (
                alertmanager.PATH,
                "note",
                f"{field} {given} is this host's loopback; Alertmanager, in a container, uses"
                f" {rewritten}: the receiver must listen on the Docker bridge or 0.0.0.0",
            )
        )
    _print_report(report)
    for path, note in writer.missing_secret_files(out, spec):
        click.echo(f"  {'warning':<9} {path}: {note}")
    kept = report.paths(writer.Status.KEPT)
    if kept:
        raise UserEditedError(
            f"{_files(len(kept))} edited by hand left alone: {', '.join(kept)}",
            hint="`obskit init --diff` shows what obskit would write; --force overwrites",
        )


_NOTES = {
    "kept": "edited by hand: left alone",
    "overwrote": "your edits were replaced (--force)",
    "removed": "no longer generated",
    "orphaned": "no longer generated, edited by hand: left alone",
}


def _print_report(report: object) -> None:
    from obskit.stack.writer import Report, Status

    assert isinstance(report, Report)
    for change in report.changes:
        if change.status is Status.UNCHANGED:
            continue
        note = _NOTES.get(change.status.value)
        line = f"  {change.status.value:<9} {change.path}"
        click.echo(f"{line}  ({note})" if note else line)
    for path, status, detail in report.notes:
        click.echo(f"  {status:<9} {path}  ({detail})")
    counts = [f"{report.count(status)} {status.value}" for status in Status if report.count(status)]
    total = len([c for c in report.changes if c.status is not Status.REMOVED])
    click.echo(f"{report.out_dir}: {_files(total)} ({', '.join(counts)}).")
