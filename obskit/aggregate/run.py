"""An iterable of traces in, an aggregate out: the in-process engine.

:func:`aggregate_traces` is the library entry point for traces already in hand;
:func:`consume` feeds any iterable into an :class:`Aggregator` -- a partial result that
:meth:`Aggregator.merge` combines with others, so engines that spread traces over processes
(:mod:`obskit.aggregate.pool`) or machines merge what this makes. Where the traces come
from (a backend search, files, stdin) is :mod:`obskit.collect`'s business. Traces are
consumed one at a time and dropped after sampling, so memory holds the aggregate's numbers
and at most the traces in flight.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from obskit.aggregate.aggregate import (
    DEFAULT_SLOW_FACTOR,
    DEFAULT_THRESHOLD,
    Aggregator,
    HopBaseline,
)
from obskit.aggregate.report import AggregateReport
from obskit.aggregate.sample import Endpoint, HopKey, take
from obskit.aggregate.whatif import WhatIf
from obskit.gcpause import gc_paused
from obskit.model import Trace


def new_aggregator(
    endpoint: Endpoint,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    slow_factor: float = DEFAULT_SLOW_FACTOR,
    what_ifs: Sequence[WhatIf] = (),
) -> Aggregator:
    return Aggregator(endpoint, threshold=threshold, slow_factor=slow_factor, what_ifs=what_ifs)


def consume(
    aggregator: Aggregator,
    traces: Iterable[Trace],
    *,
    external_names: Mapping[str, str] | None = None,
    limit: int | None = None,
    window: tuple[int, int] | None = None,
) -> None:
    """Sample every trace into ``aggregator``: traces without the endpoint are counted and
    skipped; ``window`` (start_ns, end_ns) keeps traces whose endpoint span starts in it;
    ``limit`` stops after that many analysed traces."""
    endpoint, what_ifs = aggregator.endpoint, aggregator.what_ifs
    missing: list[str] = []
    outside = 0
    with gc_paused():  # no cycles are made; the collector would only rescan the aggregate
        for trace in traces:
            aggregator.found += 1
            outcome = take(trace, endpoint, external_names, what_ifs, window)
            if outcome is None:
                outside += 1
            elif isinstance(outcome, str):
                missing.append(outcome)
            else:
                aggregator.add(outcome)
                if limit is not None and aggregator.traces >= limit:
                    break
    report_skipped(aggregator, missing, outside)


def report_skipped(aggregator: Aggregator, missing: Sequence[str], outside: int) -> None:
    """Traces that were read and not counted (the report warns about them)."""
    aggregator.skipped(missing, outside)


def aggregate_traces(
    traces: Iterable[Trace],
    endpoint: Endpoint | None = None,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    slow_factor: float = DEFAULT_SLOW_FACTOR,
    what_ifs: Sequence[WhatIf] = (),
    external_names: Mapping[str, str] | None = None,
    baseline: Mapping[HopKey, HopBaseline] | None = None,
) -> AggregateReport:
    """The aggregate report of ``traces`` (any iterable: it is consumed once)."""
    aggregator = new_aggregator(
        endpoint or Endpoint(), threshold=threshold, slow_factor=slow_factor, what_ifs=what_ifs
    )
    consume(aggregator, traces, external_names=external_names)
    return aggregator.report(baseline=baseline)
