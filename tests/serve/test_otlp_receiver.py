"""OTLP/HTTP conformance: the real OpenTelemetry SDK exporter, and bad bodies of every kind."""

from __future__ import annotations

import gzip
import json
import time
import zlib

import pytest
import requests
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from tests.conftest import FIXTURES
from tests.serve.conftest import ServeProcess

PROTO = {"Content-Type": "application/x-protobuf"}


def emit_trace(endpoint: str, compression: Compression) -> str:
    """Export one real two-span trace with the SDK; return its trace id."""
    exporter = OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces", compression=compression)
    provider = TracerProvider(resource=Resource.create({"service.name": "checkout"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("conformance")
    with (
        tracer.start_as_current_span("POST /checkout", kind=SpanKind.SERVER) as root,
        tracer.start_as_current_span("GET", kind=SpanKind.CLIENT) as child,
    ):
        child.set_attribute("server.address", "api.gateway.example")
        child.set_status(Status(StatusCode.ERROR, "gateway said no"))
    provider.shutdown()
    return format(root.get_span_context().trace_id, "032x")


def get_trace(served: ServeProcess, trace_id: str) -> dict:
    response = requests.get(f"{served.query}/api/traces/{trace_id}", timeout=5)
    assert response.status_code == 200, response.text
    return response.json()["data"][0]


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip])
def test_sdk_exporter_spans_are_stored_and_queryable(
    served: ServeProcess, compression: Compression
) -> None:
    trace_id = emit_trace(served.otlp, compression)
    trace = get_trace(served, trace_id)
    by_name = {span["operationName"]: span for span in trace["spans"]}
    assert set(by_name) == {"POST /checkout", "GET"}
    client = by_name["GET"]
    assert client["references"] == [
        {"refType": "CHILD_OF", "traceID": trace_id, "spanID": by_name["POST /checkout"]["spanID"]}
    ]
    tags = {tag["key"]: tag["value"] for tag in client["tags"]}
    assert tags["server.address"] == "api.gateway.example"
    assert tags["span.kind"] == "client"
    assert tags["error"] is True
    assert trace["processes"][client["processID"]]["serviceName"] == "checkout"


def test_otlp_json_spec_example_is_accepted(served: ServeProcess) -> None:
    body = (FIXTURES / "otlp-json_spec-example_1span.json").read_bytes()
    response = requests.post(
        f"{served.otlp}/v1/traces",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {}
    trace_id = json.loads(body)["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"].lower()
    assert get_trace(served, trace_id)["spans"][0]["operationName"] == "I'm a server span"


def test_otlp_json_gzip_is_accepted(served: ServeProcess) -> None:
    body = (FIXTURES / "otlp-json_spec-example_1span.json").read_bytes()
    response = requests.post(
        f"{served.otlp}/v1/traces",
        data=gzip.compress(body),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        timeout=5,
    )
    assert response.status_code == 200


def assert_still_up(served: ServeProcess) -> None:
    assert requests.get(f"{served.query}/health", timeout=5).status_code == 200
    assert served.proc.poll() is None


def rpc_status_message(response: requests.Response) -> str:
    from google.rpc import status_pb2

    if response.headers["Content-Type"] == "application/x-protobuf":
        status = status_pb2.Status()
        status.ParseFromString(response.content)
        return status.message
    return response.json()["message"]


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        (b"\xff\xff\xff not protobuf", PROTO, 400, "cannot decode the OTLP payload"),
        (b"{not json", {"Content-Type": "application/json"}, 400, "cannot decode the OTLP payload"),
        (b"{}", {"Content-Type": "text/plain"}, 415, "unsupported Content-Type 'text/plain'"),
        (b"x", {**PROTO, "Content-Encoding": "br"}, 415, "unsupported Content-Encoding 'br'"),
        (b"not gzip at all", {**PROTO, "Content-Encoding": "gzip"}, 400, "body is not valid gzip"),
        (
            gzip.compress(b"\x00" * 1000)[:-12],
            {**PROTO, "Content-Encoding": "gzip"},
            400,
            "gzip body is truncated",
        ),
    ],
    ids=["bad-protobuf", "bad-json", "wrong-type", "unknown-encoding", "bad-gzip", "short-gzip"],
)
def test_malformed_bodies_get_the_right_status_and_the_server_stays_up(
    served: ServeProcess, body: bytes, headers: dict, status: int, message: str
) -> None:
    response = requests.post(f"{served.otlp}/v1/traces", data=body, headers=headers, timeout=5)
    assert response.status_code == status
    assert rpc_status_message(response).startswith(message)
    assert_still_up(served)


def test_oversized_body_is_refused_with_413(served: ServeProcess) -> None:
    body = b"\x00" * (9 << 20)  # over the default 8 MiB
    response = requests.post(f"{served.otlp}/v1/traces", data=body, headers=PROTO, timeout=30)
    assert response.status_code == 413
    assert "over the 8388608-byte limit" in rpc_status_message(response)
    assert_still_up(served)


def test_gzip_bomb_is_refused_with_413_without_inflating_it(served: ServeProcess) -> None:
    # 1 GiB of zeros compresses to about 1 MiB; the server must stop at its decoded limit.
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b"\x00" * (1 << 20)
    bomb = b"".join(compressor.compress(chunk) for _ in range(1024)) + compressor.flush()
    started = time.monotonic()
    response = requests.post(
        f"{served.otlp}/v1/traces",
        data=bomb,
        headers={**PROTO, "Content-Encoding": "gzip"},
        timeout=30,
    )
    assert response.status_code == 413
    assert "decompressed body is over the" in rpc_status_message(response)
    assert time.monotonic() - started < 10
    assert_still_up(served)


def test_empty_export_is_a_success(served: ServeProcess) -> None:
    response = requests.post(f"{served.otlp}/v1/traces", data=b"", headers=PROTO, timeout=5)
    assert response.status_code == 200
    reply = ExportTraceServiceResponse()
    reply.ParseFromString(response.content)
    assert reply.partial_success.rejected_spans == 0


def test_wrong_path_and_method(served: ServeProcess) -> None:
    assert (
        requests.post(f"{served.otlp}/v1/metrics", data=b"", headers=PROTO, timeout=5).status_code
        == 404
    )
    assert requests.get(f"{served.otlp}/v1/traces", timeout=5).status_code == 405


def test_big_json_with_a_malformed_attribute_is_refused_and_not_stored(
    served: ServeProcess,
) -> None:
    # From 64 KiB, OTLP/JSON is read with attributes kept as text (obskit.ingest.
    # deferred_attributes); building the stored form reads them, and the problem must still
    # be a 400 for the whole export, with nothing stored.
    trace_id = "7" * 32
    spans = [
        {
            "traceId": trace_id,
            "spanId": f"{i + 1:016x}",
            "name": "GET /x",
            "kind": 2,
            "startTimeUnixNano": str(time.time_ns()),
            "endTimeUnixNano": str(time.time_ns() + 1000),
            "attributes": [{"key": "pad", "value": {"stringValue": "x" * 300}}],
        }
        for i in range(300)
    ]
    spans[-1]["attributes"] = [{"key": "http.response.status_code", "value": {"intValue": "ok"}}]
    body = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}).encode()
    assert len(body) > 64 << 10
    response = requests.post(
        f"{served.otlp}/v1/traces",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 400
    assert rpc_status_message(response) == (
        f"cannot decode the OTLP payload: span {300:016x}: attributes[0].value.intValue: "
        "expected an integer, got 'ok'"
    )
    assert requests.get(f"{served.query}/api/traces/{trace_id}", timeout=5).status_code == 404
    assert_still_up(served)
