"""No acknowledged span is ever lost, also when the server is killed with SIGKILL."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.trace.export import SpanExportResult

from tests.serve.conftest import ServeProcess, start_serve
from tests.serve.payloads import export_request
from tests.serve.sdk_spans import record_spans

pytestmark = pytest.mark.slow  # starts real servers or runs end to end

SPANS_PER_REQUEST = 40


def test_every_acknowledged_span_survives_sigkill(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    serve = start_serve(data_dir)
    acknowledged: list[str] = []
    stop = threading.Event()

    def exporter() -> None:
        session = requests.Session()
        while not stop.is_set():
            body, trace_id = export_request(spans=SPANS_PER_REQUEST)
            try:
                response = session.post(
                    f"{serve.otlp}/v1/traces",
                    data=body,
                    headers={"Content-Type": "application/x-protobuf"},
                    timeout=5,
                )
            except requests.RequestException:
                return  # the server died under us: this request was never acknowledged
            if response.status_code == 200:
                acknowledged.append(trace_id)

    kill_mid_ingestion(serve, exporter, stop, acknowledged, wait_s=20, join_s=10)

    assert_all_stored(data_dir, acknowledged)


def kill_mid_ingestion(
    serve: ServeProcess,
    exporter: Callable[[], None],
    stop: threading.Event,
    acknowledged: list[str],
    *,
    wait_s: float,
    join_s: float,
) -> None:
    """Four exporters send until 50 requests are acknowledged, then SIGKILL while they go on."""
    threads = [threading.Thread(target=exporter) for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + wait_s
        while len(acknowledged) < 50 and time.monotonic() < deadline:
            time.sleep(0.05)
        serve.proc.send_signal(signal.SIGKILL)  # mid-ingestion: the exporters are still sending
        serve.proc.wait(10)
    finally:
        stop.set()
        for thread in threads:
            thread.join(join_s)
        serve.stop(signal.SIGKILL)
    assert len(acknowledged) >= 50


def assert_all_stored(data_dir: Path, acknowledged: list[str]) -> None:
    restarted = start_serve(data_dir)
    try:
        missing = [
            trace_id
            for trace_id in acknowledged
            if len(_spans(restarted, trace_id)) != SPANS_PER_REQUEST
        ]
        assert missing == [], f"{len(missing)} of {len(acknowledged)} acknowledged traces lost"
    finally:
        restarted.stop()


def _spans(serve: ServeProcess, trace_id: str) -> list[dict]:
    response = requests.get(f"{serve.query}/api/traces/{trace_id}", timeout=5)
    return response.json()["data"][0]["spans"] if response.status_code == 200 else []


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_sdk_exporters_lose_no_acknowledged_span_to_sigkill(tmp_path: Path, protocol: str) -> None:
    """The OTel SDK's own exporters: an export that returned SUCCESS is on disk."""
    data_dir = tmp_path / "data"
    serve = start_serve(data_dir)
    acknowledged: list[str] = []
    stop = threading.Event()

    def exporter() -> None:
        sdk = (
            GrpcExporter(endpoint=serve.grpc, insecure=True, timeout=2)
            if protocol == "grpc"
            else HttpExporter(endpoint=f"{serve.otlp}/v1/traces", timeout=2)
        )
        try:
            while not stop.is_set():
                spans, trace_id = record_spans(SPANS_PER_REQUEST)
                if sdk.export(spans) is SpanExportResult.SUCCESS:
                    acknowledged.append(trace_id)
        finally:
            sdk.shutdown()

    kill_mid_ingestion(serve, exporter, stop, acknowledged, wait_s=30, join_s=20)
    assert_all_stored(data_dir, acknowledged)
