"""OTLP protobuf → the trace model, with the opentelemetry-proto classes.

``TracesData`` and ``ExportTraceServiceRequest`` share one wire format (field 1 is
``resource_spans``), so one parser reads OTLP/HTTP bodies, Tempo's protobuf answers and single
messages. ``otlp-proto-framed`` is the Collector ``file`` exporter's ``format: proto`` output: each
message preceded by its length as a 4-byte big-endian integer.
"""

from __future__ import annotations

from typing import Any

from obskit.errors import InputError
from obskit.ingest.assemble import TraceSet
from obskit.ingest.otlp_json import REF_TYPE_ATTRIBUTE
from obskit.ingest.values import (
    REF_TYPES,
    Bad,
    freeze,
    id_bytes,
    otlp_kind,
    otlp_status,
    service_name,
)
from obskit.model import Event, Link, Reference, RefType, Span, TraceWarning
from obskit.model.span import EMPTY


def read_message(data: bytes, out: TraceSet, where: str = "") -> None:
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.trace.v1.trace_pb2 import TracesData

    try:
        message = TracesData.FromString(data)
    except (DecodeError, ValueError, RuntimeError) as err:
        prefix = f"{where}: " if where else ""
        raise InputError(f"{prefix}not a valid OTLP protobuf message: {err}") from None
    try:
        _convert(message, out)
    except Bad as err:
        prefix = f"{where}: " if where else ""
        raise InputError(f"{prefix}{err}") from None


def read_framed(data: bytes, out: TraceSet) -> None:
    offset = 0
    number = 0
    while offset < len(data):
        number += 1
        if offset + 4 > len(data):
            raise InputError(f"message {number}: truncated length prefix at byte {offset}")
        size = int.from_bytes(data[offset : offset + 4], "big")
        start = offset + 4
        if start + size > len(data):
            raise InputError(
                f"message {number}: truncated: {size} bytes announced at byte {offset}, "
                f"{len(data) - start} left"
            )
        read_message(data[start : start + size], out, f"message {number}")
        offset = start + size


def _convert(message: Any, out: TraceSet) -> None:
    warnings: list[tuple[str, str, str]] = []
    for r, rs in enumerate(message.resource_spans):
        attrs = _key_values(rs.resource.attributes, f"resourceSpans[{r}].resource.attributes")
        service = service_name(attrs.get("service.name"))
        resource = freeze(attrs)
        for s, ss in enumerate(rs.scope_spans):
            scope = ss.scope.name
            for k, sp in enumerate(ss.spans):
                where = f"resourceSpans[{r}].scopeSpans[{s}].spans[{k}]"
                try:
                    out.add(_span(sp, service, resource, scope, warnings))
                except Bad as err:
                    raise err.under(where) from None
    by_text: dict[tuple[str, str], list[str]] = {}
    for tid, sid, text in warnings:
        by_text.setdefault((tid, text), []).append(sid)
    for (tid, text), sids in by_text.items():
        out.warn(tid, TraceWarning("backend", f"Jaeger: {text}", tuple(sids)))


def _span(sp: Any, service: str, resource: Any, scope: str, warnings: list[Any]) -> Any:
    tid = id_bytes(sp.trace_id, "traceId", 16)
    sid = id_bytes(sp.span_id, "spanId", 8)
    assert tid is not None and sid is not None
    start = sp.start_time_unix_nano
    end = sp.end_time_unix_nano
    if end < start:
        raise Bad("endTimeUnixNano", f"{end} is before startTimeUnixNano {start}")
    parent = id_bytes(sp.parent_span_id, "parentSpanId", 8, optional=True)
    refs: tuple[Reference, ...] = (Reference(RefType.CHILD_OF, tid, parent),) if parent else ()
    attrs = _key_values(sp.attributes, "attributes") if sp.attributes else {}
    if "@jaeger@warnings" in attrs:
        raw = attrs.pop("@jaeger@warnings")
        for text in raw if isinstance(raw, tuple) else (raw,):
            warnings.append((tid, sid, str(text)))
    attrs.pop("@jaeger@format", None)
    events = tuple(
        Event(ev.time_unix_nano, ev.name, freeze(_key_values(ev.attributes, f"events[{i}]")))
        for i, ev in enumerate(sp.events)
    )
    links: list[Link] = []
    extra: list[Reference] = []
    for i, ln in enumerate(sp.links):
        ltid = id_bytes(ln.trace_id, f"links[{i}].traceId", 16)
        lsid = id_bytes(ln.span_id, f"links[{i}].spanId", 8)
        lattrs = _key_values(ln.attributes, f"links[{i}].attributes")
        word = lattrs.get(REF_TYPE_ATTRIBUTE)
        ref_type = REF_TYPES.get(word) if type(word) is str else None
        if ref_type is not None and len(lattrs) == 1:
            extra.append(Reference(ref_type, ltid, lsid))  # type: ignore[arg-type]  # id_bytes gives str
        else:
            links.append(Link(ltid, lsid, freeze(lattrs)))  # type: ignore[arg-type]  # ids are str
    return Span(
        tid,
        sid,
        sp.name,
        service,
        start,
        end,
        otlp_kind(sp.kind),
        otlp_status(sp.status.code),
        sp.status.message,
        refs + tuple(extra),
        freeze(attrs) if attrs else EMPTY,
        resource,
        events,
        tuple(links),
        scope,
    )


def _key_values(items: Any, field: str) -> dict[str, Any]:
    return {kv.key: _any(kv.value, f"{field}.{kv.key}") for kv in items}


def _any(value: Any, field: str) -> Any:
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return tuple(_any(v, field) for v in value.array_value.values)
    if which == "kvlist_value":
        return _key_values(value.kvlist_value.values, field)
    if which == "string_value_strindex":
        raise Bad(field, "string tables (profiles signal) are not used in traces")
    return getattr(value, which)
