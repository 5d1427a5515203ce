"""The demo's open-loop traffic (``run_load``) against a real HTTP server on loopback that
records when each request arrives: requests come in groups, as a flash sale's shoppers do."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from demo_services.load import run_load


class Recorder(BaseHTTPRequestHandler):
    arrivals: ClassVar[list[float]] = []

    def _answer(self) -> None:
        self.arrivals.append(time.monotonic())
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Recorder.arrivals = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def bursts(arrivals: list[float], gap_s: float) -> list[int]:
    """How many requests arrived in each burst (a burst ends where ``gap_s`` passes quietly)."""
    sizes: list[int] = []
    last = float("-inf")
    for at in sorted(arrivals):
        if at - last > gap_s:
            sizes.append(0)
        sizes[-1] += 1
        last = at
    return sizes


def test_requests_start_in_groups_at_the_same_rate(server: str) -> None:
    result = run_load(server, rate=20, duration=1, checkout_share=0.5, group=4)
    assert result.sent == 20 and result.statuses == {"200": 20}
    # 5 groups of 4, one every 0.2 s: within a group nothing waits for the one before
    assert bursts(Recorder.arrivals, gap_s=0.1) == [4, 4, 4, 4, 4]


def test_one_at_a_time_is_evenly_spaced(server: str) -> None:
    result = run_load(server, rate=10, duration=1, checkout_share=0.5)
    assert result.sent == 10
    assert bursts(Recorder.arrivals, gap_s=0.05) == [1] * 10


def test_a_group_below_one_is_refused(server: str) -> None:
    with pytest.raises(ValueError, match="group at least 1"):
        run_load(server, rate=10, duration=1, group=0)
