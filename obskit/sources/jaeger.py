"""Jaeger's query service (port 16686): ``GET /api/traces/{id}`` (the v1 JSON API), falling
back to ``GET /api/v3/traces/{id}`` (api_v3, OTLP JSON) where v1 is absent.

Telling "no such trace" from "no such route" matters: Jaeger v1 answers a missing trace with
404 *and* a JSON error envelope (sent as text/plain); a 404 without that envelope, or a 405,
means the route is not there and v3 is worth a try (trace-backends.md §1.2, §2).
"""

from __future__ import annotations

from collections.abc import Callable

from obskit.errors import BackendError, InputError, TraceNotFound
from obskit.sources import Payload
from obskit.sources.answers import failure, is_router_404, jaeger_error, peek_json
from obskit.sources.http import HttpAnswer, HttpClient

# Answers from a server without this route: try the next API.
ROUTE_MISSING = (404, 405, 501)


class JaegerSource:
    backend = "Jaeger"

    def __init__(self, url: str, client: HttpClient) -> None:
        self.url = url
        self.client = client
        self.description = f"Jaeger at {url}"

    def close(self) -> None:
        self.client.close()

    def fetch(self, trace_id: str | None) -> Payload:
        if not trace_id:
            raise InputError("--trace-id is required with a Jaeger source")
        v1 = self.client.get(f"{self.url}/api/traces/{trace_id}", what=self.backend)
        if v1.status == 200:
            return self._found(v1, trace_id, empty=_v1_empty)
        message = jaeger_error(v1)
        if v1.status == 404 and message is not None:
            raise self._not_found(trace_id, v1)
        if v1.status not in ROUTE_MISSING or (message is not None and v1.status != 404):
            raise failure(v1, self.backend, message)
        v3 = self.client.get(f"{self.url}/api/v3/traces/{trace_id}", what=self.backend)
        if v3.status == 200:
            return self._found(v3, trace_id, empty=_v3_empty)
        message = jaeger_error(v3)
        if v3.status == 404 and message is not None:
            raise self._not_found(trace_id, v3)
        if v3.status in ROUTE_MISSING and (message is None or is_router_404(v3)):
            raise BackendError(
                f"no Jaeger query API at {self.url}: GET /api/traces/{{id}} answered "
                f"{v1.status} and /api/v3/traces/{{id}} answered {v3.status}",
                hint="point --jaeger at the query service (port 16686 by default), including "
                "any base path",
            )
        raise failure(v3, self.backend, message)

    def _found(
        self, answer: HttpAnswer, trace_id: str, *, empty: Callable[[object], bool]
    ) -> Payload:
        body = peek_json(answer)
        if body is not None and empty(body):
            raise self._not_found(trace_id, answer)
        return Payload(data=answer.body, origin=answer.url, backend=self.backend)

    def _not_found(self, trace_id: str, answer: HttpAnswer) -> TraceNotFound:
        return TraceNotFound(
            f"trace {trace_id} not found in {self.backend} ({answer.url})",
            hint="check the id, and that the trace is within the backend's retention",
        )


def _v1_empty(body: object) -> bool:
    return isinstance(body, dict) and "data" in body and not body["data"]


def _v3_empty(body: object) -> bool:
    if not isinstance(body, dict) or "result" not in body:
        return False
    result = body["result"]
    return not result or (isinstance(result, dict) and not result.get("resourceSpans"))
