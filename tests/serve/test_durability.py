"""No acknowledged span is ever lost, also when the server is killed with SIGKILL."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.serve.conftest import start_serve
from tests.serve.payloads import export_request

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

    threads = [threading.Thread(target=exporter) for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 20
        while len(acknowledged) < 50 and time.monotonic() < deadline:
            time.sleep(0.05)
        serve.proc.send_signal(signal.SIGKILL)  # mid-ingestion: the exporters are still sending
        serve.proc.wait(10)
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
        serve.stop(signal.SIGKILL)
    assert len(acknowledged) >= 50

    restarted = start_serve(data_dir)
    try:
        missing = []
        for trace_id in acknowledged:
            response = requests.get(f"{restarted.query}/api/traces/{trace_id}", timeout=5)
            if (
                response.status_code != 200
                or len(response.json()["data"][0]["spans"]) != SPANS_PER_REQUEST
            ):
                missing.append(trace_id)
        assert missing == [], f"{len(missing)} of {len(acknowledged)} acknowledged traces lost"
    finally:
        restarted.stop()
