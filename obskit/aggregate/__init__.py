"""Aggregate analysis: where an endpoint's latency goes over many traces, and what to fix
first (critical-path.md §7, CRISP).

    from obskit.aggregate import Endpoint, aggregate_traces, parse_what_if
    report = aggregate_traces(traces, Endpoint("checkout"),
                              what_ifs=[parse_what_if("payments-gateway=-300ms")])
    report.hops[0]                       # the hop holding most critical-path time
    report.to_dict()                     # the JSON schema (see obskit.aggregate.report)

Traces in, reports out: nothing here fetches, opens a file or renders. An engine feeds traces
into :class:`~obskit.aggregate.aggregate.Aggregator` partial results and merges them in trace
order (``Aggregator.merge``): :func:`~obskit.aggregate.run.consume` in this process,
:func:`~obskit.aggregate.pool.aggregate_batches` in worker processes over picklable batches
that read their own traces (:class:`~obskit.aggregate.pool.Batch`). Where traces come from is
:mod:`obskit.sources`; :mod:`obskit.collect` joins the two.
"""

from obskit.aggregate.report import AggregateReport
from obskit.aggregate.run import aggregate_traces
from obskit.aggregate.sample import Endpoint
from obskit.aggregate.whatif import WhatIf, parse_what_if

__all__ = ["AggregateReport", "Endpoint", "WhatIf", "aggregate_traces", "parse_what_if"]
