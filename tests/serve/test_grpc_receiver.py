"""OTLP/gRPC into `obskit serve`: the SDK's gRPC exporter delivers (plain and gzip), refusals
and overload get the statuses the OTLP spec gives, and an overloaded export is retried by the
SDK and then stored."""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import requests
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import TraceServiceStub
from opentelemetry.sdk.trace.export import SpanExportResult

from obskit.serve import Backend, ServeConfig
from obskit.serve.receiver import Limits
from tests.serve.conftest import ServeProcess, running_backend, serve_once
from tests.serve.payloads import export_request
from tests.serve.sdk_spans import record_spans


def stored_spans(query: str, trace_id: str) -> list[dict]:
    response = requests.get(f"{query}/api/traces/{trace_id}", timeout=5)
    if response.status_code != 200:
        return []
    return response.json()["data"][0]["spans"]


def export(address: str, body: bytes, **kwargs) -> ExportTraceServiceResponse:
    with grpc.insecure_channel(address) as channel:
        return TraceServiceStub(channel).Export(
            ExportTraceServiceRequest.FromString(body), timeout=10, **kwargs
        )


def raw_export(address: str, body: bytes) -> bytes:
    """Export bytes as they are (also bytes that are not a valid request)."""
    with grpc.insecure_channel(address) as channel:
        call = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
        return call(body, timeout=10)


@pytest.mark.parametrize("compression", [grpc.Compression.NoCompression, grpc.Compression.Gzip])
def test_sdk_grpc_exporter_spans_are_stored_and_queryable(
    served: ServeProcess, compression: grpc.Compression
) -> None:
    spans, trace_id = record_spans(3)
    exporter = OTLPSpanExporter(endpoint=served.grpc, insecure=True, compression=compression)
    try:
        assert exporter.export(spans) is SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()
    stored = stored_spans(served.query, trace_id)
    by_name = {span["operationName"]: span for span in stored}
    assert set(by_name) == {"POST /checkout", "call-0", "call-1"}
    tags = {tag["key"]: tag["value"] for tag in by_name["call-0"]["tags"]}
    assert tags["error"] is True
    assert tags["span.kind"] == "client"
    assert tags["server.address"] == "api.gateway.example"


def test_export_answer_is_an_empty_export_response(served: ServeProcess) -> None:
    body, trace_id = export_request(spans=4)
    response = export(served.grpc, body)
    assert response == ExportTraceServiceResponse()
    assert len(stored_spans(served.query, trace_id)) == 4


def test_undecodable_payload_is_invalid_argument_and_the_server_stays_up(
    served: ServeProcess,
) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        raw_export(served.grpc, b"\x0a\xff\xff\xff\xff\x0f garbage")
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "cannot decode the OTLP payload" in refused.value.details()
    body, trace_id = export_request(spans=2)
    export(served.grpc, body)
    assert len(stored_spans(served.query, trace_id)) == 2


def test_a_message_over_the_size_limit_is_refused(served: ServeProcess) -> None:
    huge = b"\x0a" + b"\xff\xff\xff\x04" + bytes(9 << 20)  # a 9 MiB field; the limit is 8 MiB
    with pytest.raises(grpc.RpcError) as refused:
        raw_export(served.grpc, huge)
    assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED


def test_port_in_use_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = serve_once(tmp_path, grpc_port=port)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"Error: cannot listen on 127.0.0.1:{port} for OTLP/gRPC: Address already in use; "
        "pick another port (--grpc-port) or stop what uses it"
    )


# --- limits and overload (in-process backend) --------------------------------------------


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Backend]:
    config = ServeConfig(
        otlp_port=0,
        query_port=0,
        grpc_port=0,
        data_dir=tmp_path,
        max_pending_spans=10,
        limits=Limits(max_spans_per_request=50),
        decode_workers=0,
    )
    with running_backend(config) as backend:
        yield backend


def test_more_spans_than_the_limit_is_invalid_argument(backend: Backend) -> None:
    body, trace_id = export_request(spans=51)
    with pytest.raises(grpc.RpcError) as refused:
        export(f"127.0.0.1:{backend.grpc_port}", body)
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "51 spans in one request; the limit is 50" in refused.value.details()
    query = f"http://127.0.0.1:{backend.query_port}"
    assert stored_spans(query, trace_id) == []


def test_overload_is_unavailable_with_retry_info_and_the_sdk_retries_until_stored(
    backend: Backend, tmp_path: Path
) -> None:
    address = f"127.0.0.1:{backend.grpc_port}"
    query = f"http://127.0.0.1:{backend.query_port}"
    # Another process holds the database: the writer cannot commit, so spans pile up.
    blocker = sqlite3.connect(tmp_path / "spans.db", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    first_body, first_trace = export_request(spans=8)
    first = threading.Thread(target=export, args=(address, first_body))
    first.start()
    sdk_spans, sdk_trace = record_spans(5)
    sdk_result: list[SpanExportResult] = []
    exporter = OTLPSpanExporter(endpoint=address, insecure=True, timeout=30)
    try:
        deadline = time.monotonic() + 10
        while backend.store.pending_spans < 8 and time.monotonic() < deadline:
            time.sleep(0.01)
        with pytest.raises(grpc.RpcError) as refused:
            export(address, export_request(spans=8)[0])
        error = refused.value
        assert error.code() is grpc.StatusCode.UNAVAILABLE
        trailers = dict(error.trailing_metadata())
        retry = error_details_pb2.RetryInfo.FromString(trailers["google.rpc.retryinfo-bin"])
        assert 1 <= retry.retry_delay.seconds <= 3
        status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
        assert status.code == grpc.StatusCode.UNAVAILABLE.value[0]
        assert status.details[0].Unpack(unpacked := error_details_pb2.RetryInfo())
        assert unpacked == retry

        # The SDK's exporter is refused the same way, waits as told and tries again.
        sdk = threading.Thread(target=lambda: sdk_result.append(exporter.export(sdk_spans)))
        sdk.start()
        time.sleep(0.5)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
        first.join(30)
    sdk.join(30)
    exporter.shutdown()
    assert sdk_result == [SpanExportResult.SUCCESS]
    metrics = requests.get(f"{query}/metrics", timeout=5).text
    assert 'obskit_serve_spans_refused_total{status="503"} 2.0' in metrics  # ours and the SDK's
    assert len(stored_spans(query, first_trace)) == 8
    assert len(stored_spans(query, sdk_trace)) == 5
