"""OTLP/JSON and everything shaped like it.

* OTLP/JSON ``TracesData`` / ``ExportTraceServiceRequest``: ``{"resourceSpans": [...]}``, hex ids,
  integer enums (the spec), one object or JSON Lines (the Collector ``file`` exporter);
* Jaeger ``api_v3``: ``{"result": {"resourceSpans": [...]}}``; hex ids and integer enums from
  v1.54, base64 ids and enum names before; up to v1.52 one such object per line;
* Tempo ``/api/traces/{id}``: ``{"batches": [...]}`` with base64 ids and enum names, and
  ``instrumentationLibrarySpans`` before Tempo 2.0;
* Tempo ``/api/v2/traces/{id}``: ``{"trace": {"resourceSpans": [...]}, "status": "PARTIAL"?}``.

Ids are accepted as hex of any case and length (left-padded) or as padded base64, span by span.
Links carrying ``opentracing.ref_type`` (how Jaeger stores extra OpenTracing references in OTLP,
and how :mod:`obskit.ingest.otlp_writer` writes them) become references again.
"""

from __future__ import annotations

from typing import Any

from obskit.ingest.assemble import TraceSet, make_span
from obskit.ingest.values import (
    REF_TYPES,
    Bad,
    expect_dict,
    expect_list,
    expect_str,
    freeze,
    key_values,
    otlp_kind,
    otlp_status,
    parent_id,
    service_name,
    show,
    span_id,
    to_int,
    trace_id,
)
from obskit.model import Event, Link, Reference, RefType, StatusCode, TraceWarning
from obskit.model.span import EMPTY

JAEGER_WARNINGS = "@jaeger@warnings"
# Attributes Jaeger adds for itself; they are not the application's.
_JAEGER_PRIVATE = (JAEGER_WARNINGS, "@jaeger@format")
REF_TYPE_ATTRIBUTE = "opentracing.ref_type"

_UNSET = StatusCode.UNSET
_CHILD_OF = RefType.CHILD_OF


def resource_spans_of(doc: Any, fmt: str) -> tuple[list[Any], str]:
    """The ``resourceSpans`` list of one document, and its path for messages."""
    doc = expect_dict(doc, "")
    if fmt == "jaeger-api-v3":
        result = expect_dict(doc.get("result"), "result")
        return expect_list(result.get("resourceSpans"), "result.resourceSpans"), (
            "result.resourceSpans"
        )
    if fmt == "tempo-v2":
        trace = doc.get("trace")
        trace = {} if trace is None else expect_dict(trace, "trace")
        key = "batches" if "batches" in trace else "resourceSpans"
        return expect_list(trace.get(key), f"trace.{key}"), f"trace.{key}"
    key = "batches" if "batches" in doc and "resourceSpans" not in doc else "resourceSpans"
    return expect_list(doc.get(key), key), key


def read_document(doc: Any, fmt: str, out: TraceSet) -> None:
    """Convert one OTLP-shaped document (any of the formats above) into ``out``."""
    try:
        resource_spans, where = resource_spans_of(doc, fmt)
    except Bad as err:
        raise err.under("") from None
    touched = read_resource_spans(resource_spans, where, out)
    if fmt == "tempo-v2" and isinstance(doc, dict) and doc.get("status") == "PARTIAL":
        message = doc.get("message")
        reason = f": {message}" if isinstance(message, str) and message else ""
        for tid in touched:
            out.warn(tid, TraceWarning("truncated", f"Tempo returned a partial trace{reason}"))


def read_resource_spans(resource_spans: list[Any], where: str, out: TraceSet) -> list[str]:
    """Convert a ``resourceSpans`` list; returns the trace ids it touched, in order."""
    touched: dict[str, None] = {}
    jaeger_warnings: list[tuple[str, str, str]] = []
    for r, rs in enumerate(resource_spans):
        rpath = f"{where}[{r}]"
        try:
            rs = expect_dict(rs, "")
            resource = rs.get("resource")
            attrs = (
                key_values(
                    expect_dict(resource, "resource").get("attributes"), "resource.attributes"
                )
                if resource is not None
                else {}
            )
            scope_key = "scopeSpans" if "scopeSpans" in rs else "instrumentationLibrarySpans"
            scope_spans = expect_list(rs.get(scope_key), scope_key)
        except Bad as err:
            raise err.under(rpath) from None
        service = service_name(attrs.get("service.name"))
        res = freeze(attrs)
        for s, ss in enumerate(scope_spans):
            spath = f"{rpath}.{scope_key}[{s}]"
            try:
                ss = expect_dict(ss, "")
                scope_obj = ss.get("scope", ss.get("instrumentationLibrary"))
                scope = (
                    expect_str(expect_dict(scope_obj, "scope").get("name"), "scope.name")
                    if scope_obj is not None
                    else ""
                )
                spans = expect_list(ss.get("spans"), "spans")
            except Bad as err:
                raise err.under(spath) from None
            for k, sp in enumerate(spans):
                try:
                    span = _span(sp, service, res, scope, jaeger_warnings)
                except Bad as err:
                    raise err.under(f"{spath}.spans[{k}]") from None
                out.add(span)
                touched[span.trace_id] = None
    _add_jaeger_warnings(jaeger_warnings, out)
    return list(touched)


def _span(
    sp: Any,
    service: str,
    resource: Any,
    scope: str,
    jaeger_warnings: list[tuple[str, str, str]],
) -> Any:
    if type(sp) is not dict:
        raise Bad("", f"expected a span object, got {show(sp)}")
    get = sp.get
    tid = trace_id(get("traceId"), "traceId")
    sid = span_id(get("spanId"), "spanId")
    start = get("startTimeUnixNano")
    start = 0 if start is None else to_int(start, "startTimeUnixNano")
    end = get("endTimeUnixNano")
    end = 0 if end is None else to_int(end, "endTimeUnixNano")
    if end < start:
        raise Bad("endTimeUnixNano", f"{end} is before startTimeUnixNano {start}")
    name = get("name")
    if type(name) is not str:
        name = expect_str(name, "name")
    kind = otlp_kind(get("kind"))
    status = get("status")
    code = _UNSET
    message = ""
    if status:
        if type(status) is not dict:
            raise Bad("status", f"expected an object, got {show(status)}")
        code = otlp_status(status.get("code"))
        message = expect_str(status.get("message"), "status.message")
    parent = parent_id(get("parentSpanId"))
    refs: tuple[Reference, ...] = (Reference(_CHILD_OF, tid, parent),) if parent else ()
    raw_attrs = get("attributes")
    attrs = key_values(raw_attrs, "attributes") if raw_attrs else EMPTY
    if attrs and ("@jaeger@warnings" in attrs or "@jaeger@format" in attrs):
        attrs = dict(attrs)
        for text in _strings(attrs.get(JAEGER_WARNINGS)):
            jaeger_warnings.append((tid, sid, text))
        for key in _JAEGER_PRIVATE:
            attrs.pop(key, None)
    raw_events = get("events")
    events = _events(raw_events) if raw_events else ()
    raw_links = get("links")
    links: tuple[Link, ...] = ()
    if raw_links:
        links, extra_refs = _links(raw_links)
        if extra_refs:
            refs = refs + extra_refs
    return make_span(
        tid,
        sid,
        name,
        service,
        start,
        end,
        kind,
        code,
        message,
        refs,
        freeze(attrs) if attrs else EMPTY,
        resource,
        events,
        links,
        scope,
    )


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (tuple, list)):
        return [str(v) for v in value]
    return []


def _events(raw: Any) -> tuple[Event, ...]:
    items = expect_list(raw, "events")
    events = []
    for i, ev in enumerate(items):
        field = f"events[{i}]"
        ev = expect_dict(ev, field)
        when = ev.get("timeUnixNano")
        events.append(
            Event(
                0 if when is None else to_int(when, f"{field}.timeUnixNano"),
                expect_str(ev.get("name"), f"{field}.name"),
                freeze(key_values(ev.get("attributes"), f"{field}.attributes")),
            )
        )
    return tuple(events)


def _links(raw: Any) -> tuple[tuple[Link, ...], tuple[Reference, ...]]:
    items = expect_list(raw, "links")
    links: list[Link] = []
    refs: list[Reference] = []
    for i, ln in enumerate(items):
        field = f"links[{i}]"
        ln = expect_dict(ln, field)
        tid = trace_id(ln.get("traceId"), f"{field}.traceId")
        sid = span_id(ln.get("spanId"), f"{field}.spanId")
        attrs = key_values(ln.get("attributes"), f"{field}.attributes")
        word = attrs.get(REF_TYPE_ATTRIBUTE)
        ref_type = REF_TYPES.get(word) if type(word) is str else None
        if ref_type is not None and len(attrs) == 1:
            refs.append(Reference(ref_type, tid, sid))
        else:
            links.append(Link(tid, sid, freeze(attrs)))
    return tuple(links), tuple(refs)


def _add_jaeger_warnings(found: list[tuple[str, str, str]], out: TraceSet) -> None:
    """Jaeger's ``@jaeger@warnings`` (clock skew and friends), one warning per distinct text."""
    by_text: dict[tuple[str, str], list[str]] = {}
    for tid, sid, text in found:
        by_text.setdefault((tid, text), []).append(sid)
    for (tid, text), sids in by_text.items():
        out.warn(tid, TraceWarning("backend", f"Jaeger: {text}", tuple(sids)))
