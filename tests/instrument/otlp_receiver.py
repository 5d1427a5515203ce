"""A test OTLP/HTTP receiver built on opentelemetry-proto: protobuf in (gzip or not), spans
kept in memory as plain dicts. Runs in a thread on a free loopback port."""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

MAX_BODY = 16 * 1024 * 1024


def any_value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def span_dict(resource: dict[str, Any], scope: str, sp: Span) -> dict[str, Any]:
    return {
        "service": resource.get("service.name"),
        "resource": resource,
        "scope": scope,
        "name": sp.name,
        "kind": Span.SpanKind.Name(sp.kind).removeprefix("SPAN_KIND_"),
        "trace_id": sp.trace_id.hex(),
        "span_id": sp.span_id.hex(),
        "parent_span_id": sp.parent_span_id.hex(),
        "start_ns": sp.start_time_unix_nano,
        "end_ns": sp.end_time_unix_nano,
        "status": Status.StatusCode.Name(sp.status.code).removeprefix("STATUS_CODE_"),
        "attributes": {kv.key: any_value(kv.value) for kv in sp.attributes},
    }


class Receiver:
    """``with Receiver() as r: ... r.endpoint ... r.wait_for(predicate)``."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.requests = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.spans)

    def wait_for(
        self, predicate: Callable[[list[dict[str, Any]]], Any], timeout: float = 20.0
    ) -> Any:
        """Poll until ``predicate(spans)`` is truthy; return its value or fail."""
        deadline = time.monotonic() + timeout
        while True:
            found = predicate(self.snapshot())
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"spans not received within {timeout}s")
            time.sleep(0.1)

    def _add(self, request: ExportTraceServiceRequest) -> None:
        found = []
        for rs in request.resource_spans:
            resource = {kv.key: any_value(kv.value) for kv in rs.resource.attributes}
            for ss in rs.scope_spans:
                found += [span_dict(resource, ss.scope.name, sp) for sp in ss.spans]
        with self._lock:
            self.spans += found
            self.requests += 1

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                if self.path != "/v1/traces" or length > MAX_BODY:
                    self.send_error(404 if self.path != "/v1/traces" else 413)
                    return
                body = self.rfile.read(length)
                encoding = self.headers.get("Content-Encoding", "")
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                receiver._add(request)
                out = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: object) -> None:
                pass

        return Handler
