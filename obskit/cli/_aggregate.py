"""Aggregate mode of ``obskit analyze`` and ``obskit graph``: ``--service S`` and friends.

:func:`aggregate_mode` adds the options to a command and routes to :func:`run` when
``--service`` is given; without it the command runs as before (one trace, ``--trace-id``).
The work is in :mod:`obskit.aggregate`; this module parses options, shows progress and
writes the output.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import click

from obskit.cli._errors import reported
from obskit.errors import CheckFailed, InputError
from obskit.render import (
    AGGREGATE_FORMATS,
    AGGREGATE_GRAPH_FORMATS,
    GRAPH_FORMATS,
    REPORT_FORMATS,
    render,
)

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_SINCE = "1h"
DEFAULT_LIMIT = 100


@dataclass(frozen=True)
class AggregateOptions:
    service: str | None
    operation: str | None
    since: str | None
    start: str | None
    end: str | None
    limit: int | None
    what_if: tuple[str, ...]
    compare: str | None
    slow_factor: float
    concurrency: int
    workers: int | None = None  # None: one per CPU
    scheduler: str | None = None  # a Dask scheduler's address: the aggregate runs there

    def given_without_service(self) -> list[str]:
        named = [
            ("--operation", self.operation),
            ("--since", self.since),
            ("--limit", self.limit),
            ("--start", self.start),
            ("--end", self.end),
            ("--what-if", self.what_if),
            ("--compare", self.compare),
            ("--workers", self.workers),
        ]
        return [name for name, value in named if value]


def aggregate_mode(command: str) -> Callable[[F], F]:
    """Add the aggregate options to ``command`` (``analyze`` or ``graph``) and route
    ``--service`` to :func:`run`."""

    options = [
        click.option(
            "--service",
            metavar="NAME",
            help="Aggregate mode: analyse many traces of this service's endpoint.",
        ),
        click.option(
            "--operation",
            metavar="NAME",
            help="With --service: only this operation (e.g. 'POST /checkout').",
        ),
        click.option(
            "--since",
            metavar="AGE",
            help=f"With --service: traces of the last AGE (30m, 1h, 2d) "
            f"[default: {DEFAULT_SINCE} for backends, all for files].",
        ),
        click.option(
            "--start",
            metavar="TIME",
            help="With --service: window start (RFC 3339, Unix seconds or an age).",
        ),
        click.option("--end", metavar="TIME", help="With --service: window end [default: now]."),
        click.option(
            "--limit",
            type=click.IntRange(1, None),
            metavar="N",
            help=f"With --service: at most N traces [default: {DEFAULT_LIMIT} for backends, "
            "all for files].",
        ),
        click.option(
            "--what-if",
            "what_if",
            multiple=True,
            metavar="NAME=-300ms|-50%",
            help="With --service: projected latency if NAME (a callee, service or "
            "operation) were faster; repeatable.",
        ),
        click.option(
            "--compare",
            metavar="START..END",
            help="With --service: compare with another window (the baseline), e.g. 2h..1h.",
        ),
        click.option(
            "--slow-factor",
            type=click.FloatRange(1, None, min_open=True),
            default=2.0,
            show_default=True,
            help="With --service: flag a hop whose p95 CP time exceeds its p50 "
            "(or, with --compare, whose p50 and mean exceed the baseline's) by this factor.",
        ),
        click.option(
            "--concurrency",
            type=click.IntRange(1, 64),
            default=8,
            show_default=True,
            help="With --service: parallel trace fetches.",
        ),
        click.option(
            "--workers",
            type=click.IntRange(1, 256),
            metavar="N",
            help="With --service and --file: processes reading and analysing the traces; "
            "1 reads them in this process. The report is the same for any N "
            "[default: one per CPU].",
        ),
        click.option(
            "--scheduler",
            metavar="tcp://HOST:8786",
            envvar="OBSKIT_DASK_SCHEDULER",
            help="With --service and --file: analyse on this Dask cluster (needs "
            "obskit[dask]); the workers read the files (paths they see, or s3:// and gs:// "
            "URLs through fsspec) [env: OBSKIT_DASK_SCHEDULER].",
        ),
    ]

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapped(**kwargs: Any) -> Any:
            agg = AggregateOptions(
                service=kwargs.pop("service"),
                operation=kwargs.pop("operation"),
                since=kwargs.pop("since"),
                start=kwargs.pop("start"),
                end=kwargs.pop("end"),
                limit=kwargs.pop("limit"),
                what_if=tuple(kwargs.pop("what_if")),
                compare=kwargs.pop("compare"),
                slow_factor=kwargs.pop("slow_factor"),
                concurrency=kwargs.pop("concurrency"),
                workers=kwargs.pop("workers"),
                scheduler=kwargs.pop("scheduler"),
            )
            if agg.service is None:
                with reported():
                    _check_single_trace(agg, kwargs, command)
                return func(**kwargs)
            with reported():
                return run(command, agg, **kwargs)

        for option in reversed(options):
            wrapped = option(wrapped)
        return wrapped  # type: ignore[return-value]  # click options keep F's call shape

    return decorate


def _check_single_trace(agg: AggregateOptions, kwargs: dict[str, Any], command: str) -> None:
    given = agg.given_without_service()
    if given:
        raise InputError(f"{given[0]} needs --service (aggregate mode over many traces)")
    formats = REPORT_FORMATS if command == "analyze" else GRAPH_FORMATS
    fmt = kwargs.get("fmt")
    if fmt and fmt not in formats:
        raise InputError(f"--format {fmt} needs --service (aggregate mode over many traces)")


def run(
    command: str,
    agg: AggregateOptions,
    *,
    source: Any,
    fmt: str | None,
    output: str | None,
    threshold: float = 0.2,
    jaeger_compat: bool = False,
    fail_on_flag: bool = False,
) -> None:
    from obskit.aggregate.compare import compare
    from obskit.aggregate.sample import Endpoint
    from obskit.aggregate.whatif import parse_what_if
    from obskit.cli._options import choose_format, emit, external_names, load_spec, terminal
    from obskit.units import parse_window

    if source.trace_id:
        raise InputError("--trace-id and --service given: choose one trace, or many")
    if jaeger_compat:
        raise InputError("--jaeger-compat is for one trace (--trace-id), not --service")
    formats = AGGREGATE_FORMATS if command == "analyze" else AGGREGATE_GRAPH_FORMATS
    fmt = choose_format(fmt, output, formats)
    if fmt not in formats:
        raise InputError(
            f"--format {fmt} is not available with --service; choose {', '.join(formats)}"
        )
    what_ifs = [parse_what_if(spec) for spec in agg.what_if]
    now_ns = time.time_ns()
    window, explicit = _window(agg, now_ns)
    baseline_window = parse_window(agg.compare, now_ns=now_ns) if agg.compare else None
    spec = load_spec(source)
    names = external_names(spec)
    endpoint = Endpoint(agg.service, agg.operation)
    settings = dict(threshold=threshold, slow_factor=agg.slow_factor)

    baseline = None
    if baseline_window is not None:
        baseline = _collect(
            agg,
            source,
            spec,
            names,
            endpoint,
            baseline_window,
            True,
            [],
            settings,
            "baseline window",
        )
    aggregator = _collect(
        agg, source, spec, names, endpoint, window, explicit, what_ifs, settings, "window"
    )
    report = aggregator.report(baseline=baseline.baseline() if baseline else None)
    if baseline is not None and agg.compare:
        report = replace(report, comparison=compare(agg.compare, report, baseline.report()))

    to_terminal = fmt == "text" and (not output or output == "-")
    color, width = terminal() if to_terminal else (False, 100)
    kind = "aggregate" if command == "analyze" else "aggregate-graph"
    text = render(kind, report, fmt, color=color, width=width)
    emit(text, output, f"the {fmt} {'report' if command == 'analyze' else 'graph'}")
    if not to_terminal or command == "graph":
        for warning in report.warnings[:5]:
            click.echo(f"Warning: [{warning.code}] {warning.message}", err=True)
    if not to_terminal:
        click.echo(f"Based on {report.traces} trace(s) of {report.traces_found} found.", err=True)
    if fail_on_flag and report.flagged_hops:
        worst = report.flagged_hops[0]
        raise CheckFailed(f"slow hop: {worst.caller} → {worst.callee}: {worst.reason}")


def _window(agg: AggregateOptions, now_ns: int) -> tuple[tuple[int, int], bool]:
    """(start_ns, end_ns) of the main window, and whether the user set it."""
    from obskit.units import parse_age, parse_time

    if agg.since and (agg.start or agg.end):
        raise InputError("--since and --start/--end given: choose one way to set the window")
    end = parse_time(agg.end, "--end", now_ns=now_ns) if agg.end else now_ns
    if agg.start:
        start = parse_time(agg.start, "--start", now_ns=now_ns)
    else:
        start = end - parse_age(agg.since or DEFAULT_SINCE)
    if end <= start:
        raise InputError("--end must come after --start")
    return (start, end), bool(agg.since or agg.start or agg.end)


def _collect(
    agg: AggregateOptions,
    source_options: Any,
    spec: Any,
    names: dict[str, str],
    endpoint: Any,
    window: tuple[int, int],
    explicit: bool,
    what_ifs: list[Any],
    settings: dict[str, Any],
    label: str,
) -> Any:
    from obskit.aggregate.pool import default_workers
    from obskit.aggregate.run import new_aggregator
    from obskit.cli._options import max_size_bytes
    from obskit.collect import collect, collect_on_dask
    from obskit.sources import resolve_source
    from obskit.sources.http import settings_from_env
    from obskit.sources.query import Query

    source = resolve_source(
        jaeger=source_options.jaeger,
        tempo=source_options.tempo,
        file=source_options.file,
        spec=spec,
        settings=lambda: settings_from_env(
            timeout_s=source_options.timeout,
            ca_bundle=source_options.ca_bundle,
            max_bytes=max_size_bytes(source_options.max_size),
        ),
    )
    aggregator = new_aggregator(endpoint, what_ifs=what_ifs, **settings)
    is_file = getattr(source, "backend", "") == "file"
    limit = agg.limit if agg.limit is not None else (None if is_file else DEFAULT_LIMIT)
    query = Query(agg.service or "", agg.operation, window[0], window[1], limit)
    if agg.scheduler:
        with _progress(f"partitions, {label}", "analysing") as (progress, _):
            try:
                collect_on_dask(
                    aggregator,
                    source,
                    query,
                    scheduler=agg.scheduler,
                    external_names=names,
                    file_window=window if explicit else None,
                    progress=progress,
                )
            finally:
                source.close()
        return aggregator
    with _progress(label) as (progress, found):
        try:
            collect(
                aggregator,
                source,
                query,
                external_names=names,
                file_window=window if explicit else None,
                concurrency=agg.concurrency,
                progress=progress,
                on_found=found,
                workers=agg.workers or default_workers(),
            )
        finally:
            source.close()
    return aggregator


class _progress:
    """A progress bar on stderr while fetching (only on a terminal)."""

    def __init__(self, label: str, doing: str = "fetching traces") -> None:
        self.label = label
        self.doing = doing
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> tuple[Callable[[int, int | None], None], Callable[[int, str], None]]:
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import Progress

            self.bar = Progress(console=Console(stderr=True), transient=True)
            self.bar.start()
            self.task = self.bar.add_task(f"{self.doing} ({self.label})", total=None)
        return self.update, self.found

    def found(self, count: int, api: str) -> None:
        if self.bar is None:
            return
        self.bar.console.print(f"{api}: {count} traces found")

    def update(self, done: int, total: int | None) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
