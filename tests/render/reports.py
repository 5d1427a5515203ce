"""Reports for renderer tests: real fixtures and hand-built traces through the real readers
and analysis."""

from __future__ import annotations

from functools import cache

from obskit.analysis import analyze_trace
from obskit.analysis.reports import TraceReport
from obskit.ingest import read_trace
from tests.conftest import FIXTURES
from tests.render import traces

GATEWAY = {"127.0.0.1:8006": "payments-gateway"}


@cache
def fixture_report(name: str) -> TraceReport:
    return analyze_trace(read_trace((FIXTURES / name).read_bytes()))


@cache
def checkout_report() -> TraceReport:
    return analyze_trace(traces.checkout(), external_names=GATEWAY)


@cache
def hostile_report() -> TraceReport:
    return analyze_trace(traces.hostile())


HOTROD = "jaeger-apiv3_get-trace_hotrod_40spans.json"
BOOKINFO = "tempo-v1_api-traces_bookinfo_8spans.json"
JAEGER_QUERY = "jaeger-v1-api_get-trace_jaeger-query_2spans.json"
PETCLINIC = "jaeger-v1-trace-object_petclinic_17spans.json"
SKEW = "zipkin-v2_clock-skew_4spans.json"
SMARTTHINGS = "zipkin-v2_smartthings-mobile-install_1041spans.json"
