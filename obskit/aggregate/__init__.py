"""Aggregate analysis: where an endpoint's latency goes over many traces, and what to fix
first (critical-path.md §7, CRISP).

    from obskit.aggregate import Endpoint, aggregate_traces, parse_what_if
    report = aggregate_traces(traces, Endpoint("checkout"),
                              what_ifs=[parse_what_if("payments-gateway=-300ms")])
    report.hops[0]                       # the hop holding most critical-path time
    report.to_dict()                     # the JSON schema (see obskit.aggregate.report)
"""

from obskit.aggregate.report import AggregateReport
from obskit.aggregate.run import aggregate_traces
from obskit.aggregate.sample import Endpoint
from obskit.aggregate.whatif import WhatIf, parse_what_if

__all__ = ["AggregateReport", "Endpoint", "WhatIf", "aggregate_traces", "parse_what_if"]
