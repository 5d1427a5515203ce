"""The embedded backend's two WSGI applications: the OTLP receiver and the Jaeger query API.

The query API answers with the same JSON and error shapes as Jaeger's (trace-backends.md §1, §2),
so ``obskit analyze --jaeger`` and the Jaeger UI's API clients cannot tell the difference.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, unquote

import orjson

from obskit.serve import receiver
from obskit.serve.decoding import DecodeFailed, DecodePool, PoolClosed, Rows
from obskit.serve.jaeger_json import envelope
from obskit.serve.metrics import ServeMetrics
from obskit.serve.store import SpanStore, StoreClosed, StoreOverloaded, TraceQuery
from obskit.units import parse_go_duration_ns

StartResponse = Callable[..., Any]
Environ = dict[str, Any]

TRACE_ID = re.compile(r"^[0-9a-fA-F]{1,32}$")
DAY_NS = 24 * 3600 * 10**9


class HttpError(Exception):
    def __init__(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8"):
        super().__init__(status)
        self.status = status
        self.body = body
        self.content_type = content_type


def _reason(status: int) -> str:
    from http import HTTPStatus

    return f"{status} {HTTPStatus(status).phrase}"


def _respond(
    start_response: StartResponse,
    status: int,
    body: bytes,
    content_type: str,
    headers: Iterable[tuple[str, str]] = (),
) -> list[bytes]:
    start_response(
        _reason(status),
        [("Content-Type", content_type), ("Content-Length", str(len(body))), *headers],
    )
    return [body]


# --- OTLP ----------------------------------------------------------------------------------


class OtlpApp:
    def __init__(
        self,
        store: SpanStore,
        metrics: ServeMetrics,
        limits: receiver.Limits,
        decoder: DecodePool | None = None,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.limits = limits
        self.decoder = decoder or DecodePool(0)

    def __call__(self, environ: Environ, start_response: StartResponse) -> list[bytes]:
        started = time.perf_counter()
        try:
            return self._handle(environ, start_response)
        finally:
            self.metrics.request_seconds.labels("/v1/traces").observe(time.perf_counter() - started)

    def _handle(self, environ: Environ, start_response: StartResponse) -> list[bytes]:
        if environ.get("PATH_INFO") != "/v1/traces":
            return _respond(
                start_response,
                404,
                b"not found: OTLP traces go to /v1/traces\n",
                "text/plain; charset=utf-8",
            )
        if environ.get("REQUEST_METHOD") != "POST":
            return _respond(
                start_response, 405, b"use POST\n", "text/plain; charset=utf-8", [("Allow", "POST")]
            )
        kind = receiver.media_type(environ.get("CONTENT_TYPE"))
        if kind not in (receiver.PROTOBUF, receiver.JSON):
            return self._refuse(
                start_response,
                receiver.JSON,
                receiver.Refused(
                    415,
                    f"unsupported Content-Type {kind or 'none'!r}; "
                    f"use {receiver.PROTOBUF} or {receiver.JSON}",
                ),
            )
        try:
            body = self._read_body(environ)
            payload = receiver.decompress(
                body, environ.get("HTTP_CONTENT_ENCODING"), self.limits.max_decoded_bytes
            )
            self.ingest(payload, "otlp-proto" if kind == receiver.PROTOBUF else "otlp-json")
        except receiver.Refused as refused:
            return self._refuse(start_response, kind, refused)
        return _respond(start_response, 200, receiver.success_body(kind), kind)

    def ingest(self, payload: bytes, fmt: str) -> int:
        """Decode an OTLP payload and return how many spans it held once they are committed.
        Raises :class:`receiver.Refused` (an HTTP status) for the caller to answer in its own
        protocol: OTLP/HTTP here, OTLP/gRPC in :mod:`obskit.serve.grpc_receiver`."""
        spans = self._decode(payload, fmt)
        if len(spans) > self.limits.max_spans_per_request:
            raise receiver.Refused(
                413,
                f"{len(spans)} spans in one request; the limit is "
                f"{self.limits.max_spans_per_request}",
            )
        self.metrics.received.inc(len(spans))
        try:
            self.store.write_rows(spans)
        except StoreOverloaded as err:
            # exporters refused together must not all come back in the same second
            raise receiver.Refused(
                503, f"overloaded: {err}; retry later", retry_after=random.randint(1, 3)
            ) from None
        except StoreClosed:
            raise receiver.Refused(503, "shutting down; retry later", retry_after=5) from None
        self.metrics.stored.inc(len(spans))
        return len(spans)

    def _decode(self, payload: bytes, fmt: str) -> Rows:
        try:
            return self.decoder.rows(payload, fmt)
        except DecodeFailed as err:
            raise receiver.Refused(400, f"cannot decode the OTLP payload: {err}") from None
        except PoolClosed:
            raise receiver.Refused(503, "shutting down; retry later", retry_after=5) from None

    def _read_body(self, environ: Environ) -> bytes:
        limit = self.limits.max_body_bytes
        length_header = environ.get("CONTENT_LENGTH") or ""
        if length_header:
            try:
                length = int(length_header)
            except ValueError:
                raise receiver.Refused(400, "invalid Content-Length") from None
            if length > limit:
                raise receiver.Refused(
                    413, f"body of {length} bytes is over the {limit}-byte limit"
                )
            body = environ["wsgi.input"].read(length)
            if len(body) < length:
                raise receiver.Refused(400, "body shorter than its Content-Length")
            return bytes(body)
        body = environ["wsgi.input"].read(limit + 1)
        if len(body) > limit:
            raise receiver.Refused(413, f"body is over the {limit}-byte limit")
        return bytes(body)

    def _refuse(
        self, start_response: StartResponse, kind: str, refused: receiver.Refused
    ) -> list[bytes]:
        self.metrics.refused.labels(str(refused.status)).inc()
        headers = []
        if refused.retry_after is not None:
            headers.append(("Retry-After", str(refused.retry_after)))
        body = receiver.status_body(
            kind, receiver.GRPC_CODE.get(refused.status, 2), refused.message
        )
        return _respond(start_response, refused.status, body, kind, headers)


# --- Jaeger query API ---------------------------------------------------------------------


class QueryApp:
    def __init__(self, store: SpanStore, metrics: ServeMetrics) -> None:
        self.store = store
        self.metrics = metrics
        self.routes: list[tuple[re.Pattern[str], Callable[..., Any]]] = [
            (re.compile(r"^/api/traces/([^/]+)$"), self.get_trace),
            (re.compile(r"^/api/traces$"), self.find_traces),
            (re.compile(r"^/api/services$"), self.services),
            (re.compile(r"^/api/services/([^/]+)/operations$"), self.service_operations),
            (re.compile(r"^/api/operations$"), self.operations),
            (re.compile(r"^/api/dependencies$"), self.dependencies),
            (re.compile(r"^/api/v3/traces/([^/]+)$"), self.v3_get_trace),
            (re.compile(r"^/api/v3/traces$"), self.v3_find_traces),
            (re.compile(r"^/api/v3/services$"), self.v3_services),
            (re.compile(r"^/api/v3/operations$"), self.v3_operations),
            (re.compile(r"^/metrics$"), self.metrics_page),
            (re.compile(r"^/(?:-/ready|health)?$"), self.ready),
        ]

    def __call__(self, environ: Environ, start_response: StartResponse) -> list[bytes]:
        started = time.perf_counter()
        found = self._route(environ.get("PATH_INFO", ""))
        if found is None:
            return _respond(
                start_response, 404, b"404 page not found\n", "text/plain; charset=utf-8"
            )
        handler, args = found
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return _respond(start_response, 405, b"use GET\n", "text/plain; charset=utf-8")
        params = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        try:
            status, body, content_type = handler(params, *args)
        except HttpError as err:
            status, body, content_type = err.status, err.body, err.content_type
        finally:
            self.metrics.request_seconds.labels(handler.__name__).observe(
                time.perf_counter() - started
            )
        return _respond(start_response, status, body, content_type)

    def _route(self, path: str) -> tuple[Callable[..., Any], list[str]] | None:
        for pattern, handler in self.routes:
            match = pattern.match(path)
            if match:
                return handler, [unquote(group) for group in match.groups()]
        return None

    # -- v1 --

    def get_trace(self, params: dict[str, list[str]], raw_id: str) -> tuple[int, bytes, str]:
        trace = self.store.get_trace_json(_trace_id(raw_id, v3=False))
        if trace is None:
            raise _v1_error(404, "trace not found")
        return _traces_envelope([trace])

    def find_traces(self, params: dict[str, list[str]]) -> tuple[int, bytes, str]:
        if "traceID" in params:
            found, errors = [], []
            for raw in params["traceID"]:
                trace = self.store.get_trace_json(_trace_id(raw, v3=False))
                if trace is None:
                    errors.append({"msg": "trace not found", "traceID": raw})
                else:
                    found.append(trace)
            return _traces_envelope(found, errors or None)
        return _traces_envelope(self.store.find_traces_json(_v1_query(params)))

    def services(self, params: dict[str, list[str]]) -> tuple[int, bytes, str]:
        return _json(envelope(self.store.services()))

    def service_operations(
        self, params: dict[str, list[str]], service: str
    ) -> tuple[int, bytes, str]:
        names = sorted({name for name, _kind in self.store.operations(service)})
        return _json(envelope(names))

    def operations(self, params: dict[str, list[str]]) -> tuple[int, bytes, str]:
        service = _first(params, "service")
        if not service:
            raise _v1_error(400, "parameter 'service' is required")
        return _json(envelope(_operation_objects(self.store.operations(service), params)))

    def dependencies(self, params: dict[str, list[str]]) -> tuple[int, bytes, str]:
        end_ms = _int_param(params, "endTs", time.time_ns() // 1_000_000)
        lookback_ms = _int_param(params, "lookback", DAY_NS // 1_000_000)
        links = self.store.dependencies(end_ms * 1_000_000, lookback_ms * 1_000_000)
        return _json(envelope([{"parent": p, "child": c, "callCount": n} for p, c, n in links]))

    # -- v3 --

    def v3_get_trace(self, params: dict[str, list[str]], raw_id: str) -> tuple[int, bytes, str]:
        from obskit.ingest.otlp_writer import traces_to_otlp

        trace = self.store.get_trace(_trace_id(raw_id, v3=True))
        if trace is None:
            raise _v3_error(404, "trace not found")
        return _json({"result": traces_to_otlp([trace])})

    def v3_find_traces(self, params: dict[str, list[str]]) -> tuple[int, bytes, str]:
        from obskit.ingest.otlp_writer import traces_to_otlp

        traces = self.store.find_traces(_v3_query(params))
        if not traces:
            raise _v3_error(404, "No traces found")
        return _json({"result": traces_to_otlp(traces)})

    def v3_services(self, params: dict[str, list[str]]) -> tuple[int, bytes, str]:
        return _json({"services": self.store.services()})

    def v3_operations(self, params: dict[str, list[str]]) -> tuple[int, bytes, str]:
        service = _first(params, "service")
        if not service:
            raise _v3_error(400, "malformed parameter service: required")
        return _json({"operations": _operation_objects(self.store.operations(service), params)})

    # -- operational --

    def metrics_page(self, params: dict[str, list[str]]) -> tuple[int, bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST

        return 200, self.metrics.exposition(), CONTENT_TYPE_LATEST

    def ready(self, params: dict[str, list[str]]) -> tuple[int, bytes, str]:
        return 200, b"obskit serve: ready\n", "text/plain; charset=utf-8"


# --- helpers -------------------------------------------------------------------------------

_KIND_NAMES = {
    0: "unspecified",
    1: "internal",
    2: "server",
    3: "client",
    4: "producer",
    5: "consumer",
}


def _operation_objects(
    operations: list[tuple[str, int]], params: dict[str, list[str]]
) -> list[dict[str, str]]:
    wanted = _first(params, "spanKind")
    out = []
    for name, kind in operations:
        kind_name = _KIND_NAMES.get(kind, "unspecified")
        kind_name = "internal" if kind_name == "unspecified" else kind_name
        if wanted and wanted != kind_name:
            continue
        out.append({"name": name, "spanKind": kind_name})
    return out


def _traces_envelope(
    traces: list[bytes], errors: list[dict[str, Any]] | None = None
) -> tuple[int, bytes, str]:
    """Jaeger's envelope around stored trace JSON, joined as bytes (no re-encoding)."""
    body = (
        b'{"data":['
        + b",".join(traces)
        + b'],"total":%d,"limit":0,"offset":0,"errors":' % len(traces)
        + orjson.dumps(errors)
        + b"}"
    )
    return 200, body, "application/json"


def _json(data: Any) -> tuple[int, bytes, str]:
    return 200, orjson.dumps(data), "application/json"


def _v1_error(status: int, message: str) -> HttpError:
    body = orjson.dumps(envelope(None, [{"code": status, "msg": message}])) + b"\n"
    return HttpError(status, body)


def _v3_error(status: int, message: str) -> HttpError:
    return HttpError(
        status, orjson.dumps({"error": {"httpCode": status, "message": message}}) + b"\n"
    )


def _trace_id(raw: str, *, v3: bool) -> str:
    if not TRACE_ID.match(raw):
        message = f"cannot parse traceID param: {raw!r} is not a hex trace id of up to 32 digits"
        raise (_v3_error if v3 else _v1_error)(400, message)
    return raw.lower().zfill(32)


def _first(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


def _int_param(params: dict[str, list[str]], name: str, default: int) -> int:
    raw = _first(params, name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise _v1_error(400, f"unable to parse param '{name}': {raw!r} is not an integer") from None


def _duration_param(
    params: dict[str, list[str]], name: str, error: Callable[..., HttpError]
) -> int | None:
    raw = _first(params, name)
    if not raw:
        return None
    try:
        return parse_go_duration_ns(raw)
    except ValueError as err:
        raise error(400, f"unable to parse param '{name}': {err}") from None


def _tags(
    params: dict[str, list[str]], error: Callable[..., HttpError], name: str
) -> dict[str, str]:
    tags: dict[str, str] = {}
    for raw in params.get(name, []):
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise error(400, f"malformed parameter {name}: not a JSON map") from None
        if not isinstance(parsed, dict):
            raise error(400, f"malformed parameter {name}: not a JSON map")
        tags.update({str(k): str(v) for k, v in parsed.items()})
    for raw in params.get("tag", []):
        key, sep, value = raw.partition(":")
        if not sep:
            raise error(400, f"malformed parameter tag: {raw!r} is not key:value")
        tags[key] = value
    return tags


def _limit(raw: str | None, error: Callable[..., HttpError], name: str, default: int) -> int:
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise error(400, f"unable to parse param '{name}': {raw!r} is not an integer") from None
    return max(1, min(value, 1500))


def _v1_query(params: dict[str, list[str]]) -> TraceQuery:
    service = _first(params, "service")
    if not service:
        raise _v1_error(400, "parameter 'service' is required")
    now_us = time.time_ns() // 1000
    start_us = _int_param(params, "start", now_us - 2 * DAY_NS // 1000)
    end_us = _int_param(params, "end", now_us)
    return TraceQuery(
        service=service,
        operation=_first(params, "operation") or None,
        start_ns=start_us * 1000,
        end_ns=end_us * 1000,
        min_duration_ns=_duration_param(params, "minDuration", _v1_error),
        max_duration_ns=_duration_param(params, "maxDuration", _v1_error),
        tags=_tags(params, _v1_error, "tags"),
        limit=_limit(_first(params, "limit"), _v1_error, "limit", 100),
    )


def _v3_param(params: dict[str, list[str]], camel: str, snake: str) -> str | None:
    return _first(params, f"query.{camel}") or _first(params, f"query.{snake}")


def _rfc3339_ns(raw: str, name: str) -> int:
    from datetime import datetime

    text = raw.strip()
    match = re.match(r"^(.*?T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$", text)
    if not match:
        raise _v3_error(400, f"malformed parameter {name}: {raw!r} is not an RFC 3339 time")
    base, fraction, zone = match.groups()
    seconds = datetime.fromisoformat(base + ("+00:00" if zone == "Z" else zone)).timestamp()
    return int(seconds) * 10**9 + int((fraction or "0").ljust(9, "0"))


def _v3_query(params: dict[str, list[str]]) -> TraceQuery:
    service = _v3_param(params, "serviceName", "service_name")
    start = _v3_param(params, "startTimeMin", "start_time_min")
    end = _v3_param(params, "startTimeMax", "start_time_max")
    if not start or not end:
        raise _v3_error(400, "query.startTimeMin and query.startTimeMax are required")
    if not service:
        raise _v3_error(400, "malformed parameter query.service_name: required")
    duration_min = _v3_param(params, "durationMin", "duration_min")
    duration_max = _v3_param(params, "durationMax", "duration_max")
    depth = _v3_param(params, "searchDepth", "search_depth") or _first(params, "query.num_traces")
    return TraceQuery(
        service=service,
        operation=_v3_param(params, "operationName", "operation_name") or None,
        start_ns=_rfc3339_ns(start, "query.start_time_min"),
        end_ns=_rfc3339_ns(end, "query.start_time_max"),
        min_duration_ns=_duration_param(
            {"d": [duration_min]} if duration_min else {}, "d", _v3_error
        ),
        max_duration_ns=_duration_param(
            {"d": [duration_max]} if duration_max else {}, "d", _v3_error
        ),
        tags=_tags(params, _v3_error, "query.attributes"),
        limit=_limit(depth, _v3_error, "query.search_depth", 100),
    )
