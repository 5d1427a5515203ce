"""Jaeger's query service (port 16686), and ``obskit serve`` (it speaks the same API).

One trace: ``GET /api/traces/{id}`` (the v1 JSON API), falling back to
``GET /api/v3/traces/{id}`` (api_v3, OTLP JSON) where v1 is absent.

A search: ``GET /api/traces?service=&operation=&start=&end=&limit=`` (µs; whole traces in the
answer). Jaeger after v2.20 removed it: a 404 from the router (not Jaeger's JSON error) or a
405 falls back to ``GET /api/v3/trace-summaries`` (v2.19+, ids only), then to
``GET /api/v3/traces`` (whole traces), with snake_case parameters and RFC 3339 times. A v3
search without a match is a 404 ``No traces found``: an empty result, not an error.

Telling "no such trace" from "no such route" matters: Jaeger v1 answers a missing trace with
404 *and* a JSON error envelope (sent as text/plain); a 404 without that envelope, or a 405,
means the route is not there and v3 is worth a try (trace-backends.md §1.2, §2).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from urllib.parse import urlencode

import orjson

from obskit.errors import BackendError, InputError, TraceNotFound
from obskit.ingest.summaries import read_search, summarize
from obskit.sources import Payload
from obskit.sources.answers import failure, is_router_404, jaeger_error, peek_json
from obskit.sources.http import HttpAnswer, HttpClient
from obskit.sources.query import DEFAULT_LIMIT, ROUTE_MISSING, Found, Query, rfc3339


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

    def search(self, query: Query) -> Found:
        """The traces of ``query``: v1 ``GET /api/traces`` (whole traces), else api_v3
        ``/trace-summaries`` (ids), else api_v3 ``/traces`` (whole traces)."""
        client, url = self.client, self.url
        if query.limit is None:
            query = replace(query, limit=DEFAULT_LIMIT)
        params = {
            "service": query.service,
            "start": query.start_ns // 1000,
            "end": query.end_ns // 1000,
            "limit": query.limit,
        }
        if query.operation:
            params["operation"] = query.operation
        v1 = client.get(f"{url}/api/traces?{urlencode(params)}", what="Jaeger")
        if v1.status == 200:
            return _read_whole(v1.body, f"Jaeger at {url} (GET /api/traces)", query.limit)
        if v1.status not in ROUTE_MISSING or (v1.status == 404 and not is_router_404(v1)):
            raise failure(v1, "Jaeger", jaeger_error(v1))
        v3 = {
            "query.service_name": query.service,
            "query.start_time_min": rfc3339(query.start_ns),
            "query.start_time_max": rfc3339(query.end_ns),
            "query.search_depth": query.limit,
        }
        if query.operation:
            v3["query.operation_name"] = query.operation
        summaries = client.get(f"{url}/api/v3/trace-summaries?{urlencode(v3)}", what="Jaeger")
        if summaries.status == 200:
            try:
                found = read_search(summaries.body)
            except InputError as err:
                raise BackendError(
                    f"Jaeger at {url} sent unreadable trace summaries: {err}"
                ) from None
            return Found(found[: query.limit], f"Jaeger at {url} (GET /api/v3/trace-summaries)")
        if _v3_no_match(summaries):
            return Found([], f"Jaeger at {url} (GET /api/v3/trace-summaries)")
        if summaries.status not in ROUTE_MISSING:
            raise failure(summaries, "Jaeger", jaeger_error(summaries))
        whole = client.get(f"{url}/api/v3/traces?{urlencode(v3)}", what="Jaeger")
        if whole.status == 200:
            return _read_whole(whole.body, f"Jaeger at {url} (GET /api/v3/traces)", query.limit)
        if _v3_no_match(whole):
            return Found([], f"Jaeger at {url} (GET /api/v3/traces)")
        if whole.status in ROUTE_MISSING:
            raise BackendError(
                f"no Jaeger search API at {url}: /api/traces answered {v1.status}, "
                f"/api/v3/trace-summaries {summaries.status} and /api/v3/traces {whole.status}",
                hint="point --jaeger at the query service (port 16686 by default)",
            )
        raise failure(whole, "Jaeger", jaeger_error(whole))

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


def _v3_no_match(answer: HttpAnswer) -> bool:
    """api_v3 answers a search without a match with 404 and its JSON error."""
    return answer.status == 404 and jaeger_error(answer) is not None


def _read_whole(body: bytes, origin: str, limit: int | None) -> Found:
    """A search answer holding whole traces; an empty one (v1 ``"data": []``, v3 ``"result":
    {}``) is an empty result."""
    from obskit.ingest import read_traces

    if len(body) < 4096:
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            doc = None
        if isinstance(doc, dict) and (
            ("data" in doc and not doc["data"])
            or (
                "result" in doc
                and not (isinstance(doc["result"], dict) and doc["result"].get("resourceSpans"))
            )
        ):
            return Found([], origin)

    try:
        traces = list(read_traces(body))
    except InputError as err:
        raise BackendError(f"{origin} sent an answer that is not a search result: {err}") from None
    traces = traces[:limit]
    return Found(summarize(traces), origin, {t.trace_id: t for t in traces})
