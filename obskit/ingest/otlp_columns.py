"""Converting ``spans`` lists of decoded structs all at once, field by field.

Span by span, each field costs a few Python steps; a million spans pay them a million times.
Here each field is checked for all the spans of a batch (several lists, each with its service,
resource and scope) at once (one ``join`` and one regular expression
for all span ids, one ``isdigit`` for all start times) and the spans are built with ``map``.
This covers the common case only: spec encoding (hex ids, integer kinds, decimal-string times)
and no links. For anything else :func:`span_columns` returns None and the caller converts span
by span (:meth:`~obskit.ingest.otlp_json.SpanConverter.span`), which gives identical spans or
names the problem; ``test_fast_reader`` holds the two paths to the same results.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable
from itertools import compress, repeat
from operator import attrgetter, itemgetter, lt
from typing import Any

from obskit.ingest.deferred_attributes import OPEN_LIST, SHORT_TEXT, DeferredAttributes
from obskit.ingest.otlp_json import KINDS, SpanConverter, read_events
from obskit.ingest.values import MAX_TIME_NS, TIME_DIGITS, Bad, expect_str, otlp_status
from obskit.model import Reference, RefType, Span, StatusCode
from obskit.model.columns import ColumnChunk

_TRACE_IDS = attrgetter("traceId")
_SPAN_IDS = attrgetter("spanId")
_PARENTS = attrgetter("parentSpanId")
_NAMES = attrgetter("name")
_KIND_NUMBERS = attrgetter("kind")
_STARTS = attrgetter("startTimeUnixNano")
_ENDS = attrgetter("endTimeUnixNano")
_ATTRIBUTES = attrgetter("attributes")
_EVENTS = attrgetter("events")
_LINKS = attrgetter("links")
_STATUSES = attrgetter("status")
_FIRST = itemgetter(0)
_VIEW: Callable[[Any], memoryview] = memoryview  # typed once: mypy cannot infer map(memoryview, …)
# from this many spans times are parsed with numpy
NUMERIC_FROM = 2048
_LOWER_HEX = b"0123456789abcdef"
_ZERO_ID = b"0" * 16
_CHILD_OF = RefType.CHILD_OF
_NO_PARENT = frozenset({None, ""})
_VALID_KINDS = frozenset(range(len(KINDS)))


# One ``spans`` list and its context: (spans, service, resource, scope).
SpanList = tuple[list[Any], str, Any, str]


class Uncommon(Exception):
    """The batch is not the common case; convert it span by span."""


def span_columns(
    converter: SpanConverter, lists: list[SpanList]
) -> tuple[list[Span], ColumnChunk | None] | None:
    """The spans of several ``spans`` lists (structs of :mod:`obskit.ingest.otlp_structs`,
    each with its service, resource and scope), in order, and their columns for the analysis
    (:mod:`obskit.model.columns`); or None."""
    items = [sp for spans, _, _, _ in lists for sp in spans]
    if not items:
        return [], None
    services = [service for spans, service, _, _ in lists for _ in spans]
    resources = [resource for spans, _, resource, _ in lists for _ in spans]
    scopes = [scope for spans, _, _, scope in lists for _ in spans]
    warned = len(converter.jaeger_warnings)
    try:
        return _convert(converter, items, services, resources, scopes)
    except (Uncommon, Bad, TypeError, ValueError, RecursionError):
        del converter.jaeger_warnings[warned:]  # the span-by-span pass finds them again
        return None


def _convert(
    converter: SpanConverter,
    items: list[Any],
    services: list[str],
    resources: list[Any],
    scopes: list[str],
) -> tuple[list[Span], ColumnChunk]:
    n = len(items)
    if any(map(_LINKS, items)):
        raise Uncommon
    tids = _trace_ids(converter, list(map(_TRACE_IDS, items)))
    sids = list(map(_SPAN_IDS, items))
    id_hex = span_id_bytes(sids)
    starts = _times(list(map(_STARTS, items)))
    ends = _times(list(map(_ENDS, items)))
    if any(map(lt, ends, starts)):
        raise Uncommon
    names = _names(converter, list(map(_NAMES, items)))
    kinds = _kinds(list(map(_KIND_NUMBERS, items)))
    codes, messages = _statuses(list(map(_STATUSES, items)), n)
    parents = list(map(_PARENTS, items))
    has_parent = bytes(map(bool, parents))
    refs, parent_hex = _references(tids, parents, has_parent)
    events_raw = list(map(_EVENTS, items))
    events = [read_events(e) if e else () for e in events_raw] if any(events_raw) else [()] * n
    attrs = _attributes(converter, list(map(_ATTRIBUTES, items)), tids, sids)
    columns = ColumnChunk(sids, id_hex, starts, ends, kinds, has_parent, parent_hex)
    spans = list(
        map(
            Span,
            tids,
            sids,
            names,
            services,
            starts,
            ends,
            kinds,
            codes,
            messages,
            refs,
            attrs,
            resources,
            events,
            repeat((), n),
            scopes,
        )
    )
    return spans, columns


def _trace_ids(converter: SpanConverter, raw: list[Any]) -> list[str]:
    distinct = set(raw)  # usually one: a document per trace
    if len(distinct) == 1:
        return [converter.trace_id(raw[0])] * len(raw)
    normal = {value: converter.trace_id(value) for value in distinct}
    return [normal[value] for value in raw]


def span_id_bytes(ids: list[Any]) -> bytes:
    """The ids, 16 lowercase hex digits each and not all zeros, as 8 bytes each."""
    n = len(ids)
    joined = ",".join(ids)  # TypeError unless all are strings
    # every id 16 characters: then the commas fall every 17 (one inside an id fails below)
    if len(joined) != 17 * n - 1 or joined[16::17] != "," * (n - 1):
        raise Uncommon
    digits = joined.replace(",", "").encode("ascii")  # UnicodeEncodeError is a ValueError
    if len(digits) != 16 * n or digits.translate(None, _LOWER_HEX):
        raise Uncommon
    at = digits.find(_ZERO_ID)
    while at != -1:  # an all-zero id is no id; other runs of zeros may straddle two ids
        if at % 16 == 0:
            raise Uncommon
        at = digits.find(_ZERO_ID, at + 1)
    return binascii.unhexlify(digits)


def _times(raw: list[Any]) -> list[int]:
    """Decimal strings as integers: the common case, all of one length, a column at a time."""
    n = len(raw)
    joined = ",".join(raw)  # TypeError unless all are strings
    digits = joined.replace(",", "").encode("ascii")  # UnicodeEncodeError is a ValueError
    if not (digits.isdigit() and all(raw)):  # bytes.isdigit: ASCII digits only
        raise Uncommon
    width = len(digits) // n
    if n < NUMERIC_FROM or not 0 < width <= 19 or joined[width :: width + 1] != "," * (n - 1):
        if max(map(len, raw)) > TIME_DIGITS:
            raise Uncommon  # out of range: span by span names it
        numbers = list(map(int, raw))
        if max(numbers) > MAX_TIME_NS:
            raise Uncommon
        return numbers
    import numpy as np  # here: the readers of small documents do without it

    # 19 digits fit in 64 bits unsigned
    matrix = np.frombuffer(digits, np.uint8).reshape(n, width) - np.uint8(48)
    values = np.zeros(n, np.uint64)
    for column in matrix.T:
        values *= np.uint64(10)
        values += column
    if width == 19 and values.max() > MAX_TIME_NS:
        raise Uncommon
    return values.tolist()


def _names(converter: SpanConverter, raw: list[Any]) -> list[str]:
    "".join(raw)  # TypeError unless all are strings
    return converter.shared_names(raw)


def _kinds(raw: list[Any]) -> list[Any]:
    if set(map(type, raw)) != {int} or not set(raw) <= _VALID_KINDS:
        raise Uncommon
    return list(map(KINDS.__getitem__, raw))


def _statuses(raw: list[Any], n: int) -> tuple[list[StatusCode], list[str]]:
    codes = [StatusCode.UNSET] * n
    messages = [""] * n
    for i in compress(range(n), raw):  # only the spans with a status
        status = raw[i]
        if type(status) is not dict:
            raise Uncommon
        codes[i] = otlp_status(status.get("code"))
        messages[i] = expect_str(status.get("message"), "status.message")
    return codes, messages


def _references(
    tids: list[str], raw: list[Any], has_parent: bytes
) -> tuple[list[tuple[Any, ...]], bytes]:
    """Each span's references (one CHILD_OF for a parent) and the parent ids as bytes."""
    parents = list(compress(raw, has_parent))
    if len(parents) != len(raw) and not set(p for p in raw if not p) <= _NO_PARENT:
        raise Uncommon
    parent_hex = span_id_bytes(parents) if parents else b""
    # all at once, as 1-tuples from zip; then the few roots get none
    refs: list[tuple[Any, ...]] = list(zip(map(Reference, repeat(_CHILD_OF), tids, raw)))
    at = has_parent.find(0)
    while at != -1:
        refs[at] = ()
        at = has_parent.find(0, at + 1)
    return refs, parent_hex


def _first_bytes(texts: list[Any]) -> list[int]:
    return list(map(_FIRST, map(_VIEW, texts)))


def _attributes(
    converter: SpanConverter, raw: list[Any], tids: list[str], sids: list[str]
) -> list[Any]:
    text = converter.attributes_text
    if not converter.defer_attributes:
        return [text(r, t, s) for r, t, s in zip(raw, tids, sids, strict=True)]
    # the common case, checked for all spans at once: every span has a list of attributes
    if min(map(len, raw)) > SHORT_TEXT and _first_bytes(raw).count(OPEN_LIST) == len(raw):
        return list(map(DeferredAttributes, raw, sids))
    return [
        DeferredAttributes(r, s)
        if len(r) > SHORT_TEXT and memoryview(r)[0] == OPEN_LIST
        else text(r, t, s)
        for r, t, s in zip(raw, tids, sids, strict=True)
    ]
