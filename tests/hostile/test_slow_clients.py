"""Issue 15, case 4: 120 connections dribbling header bytes (slowloris) used to fill waitress's
connection limit and stop OTLP ingestion for everyone. Now one address holds at most
``per_client`` connections, and a request must finish its headers within ``header_timeout_s``.

The attacker connects from 127.0.0.2 (loopback, another address), the exporter from 127.0.0.1."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from obskit.serve import Backend, ServeConfig
from obskit.serve.connections import ConnectionLimits
from tests.serve.conftest import running_backend
from tests.serve.payloads import export_request

PROTO = {"Content-Type": "application/x-protobuf"}
ATTACKER = "127.0.0.2"


class Slowloris:
    """``count`` connections from ATTACKER, each sending one header byte every ``every_s``."""

    def __init__(self, port: int, count: int, every_s: float = 0.5) -> None:
        self.port, self.count, self.every_s = port, count, every_s
        self.sockets: list[socket.socket] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._drip, daemon=True)

    def open(self) -> None:
        for _ in range(self.count):
            sock = socket.socket()
            sock.bind((ATTACKER, 0))
            sock.settimeout(2)
            try:
                sock.connect(("127.0.0.1", self.port))
                sock.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\n")
            except OSError:
                sock.close()
                continue
            self.sockets.append(sock)
        self.thread.start()

    def _drip(self) -> None:
        while not self.stop.wait(self.every_s):
            for sock in list(self.sockets):
                with contextlib.suppress(OSError):  # the server closed it: alive() notices
                    sock.sendall(b"X")

    def alive(self) -> int:
        """How many connections the server still holds open."""
        for sock in list(self.sockets):
            try:
                closed = sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
            except BlockingIOError:
                closed = False
            except OSError:
                closed = True
            if closed:
                self.sockets.remove(sock)
                sock.close()
        return len(self.sockets)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        for sock in self.sockets:
            sock.close()


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Backend]:
    limits = ConnectionLimits(per_client=32, header_timeout_s=2.0)
    config = ServeConfig(
        otlp_port=0, query_port=0, data_dir=tmp_path, decode_workers=0, connections=limits
    )
    with running_backend(config) as backend:
        yield backend


@pytest.mark.slow
def test_slow_clients_do_not_block_ingestion(backend: Backend) -> None:
    otlp = f"http://127.0.0.1:{backend.otlp_port}/v1/traces"
    query = f"http://127.0.0.1:{backend.query_port}"
    attack = Slowloris(backend.otlp_port, count=120)
    try:
        attack.open()
        time.sleep(0.5)  # the server has accepted (or refused) them all
        assert attack.alive() <= 32 + 1  # the rest were closed at once
        # meanwhile an exporter gets through, at once
        for _ in range(5):
            body, trace_id = export_request(spans=3)
            started = time.monotonic()
            answer = requests.post(otlp, data=body, headers=PROTO, timeout=5)
            assert answer.status_code == 200
            assert time.monotonic() - started < 1.0
            stored = requests.get(f"{query}/api/traces/{trace_id}", timeout=5)
            assert stored.status_code == 200
        # and the dribblers are cut off once their headers are overdue
        deadline = time.monotonic() + 2.0 + 3.0
        while attack.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert attack.alive() == 0
    finally:
        attack.close()


@pytest.mark.slow
def test_a_slow_but_honest_client_within_the_limits_is_served(backend: Backend) -> None:
    # headers over ~1 s (inside the 2 s header limit): served as usual
    body, _trace_id = export_request(spans=2)
    head = (
        f"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", backend.otlp_port), timeout=5) as sock:
        for i in range(0, len(head), 16):
            sock.sendall(head[i : i + 16])
            time.sleep(0.1)
        sock.sendall(body)
        reply = sock.recv(65536)
    assert reply.startswith(b"HTTP/1.1 200")
