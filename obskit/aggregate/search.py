"""Find the traces of an endpoint: Jaeger (v1 search, else api_v3), Tempo (``/api/search``),
the embedded backend (it speaks Jaeger's API), or files and directories holding many traces.

Every backend search is a **sample**: Jaeger's search depth and Tempo's ``limit`` cap how many
traces come back, with no paging (trace-backends.md §5.5); the report says how many traces it
is based on.

* **Jaeger**: ``GET /api/traces?service=&operation=&start=&end=&limit=`` (µs; whole traces in
  the answer). Jaeger after v2.20 removed it: a 404 from the router (not Jaeger's JSON error)
  or a 405 falls back to ``GET /api/v3/trace-summaries`` (v2.19+, ids only), then to
  ``GET /api/v3/traces`` (whole traces), with snake_case parameters and RFC 3339 times. A v3
  search without a match is a 404 ``No traces found``: an empty result, not an error.
* **Tempo**: ``GET /api/search?q={ resource.service.name = "S" && name = "O" }&start=&end=
  &limit=`` (seconds); a Tempo that rejects TraceQL (400) is asked again with ``tags=``
  (logfmt). Ids come back with leading zeros stripped; they are padded.
* **Files**: each file (or each file of a directory, in name order) is streamed with
  :func:`obskit.ingest.read_traces`; JSON Lines are read with a window of lines so memory stays
  bounded however long the file is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import orjson

from obskit.errors import BackendError, InputError
from obskit.ingest.search import TraceSummary, read_search, summarize
from obskit.model import Trace
from obskit.sources.answers import failure, is_router_404, jaeger_error
from obskit.sources.http import HttpAnswer, HttpClient

ROUTE_MISSING = (404, 405, 501)
# JSON Lines: a trace is complete once this many lines passed without one of its spans
# (the Collector flushes one trace's batches within seconds; see obskit.ingest.read_traces).
LINE_WINDOW = 500
FILE_SUFFIXES = (".json", ".jsonl", ".ndjson", ".pb", ".bin", ".proto")


@dataclass(frozen=True, slots=True)
class Query:
    """A search for the traces of ``service`` (and ``operation``) started in [start, end)."""

    service: str
    operation: str | None
    start_ns: int
    end_ns: int
    limit: int | None  # None: no limit (files only; a backend search gets DEFAULT_LIMIT)


@dataclass(slots=True)
class Found:
    """What a search returned: trace summaries, and the traces it sent whole (Jaeger v1 and
    v3 ``/traces`` searches do), which then need no second request."""

    summaries: list[TraceSummary]
    api: str  # the endpoint that answered, for messages
    traces: dict[str, Trace] = field(default_factory=dict)

    @property
    def trace_ids(self) -> list[str]:
        return [s.trace_id for s in self.summaries]


def _read_whole(body: bytes, origin: str, limit: int) -> Found:
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


DEFAULT_LIMIT = 100


def search_jaeger(client: HttpClient, url: str, query: Query) -> Found:
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
            raise BackendError(f"Jaeger at {url} sent unreadable trace summaries: {err}") from None
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


def _v3_no_match(answer: HttpAnswer) -> bool:
    """api_v3 answers a search without a match with 404 and its JSON error."""
    return answer.status == 404 and jaeger_error(answer) is not None


def traceql_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # TraceQL strings take JSON's escapes


def search_tempo(client: HttpClient, url: str, query: Query) -> Found:
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
        answer = client.get(f"{url}/api/search?{urlencode({'tags': tags, **window})}", what="Tempo")
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


def _logfmt(value: str) -> str:
    if value and all(c.isalnum() or c in "-_./:" for c in value):
        return value
    return traceql_string(value)


def rfc3339(ns: int) -> str:
    seconds, fraction = divmod(ns, 10**9)
    stamp = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{fraction:09d}Z"


def trace_files(path: str) -> list[Path]:
    """The files to read: the path itself, or a directory's trace files in name order."""
    root = Path(path)
    if root.is_dir():
        files = sorted(
            p
            for p in root.rglob("*")
            if p.is_file() and p.suffix.lower() in FILE_SUFFIXES and not p.name.startswith(".")
        )
        if not files:
            raise InputError(
                f"{path}: no trace files in this directory (looked for {', '.join(FILE_SUFFIXES)})"
            )
        return files
    if not root.exists():
        raise InputError(f"{path}: no such file or directory")
    return [root]


def read_files(path: str, *, window: int = LINE_WINDOW) -> Iterator[Trace]:
    """Every trace of a file or directory, streamed (JSON Lines with bounded memory)."""
    yield from read_paths(trace_files(path), window=window)


def read_paths(files: Iterable[Path], *, window: int = LINE_WINDOW) -> Iterator[Trace]:
    """Every trace of ``files``, in order; errors name the file."""
    from obskit.ingest import read_traces

    for file in files:
        try:
            yield from read_traces(file, window=window)
        except InputError as err:
            message = str(err)
            prefix = f"{file}: "
            raise InputError(
                message if message.startswith(str(file)) else prefix + message
            ) from None
