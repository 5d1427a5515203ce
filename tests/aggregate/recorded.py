"""A recorded backend over real HTTP on 127.0.0.1 (an in-thread ``http.server``): each path
answers from a list (served in order, the last repeating); unknown paths get Go's router
answer ``404 page not found``. Requests are recorded with their query strings, and the most
requests ever in flight at once is kept (to check bounded concurrency)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"


@dataclass
class Recorded:
    url: str
    requests: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)
    peak: int = 0

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]

    def query(self, path: str) -> dict[str, list[str]]:
        return next(q for p, q in self.requests if p == path)


@contextmanager
def recorded(routes: dict[str, list[Reply] | Reply], delay_s: float = 0.0) -> Iterator[Recorded]:
    table = {p: (r if isinstance(r, list) else [r]) for p, r in routes.items()}
    served: dict[str, int] = {}
    lock = threading.Lock()
    state = {"now": 0}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            with lock:
                record.requests.append((parts.path, parse_qs(parts.query)))
                state["now"] += 1
                record.peak = max(record.peak, state["now"])
                answers = table.get(parts.path)
                if answers is None:
                    reply = Reply(404, b"404 page not found\n", "text/plain; charset=utf-8")
                else:
                    n = served.get(parts.path, 0)
                    served[parts.path] = n + 1
                    reply = answers[min(n, len(answers) - 1)]
            try:
                if delay_s:
                    time.sleep(delay_s)
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
            finally:
                with lock:
                    state["now"] -= 1

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    host, port = server.server_address[:2]
    record = Recorded(f"http://{host}:{port}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield record
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
