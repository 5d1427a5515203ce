"""Grafana Tempo's query API (port 3200): ``GET /api/v2/traces/{id}`` (Tempo 2.6+), falling
back to ``GET /api/traces/{id}``; searches by ``GET /api/search?q={ resource.service.name = "S"
&& name = "O" }&start=&end=&limit=`` (seconds), asked again with ``tags=`` (logfmt) by a Tempo
that rejects TraceQL (400). Ids come back with leading zeros stripped; they are padded.

Tempo's "not found" has three shapes (trace-backends.md §3): v1 says 404 with an empty body;
v2 may say 200 with an empty ``trace``; a v2 404 can mean either "hidden" or "Tempo < 2.6, no
such route". A v2 404 therefore falls back to v1, whose answer decides.
"""

from __future__ import annotations

import json
from dataclasses import replace
from urllib.parse import urlencode

from obskit.errors import BackendError, InputError, TraceNotFound
from obskit.ingest.summaries import read_search
from obskit.sources import Payload
from obskit.sources.answers import failure, is_router_404, peek_json
from obskit.sources.http import HttpAnswer, HttpClient
from obskit.sources.query import DEFAULT_LIMIT, ROUTE_MISSING, Found, Query


class TempoSource:
    backend = "Tempo"

    def __init__(self, url: str, client: HttpClient) -> None:
        self.url = url
        self.client = client
        self.description = f"Tempo at {url}"

    def close(self) -> None:
        self.client.close()

    def fetch(self, trace_id: str | None) -> Payload:
        if not trace_id:
            raise InputError("--trace-id is required with a Tempo source")
        v2 = self.client.get(f"{self.url}/api/v2/traces/{trace_id}", what=self.backend)
        if v2.status == 200:
            body = peek_json(v2)
            if isinstance(body, dict) and _v2_empty(body):
                raise self._not_found(trace_id, v2)
            return Payload(data=v2.body, origin=v2.url, backend=self.backend)
        if v2.status not in ROUTE_MISSING:
            raise failure(v2, self.backend)
        v1 = self.client.get(f"{self.url}/api/traces/{trace_id}", what=self.backend)
        if v1.status == 200:
            body = peek_json(v1)
            if isinstance(body, dict) and not (body.get("batches") or body.get("resourceSpans")):
                raise self._not_found(trace_id, v1)
            return Payload(data=v1.body, origin=v1.url, backend=self.backend)
        if v1.status == 404 and not is_router_404(v1):
            raise self._not_found(trace_id, v1)
        if v1.status in ROUTE_MISSING:
            raise BackendError(
                f"no Tempo query API at {self.url}: GET /api/v2/traces/{{id}} answered "
                f"{v2.status} and /api/traces/{{id}} answered {v1.status}",
                hint="point --tempo at Tempo's HTTP port (3200 by default), including any "
                "http_api_prefix",
            )
        if v1.status == 422:
            raise BackendError(
                f"{self.backend} refuses trace {trace_id}: it is larger than the "
                f"backend's max_bytes_per_trace ({v1.url})",
                hint="raise max_bytes_per_trace in Tempo's overrides, or use Tempo 2.6+ whose "
                "v2 API returns a partial trace",
            )
        raise failure(v1, self.backend)

    def search(self, query: Query) -> Found:
        """The traces of ``query`` by TraceQL, else by the legacy ``tags=`` search."""
        client, url = self.client, self.url
        if query.limit is None:
            query = replace(query, limit=DEFAULT_LIMIT)
        conditions = [f"resource.service.name = {traceql_string(query.service)}"]
        if query.operation:
            conditions.append(f"name = {traceql_string(query.operation)}")
        window = {
            "start": query.start_ns // 10**9,
            "end": max(query.end_ns // 10**9, query.start_ns // 10**9 + 1),
            "limit": query.limit,
            "spss": 1,
        }
        q = "{ " + " && ".join(conditions) + " }"
        answer = client.get(f"{url}/api/search?{urlencode({'q': q, **window})}", what="Tempo")
        api = f"Tempo at {url} (GET /api/search)"
        if answer.status == 400:
            # a Tempo without TraceQL: the legacy logfmt tag search
            tags = f"service.name={_logfmt(query.service)}"
            if query.operation:
                tags += f" name={_logfmt(query.operation)}"
            answer = client.get(
                f"{url}/api/search?{urlencode({'tags': tags, **window})}", what="Tempo"
            )
        if answer.status != 200:
            if answer.status in ROUTE_MISSING and is_router_404(answer):
                raise BackendError(
                    f"no Tempo search API at {url}: GET /api/search answered {answer.status}",
                    hint="point --tempo at Tempo's HTTP port (3200 by default)",
                )
            raise failure(answer, "Tempo")
        try:
            summaries = read_search(answer.body)
        except InputError as err:
            raise BackendError(f"{api} sent an unreadable search result: {err}") from None
        return Found(summaries[: query.limit], api)

    def _not_found(self, trace_id: str, answer: HttpAnswer) -> TraceNotFound:
        return TraceNotFound(
            f"trace {trace_id} not found in {self.backend} ({answer.url})",
            hint="check the id, and that the trace is within the backend's retention",
        )


def _v2_empty(body: dict[str, object]) -> bool:
    trace = body.get("trace")
    if "trace" not in body and ("batches" in body or "resourceSpans" in body):
        return False
    return not trace or (isinstance(trace, dict) and not trace.get("resourceSpans"))


def traceql_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # TraceQL strings take JSON's escapes


def _logfmt(value: str) -> str:
    if value and all(c.isalnum() or c in "-_./:" for c in value):
        return value
    return traceql_string(value)
