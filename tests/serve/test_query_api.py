"""The Jaeger-compatible query API: same JSON and error shapes as Jaeger's."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.serve.conftest import ServeProcess, start_serve
from tests.serve.payloads import export_request

PROTO = {"Content-Type": "application/x-protobuf"}
NOW_NS = time.time_ns()


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServeProcess, dict]]:
    serve = start_serve(tmp_path_factory.mktemp("query-data"))
    ids = {}
    try:
        for name, service, spans, start, span_ms in [
            ("fast", "checkout", 3, NOW_NS - 60 * 10**9, 1),
            ("slow", "checkout", 3, NOW_NS - 30 * 10**9, 400),
            ("other", "storefront", 2, NOW_NS - 10 * 10**9, 5),
        ]:
            body, trace_id = export_request(
                spans=spans, service=service, start_ns=start, span_duration_ns=span_ms * 10**6
            )
            response = requests.post(f"{serve.otlp}/v1/traces", data=body, headers=PROTO, timeout=5)
            assert response.status_code == 200
            ids[name] = trace_id
        yield serve, ids
    finally:
        serve.stop()


def test_get_trace_v1_envelope(loaded: tuple[ServeProcess, dict]) -> None:
    serve, ids = loaded
    body = requests.get(f"{serve.query}/api/traces/{ids['slow']}", timeout=5).json()
    assert set(body) == {"data", "total", "limit", "offset", "errors"}
    assert body["errors"] is None
    (trace,) = body["data"]
    assert trace["traceID"] == ids["slow"]
    assert len(trace["spans"]) == 3
    root = next(s for s in trace["spans"] if not s["references"])
    assert root["duration"] == 1_200_000  # µs, as Jaeger sends it


def test_unknown_trace_is_404_with_jaegers_error_shape(loaded: tuple[ServeProcess, dict]) -> None:
    serve, _ = loaded
    response = requests.get(f"{serve.query}/api/traces/{'ab' * 16}", timeout=5)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert json.loads(response.text) == {
        "data": None,
        "total": 0,
        "limit": 0,
        "offset": 0,
        "errors": [{"code": 404, "msg": "trace not found"}],
    }


def test_bad_trace_id_is_400(loaded: tuple[ServeProcess, dict]) -> None:
    serve, _ = loaded
    response = requests.get(f"{serve.query}/api/traces/not-hex", timeout=5)
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == 400


def test_short_trace_id_is_zero_padded(loaded: tuple[ServeProcess, dict]) -> None:
    serve, _ = loaded
    body, trace_id = export_request(trace_id=bytes(8) + os.urandom(8), spans=1)
    requests.post(f"{serve.otlp}/v1/traces", data=body, headers=PROTO, timeout=5)
    short = trace_id.lstrip("0")
    assert requests.get(f"{serve.query}/api/traces/{short}", timeout=5).status_code == 200


def test_services_and_operations(loaded: tuple[ServeProcess, dict]) -> None:
    serve, _ = loaded
    services = requests.get(f"{serve.query}/api/services", timeout=5).json()
    assert {"checkout", "storefront"} <= set(services["data"])
    operations = requests.get(f"{serve.query}/api/services/checkout/operations", timeout=5).json()
    assert {"POST /checkout", "call-1", "call-2"} <= set(operations["data"])
    typed = requests.get(
        f"{serve.query}/api/operations",
        params={"service": "checkout", "spanKind": "server"},
        timeout=5,
    ).json()
    assert {"name": "POST /checkout", "spanKind": "server"} in typed["data"]
    assert all(op["spanKind"] == "server" for op in typed["data"])


def test_search_filters_by_service_operation_duration_and_time(
    loaded: tuple[ServeProcess, dict],
) -> None:
    serve, ids = loaded

    def search(**params: object) -> set[str]:
        response = requests.get(f"{serve.query}/api/traces", params=params, timeout=5)
        assert response.status_code == 200, response.text
        return {trace["traceID"] for trace in response.json()["data"]}

    start_us = (NOW_NS - 3600 * 10**9) // 1000
    assert {ids["fast"], ids["slow"]} <= search(service="checkout", start=start_us)
    assert ids["other"] not in search(service="checkout", start=start_us)
    assert search(
        service="checkout", operation="POST /checkout", minDuration="1s", start=start_us
    ) == {ids["slow"]}
    assert ids["slow"] not in search(
        service="checkout", maxDuration="100ms", operation="POST /checkout", start=start_us
    )
    assert search(
        service="checkout", start=(NOW_NS - 45 * 10**9) // 1000, end=(NOW_NS - 20 * 10**9) // 1000
    ) == {ids["slow"]}
    assert ids["slow"] in search(
        service="checkout", tags='{"http.route":"/checkout"}', start=start_us
    )
    assert search(service="checkout", tags='{"http.route":"/nope"}', start=start_us) == set()
    assert len(search(service="checkout", limit=1, start=start_us)) == 1


def test_search_without_service_is_400(loaded: tuple[ServeProcess, dict]) -> None:
    serve, _ = loaded
    response = requests.get(f"{serve.query}/api/traces", timeout=5)
    assert response.status_code == 400
    assert response.json()["errors"] == [{"code": 400, "msg": "parameter 'service' is required"}]


def test_bad_duration_is_400(loaded: tuple[ServeProcess, dict]) -> None:
    serve, _ = loaded
    response = requests.get(
        f"{serve.query}/api/traces",
        params={"service": "checkout", "minDuration": "fast"},
        timeout=5,
    )
    assert response.status_code == 400
    assert "minDuration" in response.json()["errors"][0]["msg"]


def test_dependencies(loaded: tuple[ServeProcess, dict], tmp_path: Path) -> None:
    serve, _ = loaded
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    parent_body, trace_id = export_request(spans=2, service="storefront")
    child_body, _ = export_request(trace_id=bytes.fromhex(trace_id), spans=1, service="checkout")
    parent, child = ExportTraceServiceRequest(), ExportTraceServiceRequest()
    parent.ParseFromString(parent_body)
    child.ParseFromString(child_body)
    client_span = parent.resource_spans[0].scope_spans[0].spans[1]
    child.resource_spans[0].scope_spans[0].spans[0].parent_span_id = client_span.span_id
    for request in (parent, child):
        requests.post(
            f"{serve.otlp}/v1/traces", data=request.SerializeToString(), headers=PROTO, timeout=5
        )
    data = requests.get(
        f"{serve.query}/api/dependencies",
        params={"endTs": time.time_ns() // 10**6 + 1000, "lookback": 3600_000},
        timeout=5,
    ).json()["data"]
    assert {"parent": "storefront", "child": "checkout", "callCount": 1} in data


def test_api_v3_get_trace_is_otlp_json(loaded: tuple[ServeProcess, dict]) -> None:
    serve, ids = loaded
    body = requests.get(f"{serve.query}/api/v3/traces/{ids['fast']}", timeout=5).json()
    spans = [
        span
        for rs in body["result"]["resourceSpans"]
        for ss in rs["scopeSpans"]
        for span in ss["spans"]
    ]
    assert len(spans) == 3
    assert all(span["traceId"] == ids["fast"] for span in spans)


def test_api_v3_not_found_shape(loaded: tuple[ServeProcess, dict]) -> None:
    serve, _ = loaded
    response = requests.get(f"{serve.query}/api/v3/traces/{'cd' * 16}", timeout=5)
    assert response.status_code == 404
    assert json.loads(response.text) == {"error": {"httpCode": 404, "message": "trace not found"}}


def test_api_v3_search(loaded: tuple[ServeProcess, dict]) -> None:
    serve, ids = loaded
    from datetime import UTC, datetime

    def rfc3339(ns: int) -> str:
        return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    params = {
        "query.service_name": "storefront",
        "query.start_time_min": rfc3339(NOW_NS - 3600 * 10**9),
        "query.start_time_max": rfc3339(NOW_NS + 10**9),
    }
    body = requests.get(f"{serve.query}/api/v3/traces", params=params, timeout=5).json()
    trace_ids = {
        span["traceId"]
        for rs in body["result"]["resourceSpans"]
        for ss in rs["scopeSpans"]
        for span in ss["spans"]
    }
    assert ids["other"] in trace_ids
    missing = requests.get(
        f"{serve.query}/api/v3/traces", params={**params, "query.service_name": "nobody"}, timeout=5
    )
    assert missing.status_code == 404
    assert missing.json() == {"error": {"httpCode": 404, "message": "No traces found"}}
    unbounded = requests.get(
        f"{serve.query}/api/v3/traces", params={"query.service_name": "x"}, timeout=5
    )
    assert unbounded.status_code == 400


def test_metrics_count_received_and_stored_spans(loaded: tuple[ServeProcess, dict]) -> None:
    serve, _ = loaded
    text = requests.get(f"{serve.query}/metrics", timeout=5).text
    samples = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    assert samples["obskit_serve_spans_received_total"] >= 8
    assert (
        samples["obskit_serve_spans_stored_total"] == samples["obskit_serve_spans_received_total"]
    )
    assert samples["obskit_serve_store_bytes"] > 0
