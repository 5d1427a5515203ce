"""One span of the internal trace model. Readers build these; nothing else creates them.

Conventions every reader guarantees:

* times are integer **nanoseconds** since the epoch, ``end_ns >= start_ns``;
* ids are lowercase hex, zero-padded: 32 characters for trace ids, 16 for span ids;
* ``references`` are in the order the source gave them; OTLP's ``parentSpanId`` becomes one
  ``CHILD_OF`` reference; ``parent_id`` is *not* stored: the tree rule lives in ``Trace``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from obskit.model.kinds import RefType, SpanKind, StatusCode

EMPTY: Mapping[str, Any] = MappingProxyType({})


def _empty() -> Mapping[str, Any]:
    # Python 3.11 rejects an unhashable (mappingproxy) default; a factory returning the one
    # shared read-only empty mapping keeps the semantics.
    return EMPTY


@dataclass(frozen=True, slots=True)
class Reference:
    ref_type: RefType
    trace_id: str
    span_id: str


@dataclass(frozen=True, slots=True)
class Event:
    time_ns: int
    name: str
    attributes: Mapping[str, Any] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True)
class Link:
    trace_id: str
    span_id: str
    attributes: Mapping[str, Any] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True)
class Span:
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
    attributes: Mapping[str, Any] = field(default_factory=_empty)
    resource: Mapping[str, Any] = field(default_factory=_empty)
    events: tuple[Event, ...] = ()
    links: tuple[Link, ...] = field(default=())
    scope: str = ""

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns

    @property
    def is_error(self) -> bool:
        return self.status is StatusCode.ERROR
