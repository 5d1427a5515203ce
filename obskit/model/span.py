"""One span of the internal trace model. Readers build these; nothing else creates them.

Conventions every reader guarantees:

* times are integer **nanoseconds** since the epoch, ``end_ns >= start_ns``;
* ids are lowercase hex, zero-padded: 32 characters for trace ids, 16 for span ids;
* ``references`` are in the order the source gave them; OTLP's ``parentSpanId`` becomes one
  ``CHILD_OF`` reference; ``parent_id`` is *not* stored: the tree rule lives in ``Trace``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from msgspec import Struct

from obskit.model.kinds import RefType, SpanKind, StatusCode

EMPTY: Mapping[str, Any] = MappingProxyType({})

# Frozen msgspec structs rather than frozen dataclasses: the same immutable records (equality
# by fields, keyword or positional construction, ``msgspec.structs.replace``), built about
# three times faster, which a reader creating a million spans feels. They are never encoded.


class Reference(Struct, frozen=True, gc=False):
    ref_type: RefType
    trace_id: str
    span_id: str


class Event(Struct, frozen=True, gc=False):
    time_ns: int
    name: str
    attributes: Mapping[str, Any] = EMPTY


class Link(Struct, frozen=True, gc=False):
    trace_id: str
    span_id: str
    attributes: Mapping[str, Any] = EMPTY


class Span(Struct, frozen=True, gc=False):
    trace_id: str
    span_id: str
    name: str
    service: str
    start_ns: int
    end_ns: int
    kind: SpanKind = SpanKind.UNSPECIFIED
    status: StatusCode = StatusCode.UNSET
    status_message: str = ""
    references: tuple[Reference, ...] = ()
    attributes: Mapping[str, Any] = EMPTY
    resource: Mapping[str, Any] = EMPTY
    events: tuple[Event, ...] = ()
    links: tuple[Link, ...] = ()
    scope: str = ""

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns

    @property
    def is_error(self) -> bool:
        return self.status is StatusCode.ERROR
