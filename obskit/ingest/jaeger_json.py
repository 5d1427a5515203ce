"""Jaeger's JSON (the v1 query API and the UI's files) → the trace model.

Accepted shapes (trace-backends.md §1.4): the API envelope ``{"data": [trace, ...], "total",
"limit", "offset", "errors"}``, the UI's "Download Results" ``{"data": [...]}``, ``{"data":
trace}``, a bare list of traces, and one bare trace object ``{traceID, spans, processes}``.

* times are microseconds → ×1000 to nanoseconds;
* ids may be unpadded (Jaeger < 1.16) or 16 characters for a 128-bit id whose high half is zero:
  all are left-padded to 32/16;
* ``span.kind`` → kind; ``otel.status_code`` or ``error=true`` → status; ``otel.scope.name`` →
  scope; those tags are removed from the attributes since they became fields;
* references keep their order; the legacy ``parentSpanID`` becomes a leading ``CHILD_OF``;
* the process (embedded ``process`` or ``processes[processID]``) gives the service and resource;
* span and trace ``warnings`` become ``TraceWarning(code="backend")``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from obskit.ingest.assemble import TraceSet
from obskit.ingest.values import (
    KIND_BY_WORD,
    REF_TYPES,
    Bad,
    expect_dict,
    expect_list,
    expect_str,
    freeze,
    one_line,
    service_name,
    show,
    span_id,
    to_bytes,
    to_float,
    to_signed_int,
    to_time_us,
    trace_id,
)
from obskit.model import Event, Reference, RefType, Span, SpanKind, StatusCode, TraceWarning

# Tags that become span fields and so leave the attributes.
FIELD_TAGS = frozenset(
    {"span.kind", "otel.status_code", "otel.status_description", "otel.scope.name"}
)


def read_document(doc: Any, out: TraceSet) -> None:
    """Convert one Jaeger JSON document into ``out``."""
    if isinstance(doc, list):
        traces, where = doc, ""
    elif isinstance(doc, dict) and "data" in doc:
        data = doc["data"]
        if data is None or data == []:
            raise Bad("", _empty_reason(doc))
        if isinstance(data, dict):  # {"data": trace}
            read_trace_object(data, "data", out)
            return
        if not isinstance(data, list):
            raise Bad("data", f"expected a list of traces, got {show(data)}")
        traces, where = data, "data"
    elif isinstance(doc, dict):
        read_trace_object(doc, "", out)
        return
    else:
        raise Bad("", f"expected a Jaeger trace, got {show(doc)}")
    for i, obj in enumerate(traces):
        read_trace_object(obj, f"{where}[{i}]", out)


def _empty_reason(doc: dict[str, Any]) -> str:
    errors = doc.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        msg = errors[0].get("msg")
        if isinstance(msg, str):
            return f"the Jaeger response holds no traces (Jaeger says: {one_line(msg)})"
    return "the Jaeger response holds no traces"


def read_trace_object(obj: Any, where: str, out: TraceSet) -> None:
    try:
        obj = expect_dict(obj, "")
        spans = expect_list(obj.get("spans"), "spans", optional=False)
        raw_processes = obj.get("processes")
        processes = {} if raw_processes is None else expect_dict(raw_processes, "processes")
    except Bad as err:
        raise err.under(where) from None
    converted_processes: dict[str, tuple[str, Any]] = {}
    span_warnings: dict[tuple[str, str], list[str]] = {}
    touched: dict[str, None] = {}
    for k, sp in enumerate(spans):
        try:
            span = _span(sp, processes, converted_processes, span_warnings)
        except Bad as err:
            raise err.under(f"{where}.spans[{k}]" if where else f"spans[{k}]") from None
        out.add(span)
        touched[span.trace_id] = None
    for (tid, text), sids in span_warnings.items():
        out.warn(tid, TraceWarning("backend", f"Jaeger: {text}", tuple(sids)))
    try:
        trace_warnings = expect_list(obj.get("warnings"), "warnings")
    except Bad as err:
        raise err.under(where) from None
    for text in trace_warnings:
        for tid in touched:
            out.warn(tid, TraceWarning("backend", f"Jaeger: {text}"))


def _process(
    sp: dict[str, Any], processes: dict[str, Any], cache: dict[str, tuple[str, Any]]
) -> tuple[str, Any]:
    embedded = sp.get("process")
    if embedded is not None:
        return convert_process(embedded, "process")
    pid = sp.get("processID")
    if type(pid) is not str:
        raise Bad("processID", f"expected a string, got {show(pid)}")
    found = cache.get(pid)
    if found is None:
        if pid not in processes:
            raise Bad("processID", f"{show(pid)} is not in the trace's processes")
        found = cache[pid] = convert_process(processes[pid], f"processes.{pid}")
    return found


def convert_process(proc: Any, field: str) -> tuple[str, Any]:
    proc = expect_dict(proc, field)
    name = expect_str(proc.get("serviceName"), f"{field}.serviceName")
    service = service_name(name)
    resource = {"service.name": service}
    resource.update(read_tags(proc.get("tags"), f"{field}.tags"))
    return service, freeze(resource)


def _span(
    sp: Any,
    processes: dict[str, Any],
    cache: dict[str, tuple[str, Any]],
    warnings: dict[tuple[str, str], list[str]],
) -> Any:
    if type(sp) is not dict:
        raise Bad("", f"expected a span object, got {show(sp)}")
    get = sp.get
    tid = trace_id(get("traceID"), "traceID")
    sid = span_id(get("spanID"), "spanID")
    name = expect_str(get("operationName"), "operationName")
    start_us = to_time_us(get("startTime", 0), "startTime")
    duration_us = get("duration", 0)
    if type(duration_us) is int and duration_us < 0:
        raise Bad("duration", f"is negative ({duration_us})")
    duration_us = to_time_us(duration_us, "duration", start_us)
    service, resource = _process(sp, processes, cache)
    tags = read_tags(get("tags"), "tags")
    refs = _references(get("references"), get("parentSpanID"), tid)
    kind, status, message, scope = SpanKind.UNSPECIFIED, StatusCode.UNSET, "", ""
    if tags:
        kind, status, message, scope = span_fields(tags)
        tags = without_fields(tags, status)
    logs = get("logs")
    events = read_logs(logs) if logs else ()
    for text in expect_list(get("warnings"), "warnings"):
        warnings.setdefault((tid, str(text)), []).append(sid)
    start = start_us * 1000
    return Span(
        tid,
        sid,
        name,
        service,
        start,
        start + duration_us * 1000,
        kind,
        status,
        message,
        refs,
        freeze(tags),
        resource,
        events,
        (),
        scope,
    )


def span_fields(tags: Mapping[str, Any]) -> tuple[SpanKind, StatusCode, str, str]:
    """Kind, status, status message and scope, from the tags that carry them."""
    kind = SpanKind.UNSPECIFIED
    word = tags.get("span.kind")
    if word is not None:
        kind = KIND_BY_WORD.get(str(word).lower(), SpanKind.UNSPECIFIED)
    status, message = _status(tags)
    scope_name = tags.get("otel.scope.name")
    return kind, status, message, scope_name if isinstance(scope_name, str) else ""


def without_fields(tags: dict[str, Any], status: StatusCode) -> dict[str, Any]:
    """The tags left once those that became span fields are gone (``error=true`` too, when
    the status says it)."""
    if FIELD_TAGS.intersection(tags) or status is StatusCode.ERROR:
        tags = {k: v for k, v in tags.items() if k not in FIELD_TAGS}
        if status is StatusCode.ERROR and tags.get("error") is True:
            del tags["error"]
    return tags


def _status(tags: Mapping[str, Any]) -> tuple[StatusCode, str]:
    code = tags.get("otel.status_code")
    description = tags.get("otel.status_description")
    message = description if isinstance(description, str) else ""
    if isinstance(code, str):
        upper = code.upper()
        if upper == "ERROR":
            return StatusCode.ERROR, message
        if upper == "OK":
            return StatusCode.OK, message
    if tags.get("error") is True:
        return StatusCode.ERROR, message
    return StatusCode.UNSET, message


def _references(raw: Any, legacy_parent: Any, tid: str) -> tuple[Reference, ...]:
    items = expect_list(raw, "references")
    refs: list[Reference] = []
    for i, ref in enumerate(items):
        field = f"references[{i}]"
        ref = expect_dict(ref, field)
        word = ref.get("refType", "CHILD_OF")
        ref_type = REF_TYPES.get(word) if type(word) is str else None
        if ref_type is None:
            ref_type = REF_TYPES.get(word.upper()) if type(word) is str else None
        if ref_type is None:
            raise Bad(f"{field}.refType", f"expected CHILD_OF or FOLLOWS_FROM, got {show(word)}")
        ref_tid = ref.get("traceID")
        refs.append(
            Reference(
                ref_type,
                tid if ref_tid is None else trace_id(ref_tid, f"{field}.traceID"),
                span_id(ref.get("spanID"), f"{field}.spanID"),
            )
        )
    if legacy_parent not in (None, "", "0", 0):
        parent = span_id(legacy_parent, "parentSpanID")
        if parent != "0" * 16 and not any(
            r.span_id == parent and r.ref_type is RefType.CHILD_OF for r in refs
        ):
            refs.insert(0, Reference(RefType.CHILD_OF, tid, parent))
    return tuple(refs)


def read_logs(raw: Any) -> tuple[Event, ...]:
    events = []
    for i, log in enumerate(expect_list(raw, "logs")):
        field = f"logs[{i}]"
        log = expect_dict(log, field)
        when = to_time_us(log.get("timestamp", 0), f"{field}.timestamp") * 1000
        fields = read_tags(log.get("fields"), f"{field}.fields")
        name = fields.pop("event", "")
        events.append(Event(when, name if isinstance(name, str) else str(name), freeze(fields)))
    return tuple(events)


def read_tags(raw: Any, field: str) -> dict[str, Any]:
    """Jaeger ``[{key, type, value}]`` → dict, decoding each value by its declared type."""
    if raw is None or raw == []:
        return {}
    items = expect_list(raw, field)
    out: dict[str, Any] = {}
    for i, tag in enumerate(items):
        where = f"{field}[{i}]"
        if type(tag) is not dict:
            raise Bad(where, f"expected a tag object, got {show(tag)}")
        key = tag.get("key")
        if type(key) is not str:
            raise Bad(f"{where}.key", f"expected a string, got {show(key)}")
        out[key] = _tag_value(tag.get("type"), tag.get("value"), f"{where}.value")
    return out


def _tag_value(vtype: Any, value: Any, field: str) -> Any:
    vtype = vtype.lower() if type(vtype) is str else vtype
    if vtype == "string":
        return expect_str(value, field)
    if vtype == "bool":
        if type(value) is bool:
            return value
        if value in ("true", "false"):  # old Jaeger data
            return value == "true"
        raise Bad(field, f"expected true or false, got {show(value)}")
    if vtype == "int64":
        return to_signed_int(value, field)  # beyond 2^53 it is a string
    if vtype == "float64":
        return to_float(value, field)
    if vtype == "binary":
        return to_bytes(value, field)
    if vtype is None and (value is None or type(value) in (str, int, float, bool)):
        return value
    raise Bad(field.rsplit(".", 1)[0] + ".type", f"unknown tag type {show(vtype)}")
