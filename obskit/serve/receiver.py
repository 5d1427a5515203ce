"""OTLP/HTTP trace receiver: ``POST /v1/traces`` as the OTLP specification describes it.

Status codes (OTLP/HTTP spec, "Failures"): 200 with an ``ExportTraceServiceResponse`` (and
``partial_success`` when spans were rejected), 400 for a payload that cannot be decoded, 413
for a body over the limit, 415 for a content type or encoding we do not speak, 503 with
``Retry-After`` when the store is overloaded. Error bodies are ``google.rpc.Status`` in the
request's encoding. A 200 is sent only after the spans are committed.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import orjson

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 8 << 20  # what we read off the wire
    max_decoded_bytes: int = 64 << 20  # what a compressed body may grow to
    max_spans_per_request: int = 100_000


class Refused(Exception):
    """The request is refused with ``status``; ``message`` goes in the google.rpc.Status."""

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def decompress(body: bytes, encoding: str | None, limit: int) -> bytes:
    """Undo ``Content-Encoding``, never producing more than ``limit`` bytes (gzip bombs)."""
    encoding = (encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise Refused(415, f"unsupported Content-Encoding {encoding!r}; use gzip or none")
    wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as err:
        raise Refused(400, f"body is not valid {encoding}: {err}") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise Refused(413, f"decompressed body is over the {limit}-byte limit")
    if not inflater.eof:
        raise Refused(400, f"{encoding} body is truncated")
    return out


def status_body(kind: str, code: int, message: str) -> bytes:
    """A ``google.rpc.Status`` (gRPC code in ``code``) in the request's encoding."""
    if kind == PROTOBUF:
        from google.rpc import status_pb2

        return status_pb2.Status(code=code, message=message).SerializeToString()
    return orjson.dumps({"code": code, "message": message})


def success_body(kind: str, rejected: int = 0, message: str = "") -> bytes:
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

    response = trace_service_pb2.ExportTraceServiceResponse()
    if rejected:
        response.partial_success.rejected_spans = rejected
        response.partial_success.error_message = message
    if kind == PROTOBUF:
        return response.SerializeToString()
    if rejected:
        return orjson.dumps(
            {"partialSuccess": {"rejectedSpans": str(rejected), "errorMessage": message}}
        )
    return b"{}"


# gRPC status codes that match our HTTP answers (for the google.rpc.Status body)
GRPC_CODE = {400: 3, 413: 8, 415: 3, 429: 8, 503: 14}
