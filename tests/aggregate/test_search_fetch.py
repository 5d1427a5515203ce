"""Search and fetch against recorded Jaeger and Tempo answers served over loopback HTTP
(fixtures in tests/fixtures), and a backend that fails for some traces mid-run."""

from __future__ import annotations

import base64
import json

import orjson
import pytest

from obskit.aggregate.run import new_aggregator
from obskit.aggregate.sample import Endpoint
from obskit.collect import collect
from obskit.errors import BackendError
from obskit.serve.jaeger_json import envelope, trace_to_jaeger
from obskit.sources.http import HttpClient, HttpSettings
from obskit.sources.jaeger import JaegerSource
from obskit.sources.query import Query, rfc3339
from obskit.sources.tempo import TempoSource
from tests.aggregate.recorded import Reply, recorded
from tests.aggregate.shop import shops
from tests.conftest import FIXTURES

HOUR = 3600 * 10**9
START, END = 1_700_000_000 * 10**9, 1_700_000_000 * 10**9 + HOUR
FAST = HttpSettings(timeout_s=5, retries=1, backoff_s=0.0)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def run(source, service, limit=20, **kwargs):
    aggregator = new_aggregator(Endpoint(service))
    collect(aggregator, source, Query(service, None, START, END, limit), **kwargs)
    return aggregator.report()


def test_jaeger_after_v2_20_falls_back_to_v3_trace_summaries_then_fetches():
    # the recorded summaries name trace 00…01; the recorded v1 trace, given that id
    trace_v1 = fixture("jaeger-v1-api_get-trace_jaeger-query_2spans.json").replace(
        b"2db17286b3e6b148", b"0000000000000001"
    )
    routes = {
        "/api/v3/trace-summaries": Reply(
            body=fixture("jaeger-apiv3_trace-summaries_snapshot.json")
        ),
        "/api/traces/00000000000000000000000000000001": Reply(body=trace_v1),
    }
    with recorded(routes) as backend:
        source = JaegerSource(backend.url, HttpClient(FAST))
        report = run(source, "jaeger-query")
        assert backend.paths() == [
            "/api/traces",  # v1 search: gone (router 404)
            "/api/v3/trace-summaries",
            "/api/traces/00000000000000000000000000000001",
        ]
        assert backend.query("/api/traces") == {
            "service": ["jaeger-query"],
            "start": [str(START // 1000)],
            "end": [str(END // 1000)],
            "limit": ["20"],
        }
        assert backend.query("/api/v3/trace-summaries") == {
            "query.service_name": ["jaeger-query"],
            "query.start_time_min": ["2023-11-14T22:13:20.000000000Z"],
            "query.start_time_max": ["2023-11-14T23:13:20.000000000Z"],
            "query.search_depth": ["20"],
        }
    assert (report.traces, report.traces_found) == (1, 1)
    assert report.operations[0].exemplar_trace_id == "0" * 31 + "1"


def tempo_trace(trace_id: str) -> bytes:
    """The recorded Tempo bookinfo trace, as Tempo 2.6+'s v2 shape, under ``trace_id``."""
    v1 = json.loads(fixture("tempo-v1_api-traces_bookinfo_8spans.json"))
    body = json.dumps({"trace": {"resourceSpans": v1["batches"]}, "metrics": {}})
    new = base64.b64encode(bytes.fromhex(trace_id)).decode()
    return body.replace("O6VWCcPN5JZJzXfR+dzZNg==", new).encode()


def test_tempo_search_pads_a_31_digit_trace_id_and_fetches_it():
    padded = "02e299711ce47710289dc6640727404f"
    routes = {
        "/api/search": Reply(body=fixture("tempo_api-search_ambient_31char-traceid.json")),
        f"/api/v2/traces/{padded}": Reply(body=tempo_trace(padded)),
    }
    with recorded(routes) as backend:
        source = TempoSource(backend.url, HttpClient(FAST))
        report = run(source, "istio-ingressgateway.istio-system", limit=50)
        assert backend.paths() == ["/api/search", f"/api/v2/traces/{padded}"]
        assert backend.query("/api/search") == {
            "q": ['{ resource.service.name = "istio-ingressgateway.istio-system" }'],
            "start": [str(START // 10**9)],
            "end": [str(END // 10**9)],
            "limit": ["50"],
            "spss": ["1"],
        }
    assert report.traces == 1
    assert report.hops and report.hops[0].exemplar_trace_id == padded


def test_tempo_without_traceql_is_asked_again_with_tags():
    trace_id = "100cb753c787ed5657c8d88dafc176ed"
    routes = {
        "/api/search": [
            Reply(400, b"invalid TraceQL query: parse error\n", "text/plain"),
            Reply(body=fixture("tempo_api-search_bookinfo.json")),
        ],
        f"/api/v2/traces/{trace_id}": Reply(body=tempo_trace(trace_id)),
    }
    with recorded(routes) as backend:
        source = TempoSource(backend.url, HttpClient(FAST))
        report = run(source, "productpage.bookinfo")
        searches = [q for p, q in backend.requests if p == "/api/search"]
        assert "q" in searches[0] and "tags" not in searches[0]
        assert searches[1]["tags"] == ["service.name=productpage.bookinfo"]
    assert report.traces == 1  # productpage is called by the ingress: its entry span


def summaries(traces) -> bytes:
    return orjson.dumps(
        {
            "summaries": [
                {
                    "traceId": t.trace_id,
                    "rootServiceName": "checkout",
                    "rootOperationName": "x",
                    "minStartTimeUnixNano": str(t.spans[0].start_ns),
                    "maxEndTimeUnixNano": str(t.spans[0].end_ns),
                    "spanCount": len(t.spans),
                    "errorSpanCount": 0,
                    "services": [{"name": "checkout"}],
                }
                for t in traces
            ]
        }
    )


def test_a_trace_that_fails_every_time_is_reported_and_the_run_goes_on():
    traces = shops(tuple(range(100, 2100, 100)))  # 20 traces
    broken = traces[7].trace_id
    routes = {"/api/v3/trace-summaries": Reply(body=summaries(traces))}
    for t in traces:
        routes[f"/api/traces/{t.trace_id}"] = Reply(
            body=orjson.dumps(envelope([trace_to_jaeger(t)]))
        )
    routes[f"/api/traces/{broken}"] = Reply(
        500, b'{"data":null,"errors":[{"code":500,"msg":"storage timeout"}]}\n', "text/plain"
    )
    progress = []
    with recorded(routes, delay_s=0.02) as backend:
        source = JaegerSource(backend.url, HttpClient(FAST))
        report = run(
            source,
            "checkout",
            concurrency=3,
            progress=lambda done, total: progress.append((done, total)),
        )
        assert backend.peak <= 3  # bounded concurrency
        assert backend.paths().count(f"/api/traces/{broken}") == 2  # asked, retried once
    assert (report.traces, report.traces_found) == (19, 20)
    failed = next(w for w in report.warnings if w.code == "fetch-failed")
    assert failed.trace_ids == (broken,)
    assert failed.message.startswith(
        f"1 of 20 traces could not be fetched and are not counted; the first: Jaeger answered "
        f"500 Internal Server Error after 1 retry ({backend.url}/api/traces/{broken}): "
        "storage timeout"
    )
    assert progress[0] == (0, 20) and progress[-1] == (20, 20)


def test_when_every_fetch_fails_the_run_fails_with_the_first_reason():
    traces = shops((100, 200))
    routes = {"/api/v3/trace-summaries": Reply(body=summaries(traces))}
    with recorded(routes) as backend:
        source = JaegerSource(backend.url, HttpClient(FAST))
        with pytest.raises(BackendError) as err:
            run(source, "checkout")
    assert str(err.value).startswith(
        "none of the 2 traces found could be fetched; the first failed with: no Jaeger query "
        f"API at {backend.url}"
    )


def test_jaeger_v1_search_returns_whole_traces_and_needs_no_second_request():
    traces = shops()
    routes = {
        "/api/traces": Reply(body=orjson.dumps(envelope([trace_to_jaeger(t) for t in traces])))
    }
    with recorded(routes) as backend:
        report = run(JaegerSource(backend.url, HttpClient(FAST)), "checkout")
        assert backend.paths() == ["/api/traces"]
    assert report.traces == 5
    assert report.hops[0].critical_ns.total == 2100 * 10**6


def test_v3_search_without_a_match_is_an_empty_report_not_an_error():
    routes = {
        "/api/v3/trace-summaries": Reply(
            404, b'{"error":{"httpCode":404,"message":"No traces found"}}\n', "text/plain"
        )
    }
    with recorded(routes) as backend:
        report = run(JaegerSource(backend.url, HttpClient(FAST)), "checkout")
    assert report.traces == 0
    assert [w.code for w in report.warnings] == ["no-traces"]


def test_rfc3339_keeps_nanoseconds():
    assert rfc3339(1_700_000_000_123_456_789) == "2023-11-14T22:13:20.123456789Z"
