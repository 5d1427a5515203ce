"""A tiny DSL to build traces in tests.

    trace = build(
        span("P", 0, 100, [
            span("B", 10, 50),
            span("F", 40, 90, ref=FOLLOWS_FROM),
            span("S", 50, 60, refs=[follows_from("X"), child_of("Y")]),
        ]),
    )

Times are relative units times ``scale`` (default: 1 unit = 1 ms) after ``base`` (an absolute
epoch time in ns, so that code that forgets about absolute time fails; pass ``base=0`` to put
the trace at time zero). A child hangs on the span it is nested in through ``ref``
(``CHILD_OF`` by default); ``refs`` replaces that with explicit references by name, and
``parent="name"`` makes a span refer to a parent that need not be in the trace (orphans).
Span ids are derived from names, so ``name_of`` can turn results back into names.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from obskit.analysis.reports import Section
from obskit.model import Reference, RefType, Span, SpanKind, StatusCode, Trace

CHILD_OF = RefType.CHILD_OF
FOLLOWS_FROM = RefType.FOLLOWS_FROM
CLIENT, SERVER = SpanKind.CLIENT, SpanKind.SERVER
PRODUCER, CONSUMER = SpanKind.PRODUCER, SpanKind.CONSUMER
INTERNAL = SpanKind.INTERNAL

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
BASE = 1_700_000_000_000_000_000  # 2023-11-14, in ns
MS = 1_000_000


def span_id(name: str) -> str:
    """A 16-hex-digit span id for a name: its bytes when they fit, else a hash."""
    raw = name.encode()
    if len(raw) <= 8:
        return raw.hex().rjust(16, "0")
    return hashlib.sha1(raw).hexdigest()[:16]


def child_of(name: str) -> tuple[RefType, str]:
    return (CHILD_OF, name)


def follows_from(name: str) -> tuple[RefType, str]:
    return (FOLLOWS_FROM, name)


@dataclass
class Node:
    name: str
    start: int
    end: int
    children: list[Node] = field(default_factory=list)
    kind: SpanKind = INTERNAL
    service: str = "svc"
    ref: RefType = CHILD_OF
    refs: list[tuple[RefType, str]] | None = None
    parent: str | None = None
    error: bool = False
    attributes: dict[str, Any] = field(default_factory=dict)
    id: str | None = None


def span(
    name: str,
    start: int,
    end: int,
    children: Iterable[Node] = (),
    *,
    kind: SpanKind = INTERNAL,
    service: str = "svc",
    ref: RefType = CHILD_OF,
    refs: Sequence[tuple[RefType, str]] | None = None,
    parent: str | None = None,
    error: bool = False,
    attributes: dict[str, Any] | None = None,
    id: str | None = None,
) -> Node:
    return Node(
        name,
        start,
        end,
        list(children),
        kind,
        service,
        ref,
        list(refs) if refs is not None else None,
        parent,
        error,
        dict(attributes or {}),
        id,
    )


def build(
    *roots: Node,
    scale: int = MS,
    base: int = BASE,
    trace_id: str = TRACE_ID,
    reverse: bool = False,
) -> Trace:
    """The trace, spans in depth-first order (``reverse=True``: the opposite order)."""
    spans: list[Span] = []
    todo: list[tuple[Node, str | None]] = [(root, None) for root in reversed(roots)]
    while todo:  # iterative: builders are used for 5,000-deep chains too
        node, enclosing = todo.pop()
        spans.append(_span(node, enclosing, scale, base, trace_id))
        todo.extend((child, node.id or span_id(node.name)) for child in reversed(node.children))
    if reverse:
        spans.reverse()
    return Trace(trace_id, tuple(spans))


def _span(node: Node, enclosing: str | None, scale: int, base: int, trace_id: str) -> Span:
    if node.refs is not None:
        refs = tuple(Reference(t, trace_id, span_id(name)) for t, name in node.refs)
    elif node.parent is not None:
        refs = (Reference(CHILD_OF, trace_id, span_id(node.parent)),)
    elif enclosing is not None:
        refs = (Reference(node.ref, trace_id, enclosing),)
    else:
        refs = ()
    return Span(
        trace_id=trace_id,
        span_id=node.id or span_id(node.name),
        name=node.name,
        service=node.service,
        start_ns=base + node.start * scale,
        end_ns=base + node.end * scale,
        kind=node.kind,
        status=StatusCode.ERROR if node.error else StatusCode.UNSET,
        references=refs,
        attributes=MappingProxyType(dict(node.attributes)),
    )


def name_of(trace: Trace) -> dict[str, str]:
    return {s.span_id: s.name for s in trace.spans}


def named(
    sections: Iterable[Section], trace: Trace, *, scale: int = MS, base: int = BASE
) -> list[tuple[str, int, int]]:
    """Sections as ``(name, start, end)`` in the builder's relative units."""
    names = name_of(trace)
    return [
        (names[s.span_id], (s.start_ns - base) // scale, (s.end_ns - base) // scale)
        for s in sections
    ]


def case_16_trace() -> Trace:
    """critical-path.md case 16 (×1 ms): checkout waits 800 on the payment gateway; pricing is
    an external call named by address (127.0.0.1:8006)."""
    return build(
        span(
            "checkout",
            0,
            1000,
            [
                span(
                    "inventory",
                    20,
                    120,
                    kind=CLIENT,
                    service="checkout",
                    attributes={"peer.service": "inventory"},
                ),
                span(
                    "pricing",
                    30,
                    90,
                    kind=CLIENT,
                    service="checkout",
                    attributes={"server.address": "127.0.0.1", "server.port": 8006},
                ),
                span(
                    "pay",
                    150,
                    980,
                    [span("gateway", 160, 960, kind=SERVER, service="gateway")],
                    kind=CLIENT,
                    service="checkout",
                ),
            ],
            kind=SERVER,
            service="checkout",
        )
    )
