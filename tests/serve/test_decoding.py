"""Decode workers: a worker that dies is replaced, and the export it was handling still lands."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from obskit.serve import Backend, ServeConfig
from tests.serve.conftest import running_backend
from tests.serve.payloads import export_request

PROTO = {"Content-Type": "application/x-protobuf"}


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Backend]:
    with running_backend(
        ServeConfig(otlp_port=0, query_port=0, grpc_port=0, data_dir=tmp_path, decode_workers=1)
    ) as backend:
        yield backend


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_a_killed_decode_worker_is_replaced(backend: Backend) -> None:
    otlp = f"http://127.0.0.1:{backend.otlp_port}/v1/traces"
    query = f"http://127.0.0.1:{backend.query_port}"
    [worker] = backend.decoder.pids()
    os.kill(worker, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _state(worker) != "Z" and time.monotonic() < deadline:  # dead, not yet reaped
        time.sleep(0.01)
    body, trace_id = export_request(spans=7)
    assert requests.post(otlp, data=body, headers=PROTO, timeout=30).status_code == 200
    stored = requests.get(f"{query}/api/traces/{trace_id}", timeout=5).json()
    assert len(stored["data"][0]["spans"]) == 7
    [replacement] = backend.decoder.pids()
    assert replacement != worker


def test_workers_stop_with_the_server(tmp_path: Path) -> None:
    backend = Backend(
        ServeConfig(otlp_port=0, query_port=0, grpc_port=0, data_dir=tmp_path, decode_workers=2)
    )
    workers = backend.decoder.pids()
    assert len(workers) == 2
    backend.close()
    for pid in workers:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # already reaped: the worker exited
