"""A real `obskit serve` process on free loopback ports, stopped by the fixture."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from obskit.serve import Backend, ServeConfig
from tests.conftest import free_port, wait_ready


@dataclass
class ServeProcess:
    proc: subprocess.Popen[bytes]
    otlp: str
    query: str
    grpc: str  # host:port of the OTLP/gRPC receiver
    data_dir: Path

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return int(self.proc.returncode)


def start_serve(data_dir: Path, *extra: str) -> ServeProcess:
    otlp_port, query_port, grpc_port = free_port(), free_port(), free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "obskit",
            "serve",
            "--otlp-port",
            str(otlp_port),
            "--query-port",
            str(query_port),
            "--grpc-port",
            str(grpc_port),
            "--data-dir",
            str(data_dir),
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    serve = ServeProcess(
        proc,
        f"http://127.0.0.1:{otlp_port}",
        f"http://127.0.0.1:{query_port}",
        f"127.0.0.1:{grpc_port}",
        data_dir,
    )
    try:
        wait_ready(f"{serve.query}/health")
    except BaseException:
        serve.stop(signal.SIGKILL)
        raise
    return serve


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    serve = start_serve(tmp_path_factory.mktemp("serve-data"))
    try:
        yield serve
    finally:
        serve.stop()


@contextmanager
def running_backend(config: ServeConfig) -> Iterator[Backend]:
    """An in-process backend serving on its own thread, stopped also on failure."""
    backend = Backend(config)
    backend.start()
    thread = threading.Thread(target=backend.run, daemon=True)
    thread.start()
    try:
        yield backend
    finally:
        backend.stop()
        thread.join(15)


def serve_once(
    data_dir: Path, *extra: str, otlp_port: int | None = None, grpc_port: int | None = None
) -> subprocess.CompletedProcess[str]:
    """``obskit serve`` run as a user would, for a failure that ends it at start-up."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "obskit",
            "serve",
            "--otlp-port",
            str(otlp_port or free_port()),
            "--query-port",
            str(free_port()),
            "--grpc-port",
            str(grpc_port or free_port()),
            "--data-dir",
            str(data_dir),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
