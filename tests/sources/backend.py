"""A recorded trace backend: real HTTP on 127.0.0.1, answering from a routing table.

Each route holds a list of answers, served in order (the last one repeats), so a test can say
"500, then 200". Unknown paths get Go's mux answer (``404 page not found``), like a Jaeger or
Tempo that lacks the route. Every request is recorded for assertions (headers, order).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.conftest import FIXTURES

# trace ids of the recorded responses
JAEGER_V1_ID = "2db17286b3e6b148"  # jaeger-v1-api_get-trace_jaeger-query_2spans.json
HOTROD_ID = "2ea75461946a7dd10f2c15ab36a076cb"  # jaeger-apiv3_get-trace_hotrod_40spans.json
BOOKINFO_ID = "3ba55609c3cde49649cd77d1f9dcd936"  # tempo-v1 bookinfo (base64 O6VWCcPN...)

JAEGER_NOT_FOUND = b'{"data":null,"total":0,"limit":0,"offset":0,"errors":[{"code":404,"msg":"trace not found"}]}\n'
JAEGER_V3_NOT_FOUND = b'{"error":{"httpCode":404,"message":"No traces found"}}\n'


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # sleep before answering (a timeout test)
    cut_at: int | None = None  # send only this many body bytes, then close
    no_length: bool = False  # no Content-Length: the body ends when the connection closes


def fixture_answer(name: str, **kwargs: object) -> Answer:
    return Answer(body=(FIXTURES / name).read_bytes(), **kwargs)  # type: ignore[arg-type]


@dataclass
class Backend:
    url: str
    routes: dict[str, list[Answer]]
    requests: list[tuple[str, dict[str, str]]]
    release: threading.Event  # set at shutdown so delayed handlers return at once

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]


@contextmanager
def serve(routes: dict[str, list[Answer] | Answer]) -> Iterator[Backend]:
    table = {path: (a if isinstance(a, list) else [a]) for path, a in routes.items()}
    served: dict[str, int] = {}
    seen: list[tuple[str, dict[str, str]]] = []
    release = threading.Event()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            with lock:
                seen.append((path, dict(self.headers.items())))
                answers = table.get(path)
                if answers is None:
                    answer = Answer(404, b"404 page not found\n", "text/plain; charset=utf-8")
                else:
                    n = served.get(path, 0)
                    served[path] = n + 1
                    answer = answers[min(n, len(answers) - 1)]
            if answer.delay_s:
                release.wait(answer.delay_s)
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            if not answer.no_length:
                self.send_header("Content-Length", str(len(answer.body)))
            for key, value in answer.headers.items():
                self.send_header(key, value)
            closing = answer.cut_at is not None or answer.no_length
            if closing:
                self.send_header("Connection", "close")
            self.end_headers()
            body = answer.body if answer.cut_at is None else answer.body[: answer.cut_at]
            try:
                self.wfile.write(body)
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass
            if closing:
                self.close_connection = True

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield Backend(f"http://{host}:{port}", table, seen, release)
    finally:
        release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def jaeger_v1_routes() -> dict[str, list[Answer] | Answer]:
    """Jaeger with the v1 API (the 2-span jaeger-query trace); other ids: Jaeger's 404."""
    return {
        f"/api/traces/{JAEGER_V1_ID}": fixture_answer(
            "jaeger-v1-api_get-trace_jaeger-query_2spans.json"
        ),
        "/api/traces/0123456789abcdef": Answer(404, JAEGER_NOT_FOUND, "text/plain; charset=utf-8"),
    }


def jaeger_v3_routes() -> dict[str, list[Answer] | Answer]:
    """A Jaeger without the v1 trace route (v1 search and friends are gone after v2.20):
    /api/traces/{id} is a router 404, /api/v3 answers."""
    return {
        f"/api/v3/traces/{HOTROD_ID}": fixture_answer("jaeger-apiv3_get-trace_hotrod_40spans.json"),
        "/api/v3/traces/0123456789abcdef": Answer(
            404, JAEGER_V3_NOT_FOUND, "text/plain; charset=utf-8"
        ),
    }


def tempo_v1_routes() -> dict[str, list[Answer] | Answer]:
    """Tempo before 2.6: no /api/v2 route; /api/traces/{id} answers, 404 with an empty body
    for a missing trace."""
    return {
        f"/api/traces/{BOOKINFO_ID}": fixture_answer("tempo-v1_api-traces_bookinfo_8spans.json"),
        "/api/traces/0123456789abcdef": Answer(404, b"", "text/plain; charset=utf-8"),
    }


def tempo_v2_body() -> bytes:
    """Tempo 2.6+'s v2 shape around the recorded bookinfo spans (no real v2 sample exists;
    trace-backends.md §3.2): {"trace": {"resourceSpans": ...}, "metrics": {...}}."""
    import json

    v1 = json.loads((FIXTURES / "tempo-v1_api-traces_bookinfo_8spans.json").read_bytes())
    return json.dumps(
        {"trace": {"resourceSpans": v1["batches"]}, "metrics": {"inspectedBytes": "1234"}}
    ).encode()
