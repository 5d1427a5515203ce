"""Reading big Jaeger JSON fast (the v1 API's ``{"data": [trace, ...]}``, the UI's download of
it, a bare trace object): decoded by msgspec into the structs below, converted a column at a
time, tags kept as their JSON text until first read.

Tags are most of a Jaeger span's bytes, and a few of them become span fields. ``span.kind`` and
``otel.scope.name``, on nearly every span, are found for a whole batch at once in its tag texts
joined, in the one form Jaeger writes them (``{"key":"span.kind","type":"string","value":
"client"}``); a mention of either key in any other form is not the common case. The few spans
that mention ``otel.status_*`` or ``error`` have their tags decoded by the careful path's code
right away. All other tags stay text (:class:`DeferredTags`), decoded by that same code on
first use, where a malformed one is reported.

Like :mod:`obskit.ingest.otlp_structs`, this handles the common shapes only: lowercase 16-digit
span ids, integer times, no reference but one ``CHILD_OF`` in the same trace, processes by
``processID``, no warnings, no legacy ``parentSpanID``. For anything else :func:`read_bytes`
returns None, touching nothing, and the caller parses the bytes into dicts for
:mod:`obskit.ingest.jaeger_json`, which gives the same spans or names the problem;
``tests/ingest/test_jaeger_fast_reader.py`` holds the two paths to the same results.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate, compress, repeat
from operator import add, attrgetter, itemgetter
from typing import Annotated, Any, Literal

import msgspec
import orjson
from msgspec import Raw, Struct

from obskit.ingest.assemble import TraceSet
from obskit.ingest.deferred_attributes import OPEN_LIST, SHORT_TEXT, Buffer, DeferredAttributes
from obskit.ingest.jaeger_json import (
    FIELD_TAGS,
    convert_process,
    read_logs,
    read_tags,
    span_fields,
    without_fields,
)
from obskit.ingest.otlp_columns import Uncommon, span_id_bytes
from obskit.ingest.values import (
    INT64_MAX,
    INT64_MIN,
    KIND_BY_WORD,
    MAX_TIME_US,
    Bad,
    freeze,
    trace_id,
)
from obskit.model import Reference, RefType, Span, SpanKind, StatusCode
from obskit.model.columns import ColumnChunk
from obskit.model.span import EMPTY


class _Reference(Struct, gc=False):
    refType: Literal["CHILD_OF", "FOLLOWS_FROM"]  # shared strings, not one per span
    traceID: str
    spanID: str


# gc=False: decoded fresh, these hold no reference cycles (see otlp_structs)
class _Span(Struct, gc=False):
    traceID: str
    spanID: str
    operationName: str
    startTime: int
    duration: int
    references: list[_Reference] | None = None
    tags: Raw = Raw()
    logs: Any = None
    processID: str | None = None
    process: Any = None
    warnings: Any = None
    parentSpanID: Any = None


class _Trace(Struct, gc=False):
    spans: list[_Span]
    processes: dict[str, Any] | None = None
    warnings: Any = None


class _Response(Struct):
    data: list[_Trace]


_RESPONSE = msgspec.json.Decoder(_Response)
_TRACE = msgspec.json.Decoder(_Trace)
_FAILURES = (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, ValueError)
# Spans are converted in batches of this many; the structs of each go once it is converted.
BATCH_SPANS = 4096

_TRACE_IDS, _SPAN_IDS, _NAMES = (
    attrgetter("traceID"),
    attrgetter("spanID"),
    attrgetter("operationName"),
)
_STARTS, _DURATIONS, _REFERENCES = (
    attrgetter("startTime"),
    attrgetter("duration"),
    attrgetter("references"),
)
_TAGS, _LOGS, _PROCESS_IDS = attrgetter("tags"), attrgetter("logs"), attrgetter("processID")
_UNCOMMON = attrgetter("process", "warnings", "parentSpanID")  # fmt: skip
_CHILD_OF = RefType.CHILD_OF

# The two field tags most spans have, as Jaeger writes them (values without escapes).
_KIND_VALUE = re.compile(rb'\{"key":"span\.kind","type":"string","value":"([^"\\]*)"')
_SCOPE_VALUE = re.compile(rb'\{"key":"otel\.scope\.name","type":"string","value":"([^"\\]*)"')
# Both, one after the other (how obskit serve writes them), then the rest of the span's text up
# to the NUL after it: no two matches in one span.
_KIND_AND_SCOPE = re.compile(
    rb'\{"key":"span\.kind","type":"string","value":"([^"\\]*)"\},'
    rb'\{"key":"otel\.scope\.name","type":"string","value":"([^"\\]*)"\}[^\x00]*\x00'
)
_KIND_OF: dict[bytes, SpanKind] = {}
_REF_TYPES, _REF_TRACE_IDS = attrgetter("refType"), attrgetter("traceID")
_REF_SPAN_IDS = attrgetter("spanID")
_FIRST, _SECOND = itemgetter(0), itemgetter(1)
# Up to this many roots in a batch are put in place one by one (each moves the ids after it).
_FEW_ROOTS = 32


def read_bytes(data: bytes, out: TraceSet) -> str | None:
    """Read one Jaeger JSON document into ``out``; returns ``"jaeger-json"``, or None (and
    ``out`` untouched) when it must be parsed the careful way."""
    try:
        if data.lstrip()[:8].startswith(b'{"data"'):
            traces = _RESPONSE.decode(data).data
        else:
            traces = [_TRACE.decode(data)]
    except _FAILURES:
        return None
    if not traces:
        return None  # the careful path says why there is nothing (Jaeger's error message)
    scratch = TraceSet(only=out.only)
    try:
        for trace in traces:
            _read_trace(trace, scratch)
    except (Uncommon, Bad, TypeError, KeyError, RecursionError, *_FAILURES):
        return None
    out.absorb(scratch)
    return "jaeger-json"


def _read_trace(trace: _Trace, out: TraceSet) -> None:
    if trace.warnings:
        raise Uncommon
    processes = {
        pid: convert_process(proc, f"processes.{pid}")
        for pid, proc in (trace.processes or {}).items()
    }
    spans: list[_Span | None] = trace.spans  # type: ignore[assignment]  # emptied as it goes
    for at in range(0, len(spans), BATCH_SPANS):
        batch: list[_Span] = spans[at : at + BATCH_SPANS]  # type: ignore[assignment]  # no None yet
        spans[at : at + BATCH_SPANS] = repeat(None, len(batch))  # its structs go once converted
        out.add_many(*_convert(batch, processes))


def _convert(
    items: list[_Span], processes: dict[str, tuple[str, Any]]
) -> tuple[list[Span], ColumnChunk]:
    n = len(items)
    if any(map(any, map(_UNCOMMON, items))):
        raise Uncommon
    raw_tids = list(map(_TRACE_IDS, items))
    tids = _trace_ids(raw_tids)
    sids = list(map(_SPAN_IDS, items))
    id_hex = span_id_bytes(sids)
    starts, ends = _times(list(map(_STARTS, items)), list(map(_DURATIONS, items)))
    shared: dict[str, str] = {}
    raw_names = list(map(_NAMES, items))
    names = list(map(shared.setdefault, raw_names, raw_names))  # one string per distinct name
    refs, has_parent, parent_hex = _references(list(map(_REFERENCES, items)), raw_tids, tids)
    found = list(map(processes.__getitem__, map(_PROCESS_IDS, items)))  # KeyError, TypeError
    services, resources = list(map(_FIRST, found)), list(map(_SECOND, found))
    texts = list(map(_TAGS, items))
    found_fields = _Fields(texts)
    kinds, codes, messages, scopes = _fields(found_fields, texts)
    attributes = _attributes(found_fields, texts, sids, codes)
    logs = list(map(_LOGS, items))
    events = [read_logs(log) if log else () for log in logs] if any(logs) else [()] * n
    columns = ColumnChunk(sids, id_hex, starts, ends, kinds, has_parent, parent_hex)
    spans = list(
        map(
            Span, tids, sids, names, services, starts, ends, kinds, codes, messages, refs,
            attributes, resources, events, repeat((), n), scopes,
        )
    )  # fmt: skip
    return spans, columns


def _times(starts_us: list[int], durations_us: list[int]) -> tuple[list[int], list[int]]:
    """Start and end times in nanoseconds, a column at a time, when all are within what the
    model holds (the careful path names any other)."""
    import numpy as np  # here: the readers of small documents do without it

    try:
        starts, durations = np.array(starts_us, np.int64), np.array(durations_us, np.int64)
    except OverflowError:
        raise Uncommon from None
    if min(starts.min(), durations.min()) < 0 or max(starts.max(), durations.max()) > MAX_TIME_US:
        raise Uncommon
    ends = starts + durations  # no overflow: each is at most MAX_TIME_US
    if ends.max() > MAX_TIME_US:
        raise Uncommon
    return (starts * 1000).tolist(), (ends * 1000).tolist()


def _trace_ids(raw: list[str]) -> list[str]:
    distinct = set(raw)  # usually one: a document per trace
    if len(distinct) == 1:
        return [trace_id(raw[0], "traceID")] * len(raw)
    normal = {value: trace_id(value, "traceID") for value in distinct}
    return [normal[value] for value in raw]


def _references(
    raw: list[list[_Reference] | None], raw_tids: list[str], tids: list[str]
) -> tuple[list[tuple[Reference, ...]], bytes, bytes]:
    """Each span's references (none, or its parent in the same trace), which spans have a
    parent, and the parent ids as 8 bytes each; checked for all spans at once."""
    has_parent = bytes(map(bool, raw))
    with_refs: list[list[_Reference]] = list(compress(raw, has_parent))  # type: ignore[arg-type]  # the empty ones are out
    refs = list(map(_FIRST, with_refs))
    if refs and (
        set(map(len, with_refs)) != {1}
        or set(map(_REF_TYPES, refs)) != {"CHILD_OF"}
        or list(map(_REF_TRACE_IDS, refs)) != list(compress(raw_tids, has_parent))
    ):
        raise Uncommon
    parents = list(map(_REF_SPAN_IDS, refs))
    parent_hex = span_id_bytes(parents) if parents else b""
    every = _with_roots(parents, has_parent)
    # all at once, as 1-tuples from zip; then the few roots get none
    references: list[tuple[Reference, ...]] = list(
        zip(map(Reference, repeat(_CHILD_OF), tids, every))  # type: ignore[arg-type]  # roots get () below
    )
    at = has_parent.find(0)
    while at != -1:
        references[at] = ()
        at = has_parent.find(0, at + 1)
    return references, has_parent, parent_hex


def _with_roots(parents: list[str], has_parent: bytes) -> list[str | None]:
    """The parent id of each span, None for a root: the few roots put in their places."""
    roots = len(has_parent) - len(parents)
    if roots > _FEW_ROOTS:
        found = iter(parents)
        return [next(found) if has else None for has in has_parent]
    every: list[str | None] = list(parents)
    at = has_parent.find(0)
    while at != -1:  # in order: the ones before each are in place already
        every.insert(at, None)
        at = has_parent.find(0, at + 1)
    return every


class _Fields:
    """The field tags of a batch of spans, found in their tag texts joined (``joined``, each
    text followed by a NUL) and, when needed, each span's own (``pieces``), a whole batch per
    step."""

    def __init__(self, texts: list[Raw]) -> None:
        self.n = len(texts)
        # NUL cannot occur in JSON text: no match spans two texts
        self.joined = b"\x00".join(texts) + b"\x00"
        self._pieces: list[bytes] | None = None

    @property
    def pieces(self) -> list[bytes]:
        if self._pieces is None:
            self._pieces = self.joined.split(b"\x00")[:-1]
        return self._pieces

    def kind_and_scope(self) -> tuple[tuple[bytes, ...], tuple[bytes, ...]] | None:
        """The kind and scope values of every span, when each span's tags have these two one
        after the other and mention neither anywhere else: one pass for both; None otherwise.
        A match ends at a NUL, so n matches are one in each span's text."""
        pairs = _KIND_AND_SCOPE.findall(self.joined)
        n = self.n
        if len(pairs) != n or not all(
            self.joined.count(key) == n for key in (b'"span.kind"', b'"otel.scope.name"')
        ):
            return None
        kinds, scopes = zip(*pairs, strict=True)
        return kinds, scopes

    def values(self, key: bytes, pattern: re.Pattern[bytes]) -> tuple[list[int], list[bytes]]:
        """How often each span mentions ``key`` and the values of all its tags, in order
        (``pattern``'s group 1). Every mention must open a tag in Jaeger's form: a key with
        its quotes cannot occur inside a JSON string, so the counts must agree."""
        mentions = list(map(bytes.count, self.pieces, repeat(b'"' + key + b'"')))
        values = pattern.findall(self.joined)
        if len(values) != sum(mentions):
            raise Uncommon  # another form, or a string with escapes: the careful path
        return mentions, values

    def mentioning(self, key: bytes, texts: list[Raw]) -> set[int]:
        """The spans whose tag text mentions ``key`` (anywhere): few, found one by one."""
        joined, spans = self.joined, set[int]()
        at = joined.find(key)
        if at == -1:
            return spans
        starts = list(accumulate(map(add, map(len, texts), repeat(1)), initial=0))
        while at != -1:
            spans.add(bisect_right(starts, at) - 1)
            at = joined.find(key, at + len(key))
        return spans

    def all_open_lists(self) -> bool:
        """Whether every text opens a list: the first, and each after a NUL."""
        return self.joined[:1] == b"[" and self.joined.count(b"\x00[") == self.n - 1


def _spread(mentions: list[int], values: list[Any], default: Any) -> list[Any]:
    """One value per span from the values of its mentions (the last one wins, as in a dict)."""
    if len(values) == len(mentions) and all(mentions):
        return values  # the common case: exactly one each
    out = [default] * len(mentions)
    found = iter(values)
    for i, count in enumerate(mentions):
        for _ in range(count):
            out[i] = next(found)
    return out


def _fields(
    found: _Fields, texts: list[Raw]
) -> tuple[list[SpanKind], list[StatusCode], list[str], list[str]]:
    """Kind, status, status message and scope of each span. Kind and scope are read straight
    from their values; the few spans that mention a status or error tag get all four from the
    careful path's own decoding of their tags."""
    n = len(texts)
    words: Sequence[bytes]
    names: Sequence[bytes]
    kind_mentions: Sequence[int]
    scope_mentions: Sequence[int]
    pair = found.kind_and_scope()
    if pair is not None:
        words, names = pair
        kind_mentions = scope_mentions = [1] * n
    else:
        kind_mentions, words = found.values(b"span.kind", _KIND_VALUE)
        scope_mentions, names = found.values(b"otel.scope.name", _SCOPE_VALUE)
    for word in set(words) - _KIND_OF.keys():
        _KIND_OF[word] = KIND_BY_WORD.get(word.decode().lower(), SpanKind.UNSPECIFIED)
    kinds = _spread(kind_mentions, list(map(_KIND_OF.__getitem__, words)), SpanKind.UNSPECIFIED)
    decoded = {name: name.decode() for name in set(names)}
    scopes = _spread(scope_mentions, list(map(decoded.__getitem__, names)), "")
    codes, messages = [StatusCode.UNSET] * n, [""] * n
    rare = found.mentioning(b'"otel.status_', texts) | found.mentioning(b'"error"', texts)
    for i in sorted(rare):
        tags = read_tags(orjson.loads(memoryview(texts[i])), "tags")
        kinds[i], codes[i], messages[i], scopes[i] = span_fields(tags)
    return kinds, codes, messages, scopes


def _attributes(
    found: _Fields, texts: list[Raw], sids: list[str], codes: list[StatusCode]
) -> list[Any]:
    errors = [code is StatusCode.ERROR for code in codes]
    if min(map(len, texts)) > SHORT_TEXT and found.all_open_lists():
        return list(map(DeferredTags, texts, sids, repeat(None), errors))
    return list(map(_one_span_attributes, texts, sids, errors))


def _one_span_attributes(text: Raw, span_id: str, error: bool) -> Any:
    if len(text) > SHORT_TEXT and memoryview(text)[0] == OPEN_LIST:
        return DeferredTags(text, span_id, None, error)
    raw = orjson.loads(memoryview(text)) if len(text) else None
    if raw is None or raw == []:
        return EMPTY
    tags = read_tags(raw, "tags")
    return freeze(without_fields(tags, span_fields(tags)[1]))


class DeferredTags(DeferredAttributes, gc=False):
    """A span's attributes from Jaeger's ``tags`` JSON text, decoded on first use (by msgspec
    in the common case, else by the careful path's code): the field tags are dropped, and
    ``error=true`` when the status is ERROR."""

    error_status: bool = False

    def _decode(self, text: Buffer) -> dict[str, Any]:
        tags = _plain_tags(text)
        if tags is None:
            tags = read_tags(orjson.loads(memoryview(text)), "tags")
        return without_fields(tags, StatusCode.ERROR if self.error_status else StatusCode.UNSET)


# The tags as Jaeger writes them, each value of its declared type: what read_tags gives them,
# decoded without a dict per tag (the analysis reads the tags of every client and server span).
class _StringTag(Struct, tag_field="type", tag="string", gc=False):
    key: str
    value: str


class _BoolTag(Struct, tag_field="type", tag="bool", gc=False):
    key: str
    value: bool


class _IntTag(Struct, tag_field="type", tag="int64", gc=False):
    key: str
    value: Annotated[int, msgspec.Meta(ge=INT64_MIN, le=INT64_MAX)]


class _FloatTag(Struct, tag_field="type", tag="float64", gc=False):
    key: str
    value: float  # an integer too, as float(), like read_tags


_PLAIN_TAGS = msgspec.json.Decoder(list[_StringTag | _BoolTag | _IntTag | _FloatTag])


def _plain_tags(text: Buffer) -> dict[str, Any] | None:
    """The tags but the field tags, in the common case; None for anything else (another
    type's spelling, a value as a string, null, bad JSON), which read_tags then reads or
    names."""
    try:
        tags = _PLAIN_TAGS.decode(text)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError):
        return None
    # the field tags left out at once: without_fields then has no copy to make
    return {tag.key: tag.value for tag in tags if tag.key not in FIELD_TAGS}
