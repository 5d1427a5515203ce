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

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import orjson
from msgspec import Raw

from obskit.ingest.assemble import TraceSet
from obskit.ingest.deferred_attributes import OPEN_LIST, SHORT_TEXT, DeferredAttributes
from obskit.ingest.values import (
    HEX16,
    REF_TYPES,
    ZERO16,
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
from obskit.model import (
    Event,
    Link,
    Reference,
    RefType,
    Span,
    SpanKind,
    StatusCode,
    TraceWarning,
)
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
        warning = partial_warning(doc.get("message"))
        for tid in touched:
            out.warn(tid, warning)


def partial_warning(message: Any) -> TraceWarning:
    """Tempo's ``"status": "PARTIAL"``: the trace hit a limit and is cut off."""
    reason = f": {message}" if isinstance(message, str) and message else ""
    return TraceWarning("truncated", f"Tempo returned a partial trace{reason}")


def read_resource_spans(resource_spans: list[Any], where: str, out: TraceSet) -> list[str]:
    """Convert a ``resourceSpans`` list; returns the trace ids it touched, in order."""
    touched: dict[str, None] = {}
    convert = SpanConverter()
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
                converted = convert.spans(spans, service, res, scope)
            except Bad as err:
                raise err.under(spath) from None
            touched.update(out.add_many(converted))
    add_jaeger_warnings(convert.jaeger_warnings, out)
    return list(touched)


KINDS = tuple(SpanKind)  # OTLP kind number -> SpanKind
assert all(int(kind) == number for number, kind in enumerate(KINDS))
# Caches share repeated strings (names, attribute keys and values) and integers between
# spans: a 1M-span trace holds a few hundred distinct names but would otherwise hold a
# million copies of each. Values unique per span (paths, ids) fill a key's cache to its cap,
# after which that key stops caching.
_NAME_CACHE = 65_536
_KEY_CACHE = 4_096
_VALUE_CACHE = 1_024


class SpanConverter:
    """Converts OTLP/JSON span objects into :class:`~obskit.model.Span`, for one document.

    The common case (spec encoding: hex ids, integer enums, decimal-string times, string and
    integer attributes) is handled inline; anything else goes through the careful helpers of
    :mod:`obskit.ingest.values`, which also raise the messages. Both give identical spans.
    Jaeger's own warnings found in attributes collect in ``jaeger_warnings``.
    """

    __slots__ = ("_ints", "_keys", "_names", "_trace_ids", "defer_attributes", "jaeger_warnings")

    def __init__(self, *, defer_attributes: bool = False) -> None:
        # Only when the input holds no Jaeger private attribute keys (which must be seen now).
        self.defer_attributes = defer_attributes
        self.jaeger_warnings: list[tuple[str, str, str]] = []
        self._trace_ids: dict[str, str] = {}
        self._names: dict[str, str] = {}
        self._keys: dict[str, tuple[str, dict[str, str]]] = {}
        self._ints: dict[str, int] = {}

    def spans(self, items: list[Any], service: str, resource: Any, scope: str) -> list[Span]:
        """Convert a ``spans`` list of dicts; a problem raises :class:`Bad` under ``spans[k]``."""
        converted: list[Span] = []
        append, span = converted.append, self.span
        for k, sp in enumerate(items):
            try:
                if type(sp) is not dict:
                    raise Bad("", f"expected a span object, got {show(sp)}")
                get = sp.get
                append(
                    span(
                        get("traceId"),
                        get("spanId"),
                        get("parentSpanId"),
                        get("name"),
                        get("kind"),
                        get("startTimeUnixNano"),
                        get("endTimeUnixNano"),
                        get("attributes"),
                        get("events"),
                        get("links"),
                        get("status"),
                        service,
                        resource,
                        scope,
                    )
                )
            except Bad as err:
                raise err.under(f"spans[{k}]") from None
        return converted

    def span(
        self,
        raw_tid: Any,
        sid: Any,
        parent: Any,
        name: Any,
        kind: Any,
        start: Any,
        end: Any,
        raw_attrs: Any,
        raw_events: Any,
        raw_links: Any,
        status: Any,
        service: str,
        resource: Any,
        scope: str,
    ) -> Span:
        """One span from its OTLP/JSON fields (parsed JSON values; ``raw_attrs`` may also be
        the attributes' undecoded JSON text, see :class:`DeferredAttributes`)."""
        tid = self._trace_ids.get(raw_tid) if type(raw_tid) is str else None
        if tid is None:
            tid = self.trace_id(raw_tid)
        if type(sid) is not str or not HEX16(sid) or sid == ZERO16:
            sid = span_id(sid, "spanId")
        if type(start) is str and start.isdigit() and start.isascii():
            start = int(start)
        else:
            start = 0 if start is None else to_int(start, "startTimeUnixNano")
        if type(end) is str and end.isdigit() and end.isascii():
            end = int(end)
        else:
            end = 0 if end is None else to_int(end, "endTimeUnixNano")
        if end < start:
            raise Bad("endTimeUnixNano", f"{end} is before startTimeUnixNano {start}")
        if type(name) is not str:
            name = expect_str(name, "name")
        name = self._names.get(name) or self._name(name)
        kind = KINDS[kind] if type(kind) is int and 0 <= kind <= 5 else otlp_kind(kind)
        code = _UNSET
        message = ""
        if status:
            if type(status) is not dict:
                raise Bad("status", f"expected an object, got {show(status)}")
            code = otlp_status(status.get("code"))
            message = expect_str(status.get("message"), "status.message")
        if parent is None or parent == "":
            refs: tuple[Reference, ...] = ()
        else:
            if type(parent) is not str or not HEX16(parent):
                parent = parent_id(parent) or ZERO16
            refs = () if parent == ZERO16 else (Reference(_CHILD_OF, tid, parent),)
        if type(raw_attrs) is Raw:
            attrs = self.attributes_text(raw_attrs, tid, sid)
        else:
            attrs = self._own_attributes(raw_attrs, tid, sid) if raw_attrs else EMPTY
        events = read_events(raw_events) if raw_events else ()
        links: tuple[Link, ...] = ()
        if raw_links:
            links, extra_refs = _links(raw_links)
            if extra_refs:
                refs = refs + extra_refs
        return Span(
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
            attrs,
            resource,
            events,
            links,
            scope,
        )

    def attributes_text(self, raw: Raw, tid: str, sid: str) -> Mapping[str, Any]:
        """Attributes still as JSON text (a view into the input): kept that way until someone
        reads them (see :mod:`obskit.ingest.deferred_attributes`), unless they are short
        ("[]", "null"), not a list, or Jaeger's private keys may be among them (which become
        warnings now)."""
        text = memoryview(raw)
        if self.defer_attributes and len(text) > SHORT_TEXT and text[0] == OPEN_LIST:
            return DeferredAttributes(raw, sid)  # type: ignore[return-value]  # Mapping.register'd
        try:
            items = orjson.loads(text) if text else None
        except orjson.JSONDecodeError as err:
            raise Bad("attributes", f"invalid JSON: {err}") from None
        return self._own_attributes(items, tid, sid) if items else EMPTY

    def _own_attributes(self, items: Any, tid: str, sid: str) -> Mapping[str, Any]:
        """The span's attributes without Jaeger's private keys, which become warnings."""
        attrs = self._attributes(items)
        if not attrs:
            return EMPTY
        if "@jaeger@warnings" in attrs or "@jaeger@format" in attrs:
            for text in _strings(attrs.get(JAEGER_WARNINGS)):
                self.jaeger_warnings.append((tid, sid, text))
            for key in _JAEGER_PRIVATE:
                attrs.pop(key, None)
        return MappingProxyType(attrs) if attrs else EMPTY

    def trace_id(self, raw: Any) -> str:
        """The normal form of a ``traceId`` value (cached per document)."""
        if type(raw) is str:
            tid = self._trace_ids.get(raw)
            if tid is not None:
                return tid
        tid = trace_id(raw, "traceId")
        if type(raw) is str and len(self._trace_ids) < _NAME_CACHE:
            self._trace_ids[raw] = tid
        return tid

    def shared_names(self, names: list[str]) -> list[str]:
        """The names, each repeated one shared (see the caches above)."""
        cache = self._names
        if len(cache) >= _NAME_CACHE:
            return names
        return list(map(cache.setdefault, names, names))

    def _name(self, name: str) -> str:
        if len(self._names) < _NAME_CACHE:
            self._names[name] = name
        return name

    def _attributes(self, items: Any) -> dict[str, Any]:
        """``key_values(items, "attributes")``, sharing repeated keys and values."""
        if type(items) is not list:
            return key_values(items, "attributes")
        out: dict[str, Any] = {}
        keys, ints = self._keys, self._ints
        for item in items:
            if type(item) is not dict:
                return key_values(items, "attributes")  # raises the message
            key = item.get("key")
            if type(key) is not str:
                return key_values(items, "attributes")  # raises the message
            entry = keys.get(key)
            if entry is None:
                entry = self._key(key)
            key, cache = entry
            raw = item.get("value")
            if type(raw) is dict and len(raw) == 1:
                value = raw.get("stringValue")
                if type(value) is str:
                    shared = cache.get(value)
                    if shared is None:
                        shared = value
                        if len(cache) < _VALUE_CACHE:
                            cache[value] = value
                    out[key] = shared
                    continue
                value = raw.get("intValue")
                if type(value) is str:
                    number = ints.get(value)
                    if number is None:
                        if not (value.isdigit() and value.isascii()):
                            return key_values(items, "attributes")  # signed, or the message
                        number = int(value)
                        if len(ints) < _VALUE_CACHE:
                            ints[value] = number
                    out[key] = number
                    continue
            if raw is not None:
                # other value types (and the messages) the careful way, for the whole list
                return key_values(items, "attributes")
            out[key] = None
        return out

    def _key(self, key: str) -> tuple[str, dict[str, str]]:
        entry: tuple[str, dict[str, str]] = (key, {})
        if len(self._keys) < _KEY_CACHE:
            self._keys[key] = entry
        return entry


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (tuple, list)):
        return [str(v) for v in value]
    return []


def read_events(raw: Any) -> tuple[Event, ...]:
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


def add_jaeger_warnings(found: list[tuple[str, str, str]], out: TraceSet) -> None:
    """Jaeger's ``@jaeger@warnings`` (clock skew and friends), one warning per distinct text."""
    by_text: dict[tuple[str, str], list[str]] = {}
    for tid, sid, text in found:
        by_text.setdefault((tid, text), []).append(sid)
    for (tid, text), sids in by_text.items():
        out.warn(tid, TraceWarning("backend", f"Jaeger: {text}", tuple(sids)))
