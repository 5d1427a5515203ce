"""Issue 15, cases 7, 8 and 9 at the backends: the timeout bounds the whole answer (a backend
that drips a byte every half second, or asks to be asked again in a day, used to hold `--timeout
5` for 90 s); bytes from a backend never reach the terminal raw; a gzip body that is not gzip
is a clean error (it was a ContentDecodingError traceback)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from obskit.cli import cli
from obskit.errors import BackendError
from obskit.sources.http import HttpClient, HttpSettings
from tests.sources.backend import Answer, serve

TRACE_ID = "0123456789abcdef"
PATH = f"/api/traces/{TRACE_ID}"


def client(timeout_s: float) -> HttpClient:
    return HttpClient(HttpSettings(timeout_s=timeout_s, backoff_s=0.0))


@contextmanager
def dripping(headers_too: bool = False) -> Iterator[str]:
    """A backend that sends one byte every 0.2 s, for ever (until the test ends)."""
    stop = threading.Event()

    class Drip(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            head += b"Content-Length: 100000000\r\n\r\n"
            stream = head if headers_too else b""
            if not headers_too:
                self.wfile.write(head)
            try:
                while not stop.wait(0.2):
                    self.wfile.write(stream[:1] or b" ")
                    self.wfile.flush()
                    stream = stream[1:]
            except OSError:
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Drip)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.mark.parametrize("headers_too", [False, True], ids=["body", "headers"])
def test_a_dripping_backend_cannot_outlast_the_timeout(headers_too: bool) -> None:
    with dripping(headers_too) as url:
        started = time.monotonic()
        with pytest.raises(BackendError) as err:
            client(2.0).get(url + PATH, what="Jaeger")
        took = time.monotonic() - started
    assert took < 2.0 + 3.0  # the timeout, and some slack for a busy machine
    assert "2 s" in str(err.value)


def test_retry_after_is_capped_by_the_timeout() -> None:
    routes = {PATH: Answer(503, b"busy", headers={"Retry-After": "100000"})}
    with serve(routes) as backend:
        started = time.monotonic()
        try:
            answer = client(2.0).get(backend.url + PATH, what="Jaeger")
        except BackendError:
            pass
        else:
            assert answer.status == 503
        took = time.monotonic() - started
    assert took < 2.0 + 3.0  # the timeout, and some slack for a busy machine


def test_gzip_garbage_is_a_clean_error() -> None:
    routes = {PATH: Answer(200, b"this is not gzip at all", headers={"Content-Encoding": "gzip"})}
    with serve(routes) as backend, pytest.raises(BackendError) as err:
        client(5.0).get(backend.url + PATH, what="Jaeger")
    assert "not valid gzip" in str(err.value)


def test_gzip_garbage_through_analyze_is_exit_3_and_one_line() -> None:
    routes = {PATH: Answer(200, b"\x1f\x8b garbage", headers={"Content-Encoding": "gzip"})}
    with serve(routes) as backend:
        result = CliRunner().invoke(
            cli, ["analyze", "--jaeger", backend.url, "--trace-id", TRACE_ID, "--timeout", "5"]
        )
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 3
    assert len(result.output.strip().splitlines()) == 1


HOSTILE_BODY = b"\x1b[2J\x1b]0;pwned\x07\x00evil\r\nforged line \xe2\x80\xae txt"


@pytest.mark.parametrize("status", [500, 400, 200])
def test_a_backends_bytes_reach_the_terminal_escaped(status: int) -> None:
    routes = {
        PATH: Answer(status, HOSTILE_BODY, "text/plain"),
        f"/api/v3/traces/{TRACE_ID}": Answer(status, HOSTILE_BODY, "text/plain"),
    }
    with serve(routes) as backend:
        result = CliRunner().invoke(
            cli,
            ["analyze", "--jaeger", backend.url, "--trace-id", TRACE_ID, "--timeout", "5"],
            env={"OBSKIT_RETRIES": "0"},
        )
    assert result.exit_code == 3, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert result.output.strip().isprintable()
    assert "\\x1b" in result.output  # shown, not acted on
