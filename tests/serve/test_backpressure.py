"""When the store cannot keep up, the receiver sheds load with 503 and Retry-After, and the
spans it did acknowledge are stored."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from obskit.serve import Backend, ServeConfig
from tests.serve.conftest import running_backend
from tests.serve.payloads import export_request

pytestmark = pytest.mark.slow  # starts real servers or runs end to end

PROTO = {"Content-Type": "application/x-protobuf"}


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Backend]:
    config = ServeConfig(
        otlp_port=0, query_port=0, grpc_port=0, data_dir=tmp_path, max_pending_spans=10
    )
    with running_backend(config) as backend:
        yield backend


def test_overload_gets_503_with_retry_after_and_accepted_spans_are_kept(
    backend: Backend, tmp_path: Path
) -> None:
    otlp = f"http://127.0.0.1:{backend.otlp_port}/v1/traces"
    # Another process holds the database: the writer cannot commit, so spans pile up.
    blocker = sqlite3.connect(tmp_path / "spans.db", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    first_body, first_trace = export_request(spans=8)
    first: dict[str, requests.Response] = {}
    sender = threading.Thread(
        target=lambda: first.update(
            r=requests.post(otlp, data=first_body, headers=PROTO, timeout=30)
        )
    )
    sender.start()
    try:
        deadline = time.monotonic() + 10
        while backend.store.pending_spans < 8 and time.monotonic() < deadline:
            time.sleep(0.01)
        second_body, _ = export_request(spans=8)
        refused = requests.post(otlp, data=second_body, headers=PROTO, timeout=10)
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] in {"1", "2", "3"}
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
        sender.join(30)
    assert first["r"].status_code == 200
    query = f"http://127.0.0.1:{backend.query_port}"
    stored = requests.get(f"{query}/api/traces/{first_trace}", timeout=5).json()
    assert len(stored["data"][0]["spans"]) == 8
