"""``obskit analyze``: the critical path, dependency graph and slow hops of one trace."""

from __future__ import annotations

import click

from obskit.cli._aggregate import aggregate_mode
from obskit.cli._errors import reports_errors
from obskit.cli._options import (
    SourceOptions,
    choose_format,
    echo_warnings,
    emit,
    external_names,
    load_spec,
    load_trace,
    output_options,
    source_options,
    terminal,
)
from obskit.errors import CheckFailed
from obskit.render import AGGREGATE_FORMATS, REPORT_FORMATS


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@source_options
@output_options(REPORT_FORMATS | AGGREGATE_FORMATS)
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1),
    default=0.2,
    show_default=True,
    help="Flag a hop holding at least this share of the request on the critical path.",
)
@click.option(
    "--jaeger-compat",
    is_flag=True,
    help="Compute the critical path exactly as Jaeger UI does (to cross-check).",
)
@click.option("--fail-on-flag", is_flag=True, help="Exit 1 when a hop is flagged (a CI gate).")
@aggregate_mode("analyze")
@reports_errors
def analyze(
    source: SourceOptions,
    fmt: str | None,
    output: str | None,
    threshold: float,
    jaeger_compat: bool,
    fail_on_flag: bool,
) -> None:
    """Why was this request slow? Fetch a trace, compute its critical path and name the slow
    hops.

    \b
    Sources: --jaeger URL, --tempo URL or --file PATH (- for stdin); without one,
    OBSKIT_JAEGER_URL / OBSKIT_TEMPO_URL, then the backend in ./obskit.yaml.
    Exit codes: 0 ok, 1 a hop flagged with --fail-on-flag, 2 usage or bad input,
    3 backend error (not found, unreachable, timed out, cut off).

    \b
    Example:
        obskit analyze --trace-id 4bf92f3577b34da6a3ce929d0e0e4736 --tempo http://127.0.0.1:3200
        obskit analyze --file trace.json -o report.html
        obskit analyze --service checkout --since 1h --jaeger http://127.0.0.1:16686
    """
    from obskit.analysis import analyze_trace
    from obskit.render import render_report

    fmt = choose_format(fmt, output, REPORT_FORMATS)
    spec = load_spec(source)
    trace = load_trace(source, spec)
    report = analyze_trace(
        trace,
        threshold=threshold,
        jaeger_compat=jaeger_compat,
        external_names=external_names(spec),
    )
    to_terminal = fmt == "text" and (not output or output == "-")
    color, width = terminal() if to_terminal else (False, 100)
    emit(render_report(report, fmt, color=color, width=width), output, f"the {fmt} report")
    if not to_terminal:
        echo_warnings(report.warnings)
    flagged = report.flagged_hops
    if fail_on_flag and flagged:
        from obskit.render.labels import printable
        from obskit.units import percent

        worst = flagged[0]
        more = f" and {len(flagged) - 1} more" if len(flagged) > 1 else ""
        raise CheckFailed(
            f"slow hop: {printable(worst.caller)} → {printable(worst.callee)} holds "
            f"{percent(worst.share)} of the request on the critical path "
            f"(threshold {percent(threshold)}){more}"
        )
