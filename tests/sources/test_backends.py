"""Jaeger and Tempo sources against recorded responses served over real HTTP on loopback:
the route fallbacks, and "not found" told apart from "no such route"."""

from __future__ import annotations

import pytest

from obskit.errors import BackendError, TraceNotFound
from obskit.sources.http import HttpClient, HttpSettings
from obskit.sources.jaeger import JaegerSource
from obskit.sources.tempo import TempoSource
from tests.conftest import FIXTURES
from tests.sources.backend import (
    BOOKINFO_ID,
    HOTROD_ID,
    JAEGER_NOT_FOUND,
    JAEGER_V1_ID,
    Answer,
    jaeger_v1_routes,
    jaeger_v3_routes,
    serve,
    tempo_v1_routes,
    tempo_v2_body,
)


def jaeger(url: str) -> JaegerSource:
    return JaegerSource(url, HttpClient(HttpSettings(timeout_s=5, backoff_s=0)))


def tempo(url: str) -> TempoSource:
    return TempoSource(url, HttpClient(HttpSettings(timeout_s=5, backoff_s=0)))


def test_jaeger_v1_returns_the_recorded_bytes() -> None:
    with serve(jaeger_v1_routes()) as backend:
        payload = jaeger(backend.url).fetch(JAEGER_V1_ID)
    expected = (FIXTURES / "jaeger-v1-api_get-trace_jaeger-query_2spans.json").read_bytes()
    assert payload.data == expected
    assert payload.backend == "Jaeger"
    assert payload.origin == f"{backend.url}/api/traces/{JAEGER_V1_ID}"
    assert backend.paths() == [f"/api/traces/{JAEGER_V1_ID}"]


def test_jaeger_falls_back_to_api_v3_when_v1_route_is_absent() -> None:
    with serve(jaeger_v3_routes()) as backend:
        payload = jaeger(backend.url).fetch(HOTROD_ID)
    assert payload.origin == f"{backend.url}/api/v3/traces/{HOTROD_ID}"
    assert backend.paths() == [f"/api/traces/{HOTROD_ID}", f"/api/v3/traces/{HOTROD_ID}"]


def test_jaeger_v1_not_found_envelope_does_not_fall_back() -> None:
    # Jaeger's "trace not found" is a 404 too, but with its JSON envelope (as text/plain):
    # that is an answer, not a missing route.
    with serve(jaeger_v1_routes()) as backend, pytest.raises(TraceNotFound) as err:
        jaeger(backend.url).fetch("0123456789abcdef")
    assert str(err.value) == (
        f"trace 0123456789abcdef not found in Jaeger ({backend.url}/api/traces/0123456789abcdef)"
        " (check the id, and that the trace is within the backend's retention)"
    )
    assert backend.paths() == ["/api/traces/0123456789abcdef"]


def test_jaeger_v3_not_found() -> None:
    with serve(jaeger_v3_routes()) as backend, pytest.raises(TraceNotFound) as err:
        jaeger(backend.url).fetch("0123456789abcdef")
    assert str(err.value).startswith(
        f"trace 0123456789abcdef not found in Jaeger ({backend.url}/api/v3/traces/0123456789abcdef)"
    )


def test_jaeger_v1_empty_data_is_not_found() -> None:
    routes = {"/api/traces/abc": Answer(200, b'{"data":[],"total":0,"errors":null}')}
    with serve(routes) as backend, pytest.raises(TraceNotFound):
        jaeger(backend.url).fetch("abc")


def test_no_jaeger_at_all_says_so() -> None:
    with serve({}) as backend, pytest.raises(BackendError) as err:
        jaeger(backend.url).fetch("abc")
    assert not isinstance(err.value, TraceNotFound)
    assert err.value.message == (
        f"no Jaeger query API at {backend.url}: GET /api/traces/{{id}} answered 404 and "
        "/api/v3/traces/{id} answered 404"
    )
    assert err.value.exit_code == 3


def test_jaeger_400_reports_jaegers_own_message() -> None:
    body = b'{"data":null,"errors":[{"code":400,"msg":"strconv.ParseUint: parsing \\"zz\\""}]}\n'
    routes = {"/api/traces/abc": Answer(400, body, "text/plain; charset=utf-8")}
    with serve(routes) as backend, pytest.raises(BackendError) as err:
        jaeger(backend.url).fetch("abc")
    assert err.value.message == (
        f'Jaeger answered 400 Bad Request ({backend.url}/api/traces/abc): strconv.ParseUint: parsing "zz"'
    )


def test_tempo_v2_is_tried_first() -> None:
    routes = {f"/api/v2/traces/{BOOKINFO_ID}": Answer(200, tempo_v2_body())}
    with serve(routes) as backend:
        payload = tempo(backend.url).fetch(BOOKINFO_ID)
    assert payload.data == tempo_v2_body()
    assert backend.paths() == [f"/api/v2/traces/{BOOKINFO_ID}"]


def test_tempo_falls_back_to_v1() -> None:
    with serve(tempo_v1_routes()) as backend:
        payload = tempo(backend.url).fetch(BOOKINFO_ID)
    assert payload.origin == f"{backend.url}/api/traces/{BOOKINFO_ID}"
    assert backend.paths() == [f"/api/v2/traces/{BOOKINFO_ID}", f"/api/traces/{BOOKINFO_ID}"]


def test_tempo_v1_empty_404_is_not_found() -> None:
    with serve(tempo_v1_routes()) as backend, pytest.raises(TraceNotFound) as err:
        tempo(backend.url).fetch("0123456789abcdef")
    assert err.value.message == (
        f"trace 0123456789abcdef not found in Tempo ({backend.url}/api/traces/0123456789abcdef)"
    )


def test_tempo_v2_empty_trace_is_not_found() -> None:
    # Tempo's v2 handler answers a missing trace with 200 and an empty trace (tempo#5105)
    routes = {"/api/v2/traces/abc": Answer(200, b'{"trace":{},"metrics":{}}')}
    with serve(routes) as backend, pytest.raises(TraceNotFound) as err:
        tempo(backend.url).fetch("abc")
    assert err.value.message == f"trace abc not found in Tempo ({backend.url}/api/v2/traces/abc)"


def test_tempo_trace_too_large() -> None:
    routes = {"/api/traces/abc": Answer(422, b"trace exceeds max size\n", "text/plain")}
    with serve(routes) as backend, pytest.raises(BackendError) as err:
        tempo(backend.url).fetch("abc")
    assert err.value.message == (
        "Tempo refuses trace abc: it is larger than the backend's max_bytes_per_trace "
        f"({backend.url}/api/traces/abc)"
    )


def test_base_path_is_kept() -> None:
    routes = {f"/jaeger/api/traces/{JAEGER_V1_ID}": Answer(200, b'{"data":[{"spans":[]}]}')}
    with serve(routes) as backend:
        payload = jaeger(backend.url + "/jaeger").fetch(JAEGER_V1_ID)
    assert payload.origin == f"{backend.url}/jaeger/api/traces/{JAEGER_V1_ID}"


def test_not_found_body_is_never_mistaken_for_a_route_miss() -> None:
    # The same envelope sent with a JSON content type: still "not found".
    routes = {"/api/traces/abc": Answer(404, JAEGER_NOT_FOUND)}
    with serve(routes) as backend, pytest.raises(TraceNotFound):
        jaeger(backend.url).fetch("abc")
