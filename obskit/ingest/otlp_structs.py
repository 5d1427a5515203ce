"""Reading OTLP-shaped JSON bytes fast: decoded by msgspec straight into the structs below.

A parse into dicts and lists (``orjson.loads``) builds every object of the document, and an
OTLP/JSON span is mostly attributes: two dicts and two strings per attribute. Here msgspec
decodes the document into small structs, and keeps each span's ``attributes`` array as its JSON
text (see :mod:`obskit.ingest.deferred_attributes`): a 1M-span document decodes about four
times faster than ``orjson.loads`` parses it, in half the memory.

Every field the converter reads is typed ``Any`` here, so msgspec never rejects a value the
careful path would accept: :class:`~obskit.ingest.otlp_json.SpanConverter` checks each one with
the same code and messages as for dicts. This reader handles the common shapes only; for
anything else (not an object, an unexpected type at the document, resource or scope level, a
span the converter rejects) :func:`read_bytes` returns None without touching ``out``, and the
caller parses the bytes into dicts, which gives the same spans or the exact error message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
from msgspec import UNSET, Raw, Struct, UnsetType
from msgspec.structs import astuple

from obskit.ingest.assemble import TraceSet
from obskit.ingest.otlp_columns import SpanList, span_columns
from obskit.ingest.otlp_json import SpanConverter, add_jaeger_warnings, partial_warning
from obskit.ingest.values import Bad, expect_dict, expect_str, freeze, key_values, service_name
from obskit.model import Span
from obskit.model.columns import ColumnChunk


# gc=False: decoded fresh, these hold no reference cycles, and a million tracked objects would
# cost each full collection a scan of them all
class _Span(Struct, gc=False):
    # The order of SpanConverter.span's parameters.
    traceId: Any = None  # OTLP's camelCase names, as msgspec matches them
    spanId: Any = None
    parentSpanId: Any = None
    name: Any = None
    kind: Any = None
    startTimeUnixNano: Any = None
    endTimeUnixNano: Any = None
    attributes: Raw = Raw()
    events: Any = None
    links: Any = None
    status: Any = None


class _ScopeSpans(Struct, gc=False):
    scope: Any = UNSET
    instrumentationLibrary: Any = None
    spans: list[_Span] | None = None


class _ResourceSpans(Struct, gc=False):
    resource: Any = None
    scopeSpans: list[_ScopeSpans] | UnsetType | None = UNSET
    instrumentationLibrarySpans: list[_ScopeSpans] | None = None


class _Batches(Struct):
    # Decoded in one pass; the structs of each batch go as soon as its spans exist, so memory
    # holds about one copy of the spans throughout (a decoded span is what its record keeps).
    resourceSpans: list[_ResourceSpans] | UnsetType | None = UNSET
    batches: list[_ResourceSpans] | UnsetType | None = UNSET


class _Document(_Batches):
    data: Any = UNSET  # Jaeger's own JSON: not OTLP-shaped
    result: _Batches | UnsetType | None = UNSET  # Jaeger api_v3
    trace: _Batches | UnsetType | None = UNSET  # Tempo /api/v2/traces
    status: Any = None
    message: Any = None


_DECODER = msgspec.json.Decoder(_Document)
# Spans are converted in batches of whole resources of about this many spans (all of a small
# document at once), a column at a time from COLUMNS_FROM spans, which pays for its fixed cost.
BATCH_SPANS = 4096
COLUMNS_FROM = 32
_FAILURES = (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, ValueError)


def read_bytes(data: bytes, out: TraceSet, formats: frozenset[str] | None = None) -> str | None:
    """Read one OTLP-shaped JSON document (of one of ``formats``, if given) into ``out``;
    returns its format id, or None (and ``out`` untouched) when it must be parsed the careful
    way."""
    try:
        doc = _DECODER.decode(data)
    except _FAILURES:
        return None
    found = _resource_spans(doc)
    if found is None or (formats is not None and found[0] not in formats):
        return None
    fmt, resource_spans = found
    scratch = TraceSet(only=out.only)
    converter = SpanConverter(defer_attributes=b"@jaeger@" not in data)
    try:
        touched = _read_resource_spans(resource_spans or [], converter, scratch)
    except (Bad, RecursionError, *_FAILURES):
        return None
    add_jaeger_warnings(converter.jaeger_warnings, scratch)
    if fmt == "tempo-v2" and doc.status == "PARTIAL":
        warning = partial_warning(doc.message)
        for tid in touched:
            scratch.warn(tid, warning)
    out.absorb(scratch)
    return fmt


def _resource_spans(doc: _Document) -> tuple[str, list[_ResourceSpans] | None] | None:
    """The format and the ``resourceSpans`` list, by the sniffer's order of keys."""
    if doc.resourceSpans is not UNSET:
        return "otlp-json", doc.resourceSpans
    if doc.data is not UNSET:
        return None
    result = doc.result
    if result is not UNSET:
        if not isinstance(result, _Batches):  # null
            return None
        found = result.resourceSpans
        return None if isinstance(found, UnsetType) else ("jaeger-api-v3", found)
    if doc.trace is not UNSET:
        trace = doc.trace or _Batches()
        spans = trace.batches if trace.batches is not UNSET else trace.resourceSpans
        return "tempo-v2", None if spans is UNSET else spans
    if doc.batches is not UNSET:
        return "tempo-v1", doc.batches
    return None


def _read_resource_spans(
    resource_spans: list[_ResourceSpans], converter: SpanConverter, out: TraceSet
) -> dict[str, None]:
    touched: dict[str, None] = {}
    batch: list[SpanList] = []
    size = 0
    for k, rs in enumerate(resource_spans):
        resource_spans[k] = None  # type: ignore[call-overload]  # freed with its batch
        resource = rs.resource
        attrs = (
            key_values(expect_dict(resource, "resource").get("attributes"), "resource.attributes")
            if resource is not None
            else {}
        )
        service = service_name(attrs.get("service.name"))
        res = freeze(attrs)
        scope_spans = (
            rs.scopeSpans if rs.scopeSpans is not UNSET else rs.instrumentationLibrarySpans
        )
        for ss in scope_spans or ():
            scope_obj = ss.instrumentationLibrary if ss.scope is UNSET else ss.scope
            scope = (
                expect_str(expect_dict(scope_obj, "scope").get("name"), "scope.name")
                if scope_obj is not None
                else ""
            )
            items = ss.spans or []
            batch.append((items, service, res, scope))
            size += len(items)
        if size >= BATCH_SPANS:  # the structs of a batch go as soon as its spans exist
            touched.update(out.add_many(*_convert(converter, batch, size)))
            batch, size = [], 0
    touched.update(out.add_many(*_convert(converter, batch, size)))
    return touched


def _convert(
    converter: SpanConverter, batch: list[SpanList], size: int
) -> tuple[list[Span], ColumnChunk | None]:
    converted = span_columns(converter, batch) if size >= COLUMNS_FROM else None
    if converted is not None:
        return converted
    span: Callable[..., Span] = (
        converter.span
    )  # not the common case: span by span, which names any problem
    return [
        span(*astuple(sp), service, res, scope)
        for items, service, res, scope in batch
        for sp in items
    ], None
