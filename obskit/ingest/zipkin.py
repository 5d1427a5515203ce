"""Zipkin v2 JSON (a list of spans, or a list of such lists) → the trace model.

Zipkin quirks and what obskit does with them (every span of the file is kept):

* **Shared span ids.** A Zipkin client and the server it calls report one span id (the server
  span says ``"shared": true``). Spans are keyed by (id, kind): in a group of spans with one id,
  the CLIENT (or else the first kind seen) keeps the id; each other kind gets a derived id
  (stable: a hash of trace id, span id and kind) and the attribute ``zipkin.span_id`` with the
  original. A derived SERVER span hangs on its CLIENT (as Jaeger's de-duplicating adjuster does),
  and children that named the shared id hang on the span of their own service. Spans with the
  same id *and* kind keep their common id: the analysis warns about those duplicates.
* **Fragments.** Zipkin sometimes reports one span in pieces (late tags, no timestamp). A piece
  without a timestamp that shares its id with a timed span of the same service becomes a
  zero-length child of that span, not a duplicate.
* **Missing timestamp or duration.** The start comes from the earliest annotation, else the timed
  piece of the same span, else the parent, else the trace's first timestamp; a missing duration
  ends at the last annotation, else the span is zero-length. Each such trace gets a
  ``missing-timing`` warning naming the spans.
* Times are microseconds (×1000); ``kind`` maps to SpanKind (absent: UNSPECIFIED); an ``error``
  tag means status ERROR; ``remoteEndpoint.serviceName`` becomes the ``peer.service`` attribute;
  annotations become events.
"""

from __future__ import annotations

import hashlib
from typing import Any

from obskit.ingest.assemble import TraceSet
from obskit.ingest.values import (
    Bad,
    expect_dict,
    expect_list,
    expect_str,
    freeze,
    service_name,
    show,
    span_id,
    to_int,
    trace_id,
)
from obskit.model import Event, Reference, RefType, Span, SpanKind, StatusCode, TraceWarning

_KINDS = {
    "CLIENT": SpanKind.CLIENT,
    "SERVER": SpanKind.SERVER,
    "PRODUCER": SpanKind.PRODUCER,
    "CONSUMER": SpanKind.CONSUMER,
}
ORIGINAL_ID_ATTRIBUTE = "zipkin.span_id"


class _Raw:
    """One Zipkin span, validated, before ids and timing are resolved."""

    __slots__ = (
        "annotations",
        "duration",
        "kind",
        "name",
        "new_id",
        "parent",
        "resource",
        "service",
        "sid",
        "tags",
        "tid",
        "timestamp",
    )

    def __init__(self, sp: Any) -> None:
        if type(sp) is not dict:
            raise Bad("", f"expected a span object, got {show(sp)}")
        self.tid = trace_id(sp.get("traceId"), "traceId")
        self.sid = span_id(sp.get("id"), "id")
        self.new_id = self.sid
        parent = sp.get("parentId")
        self.parent = None if parent in (None, "") else span_id(parent, "parentId")
        kind = sp.get("kind")
        if kind is None:
            self.kind = SpanKind.UNSPECIFIED
        elif type(kind) is str and kind.upper() in _KINDS:
            self.kind = _KINDS[kind.upper()]
        else:
            raise Bad("kind", f"expected CLIENT, SERVER, PRODUCER or CONSUMER, got {show(kind)}")
        self.name = expect_str(sp.get("name"), "name")
        ts = sp.get("timestamp")
        self.timestamp = None if ts is None else to_int(ts, "timestamp")
        duration = sp.get("duration")
        self.duration = None if duration is None else to_int(duration, "duration")
        local = sp.get("localEndpoint")
        local = {} if local is None else expect_dict(local, "localEndpoint")
        self.service = service_name(
            expect_str(local.get("serviceName"), "localEndpoint.serviceName")
        )
        self.resource = {"service.name": self.service}
        self.tags = _tags(sp.get("tags"))
        remote = sp.get("remoteEndpoint")
        if remote is not None:
            remote = expect_dict(remote, "remoteEndpoint")
            peer = expect_str(remote.get("serviceName"), "remoteEndpoint.serviceName")
            if peer and "peer.service" not in self.tags:
                self.tags["peer.service"] = peer
        self.annotations = _annotations(sp.get("annotations"))


def _tags(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    tags = expect_dict(raw, "tags")
    for key, value in tags.items():
        if value is not None and type(value) not in (str, int, float, bool):
            raise Bad(f"tags.{key}", f"expected a string, got {show(value)}")
    return dict(tags)


def _annotations(raw: Any) -> list[tuple[int, str]]:
    out = []
    for i, ann in enumerate(expect_list(raw, "annotations")):
        ann = expect_dict(ann, f"annotations[{i}]")
        out.append(
            (
                to_int(ann.get("timestamp"), f"annotations[{i}].timestamp"),
                expect_str(ann.get("value"), f"annotations[{i}].value"),
            )
        )
    return out


def read_document(doc: Any, out: TraceSet) -> None:
    items = expect_list(doc, "", optional=False)
    if items and all(isinstance(item, list) for item in items):  # Zipkin /api/v2/traces
        for i, trace in enumerate(items):
            _read_spans(trace, f"[{i}]", out)
    else:
        _read_spans(items, "", out)


def _read_spans(items: list[Any], where: str, out: TraceSet) -> None:
    by_trace: dict[str, list[_Raw]] = {}
    for k, sp in enumerate(items):
        try:
            raw = _Raw(sp)
        except Bad as err:
            raise err.under(f"{where}[{k}]") from None
        by_trace.setdefault(raw.tid, []).append(raw)
    for tid, spans in by_trace.items():
        _resolve_trace(tid, spans, out)


def _resolve_trace(tid: str, spans: list[_Raw], out: TraceSet) -> None:
    groups: dict[str, list[_Raw]] = {}
    for raw in spans:
        groups.setdefault(raw.sid, []).append(raw)
    used = set(groups)
    parent_of: dict[int, str | None] = {id(raw): raw.parent for raw in spans}
    start_of: dict[int, int | None] = {id(raw): raw.timestamp for raw in spans}
    fragments: list[str] = []
    # derived[shared id] = the spans that left it, so children can follow their own service
    derived: dict[str, list[_Raw]] = {}
    for sid, group in groups.items():
        if len(group) == 1:
            continue
        kinds = [raw.kind for raw in group]
        timed = [raw for raw in group if raw.timestamp is not None]
        owner = (
            SpanKind.CLIENT if SpanKind.CLIENT in kinds else (timed[0].kind if timed else kinds[0])
        )
        owner_span = next(raw for raw in group if raw.kind is owner)
        ids_by_kind: dict[SpanKind, str] = {owner: sid}
        for raw in group:
            if raw.kind is owner:
                continue
            if raw.timestamp is None:
                home = next((t for t in timed if t.service == raw.service), None)
                if home is not None and home.kind is not raw.kind:
                    raw.new_id = _derive(tid, sid, f"fragment:{raw.kind.name}", used)
                    raw.tags[ORIGINAL_ID_ATTRIBUTE] = sid
                    fragments.append(raw.new_id)
                    parent_of[id(raw)] = None  # set below, once home has its final id
                    raw.parent = home  # type: ignore[assignment]  # a raw span, its id set below
                    continue
            if raw.kind not in ids_by_kind:
                ids_by_kind[raw.kind] = _derive(tid, sid, raw.kind.name, used)
            raw.new_id = ids_by_kind[raw.kind]
            raw.tags[ORIGINAL_ID_ATTRIBUTE] = sid
            derived.setdefault(sid, []).append(raw)
            if raw.kind is SpanKind.SERVER and owner is SpanKind.CLIENT:
                parent_of[id(raw)] = owner_span.sid
    # Children of a shared id hang on the piece of their own service.
    for raw in spans:
        parent = parent_of[id(raw)]
        if (
            parent is not None
            and parent in derived
            and not (raw.kind is SpanKind.SERVER and raw.sid == parent)
        ):
            match = next((d for d in derived[parent] if d.service == raw.service), None)
            if match is not None and match is not raw:
                parent_of[id(raw)] = match.new_id
    _resolve_timing(tid, spans, groups, start_of, out, fragments)
    for raw in spans:
        if isinstance(raw.parent, _Raw):  # a fragment: a zero-length child of its home
            home = raw.parent
            parent_of[id(raw)] = home.new_id
            start_of[id(raw)] = start_of[id(home)]
        parent = parent_of[id(raw)]
        out.add(_make(raw, tid, parent, start_of[id(raw)] or 0))
    if fragments:
        out.warn(
            tid,
            TraceWarning(
                "fragment",
                f"{len(fragments)} Zipkin span pieces have no timestamp and repeat the id of a "
                "timed span of the same service; kept as zero-length children of that span",
                tuple(fragments),
            ),
        )


def _resolve_timing(
    tid: str,
    spans: list[_Raw],
    groups: dict[str, list[_Raw]],
    start_of: dict[int, int | None],
    out: TraceSet,
    fragments: list[str],
) -> None:
    known = [raw.timestamp for raw in spans if raw.timestamp is not None]
    first = min(known) if known else 0
    untimed: list[str] = []
    for raw in spans:
        if raw.timestamp is not None and raw.duration is not None:
            continue
        if raw.new_id in fragments:
            continue
        untimed.append(raw.new_id)
        if raw.timestamp is None:
            start = min((t for t, _ in raw.annotations), default=None)
            if start is None:
                partner = next(
                    (p for p in groups[raw.sid] if p.timestamp is not None and p is not raw), None
                )
                parent_group = groups.get(raw.parent) if isinstance(raw.parent, str) else None
                parent_ts = next(
                    (p.timestamp for p in parent_group or () if p.timestamp is not None), None
                )
                start = (
                    partner.timestamp
                    if partner is not None
                    else parent_ts
                    if parent_ts is not None
                    else first
                )
            start_of[id(raw)] = start
    if untimed:
        out.warn(
            tid,
            TraceWarning(
                "missing-timing",
                f"{len(untimed)} Zipkin spans have no timestamp or duration; their times are "
                "taken from annotations, or they are zero-length",
                tuple(untimed),
            ),
        )


def _derive(tid: str, sid: str, salt: str, used: set[str]) -> str:
    n = 0
    while True:
        seed = f"{tid}:{sid}:{salt}:{n}".encode()
        new = hashlib.blake2b(seed, digest_size=8).hexdigest()
        if new not in used and new != "0" * 16:
            used.add(new)
            return new
        n += 1


def _make(raw: _Raw, tid: str, parent: str | None, start_us: int) -> Any:
    if raw.duration is not None:
        end_us = start_us + raw.duration
    else:
        last = max((t for t, _ in raw.annotations), default=start_us)
        end_us = max(last, start_us)
    tags = raw.tags
    status = StatusCode.UNSET
    message = ""
    if "error" in tags:
        status = StatusCode.ERROR
        error = tags["error"]
        message = error if isinstance(error, str) and error not in ("", "true") else ""
    refs = (Reference(RefType.CHILD_OF, tid, parent),) if parent else ()
    events = tuple(Event(t * 1000, value) for t, value in raw.annotations)
    return Span(
        tid,
        raw.new_id,
        raw.name,
        raw.service,
        start_us * 1000,
        end_us * 1000,
        raw.kind,
        status,
        message,
        refs,
        freeze(tags),
        freeze(raw.resource),
        events,
        (),
        "",
    )
