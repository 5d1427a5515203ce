"""``obskit graph``: the service dependency graph of one trace, as text, DOT or Mermaid."""

from __future__ import annotations

import click

from obskit.cli._aggregate import aggregate_mode
from obskit.cli._errors import reports_errors
from obskit.cli._options import (
    SourceOptions,
    choose_format,
    external_names,
    load_spec,
    load_trace,
    output_options,
    source_options,
)
from obskit.render import GRAPH_FORMATS


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@source_options
@output_options(GRAPH_FORMATS)
@aggregate_mode("graph")
@reports_errors
def graph(source: SourceOptions, fmt: str | None, output: str | None) -> None:
    """Print which services (and external systems) call which in a trace, with call counts,
    errors, time and critical-path time per edge.

    \b
    Same sources and exit codes as `obskit analyze`.

    \b
    Example:
        obskit graph --file trace.json --format dot | dot -Tsvg > deps.svg
        obskit graph --trace-id 4bf92f35... --jaeger http://127.0.0.1:16686 --format mermaid
    """
    from obskit.analysis import analyze_trace
    from obskit.cli._options import emit
    from obskit.render import render_graph

    fmt = choose_format(fmt, output, GRAPH_FORMATS)
    spec = load_spec(source)
    trace = load_trace(source, spec)
    report = analyze_trace(trace, external_names=external_names(spec))
    emit(render_graph(report, fmt), output, f"the {fmt} graph")
