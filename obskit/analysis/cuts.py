"""Whole-trace checks: where a trace looks cut in two.

A split trace is the worst failure of tracing: each half has a critical path that is
confidently wrong. It happens when one side of a call is not instrumented, or drops the
context (a missing instrumentation, a proxy, a propagator mismatch). Two signs, each
checked against what the data shows is instrumented (:class:`Landscape`: the analysed trace,
or every trace read with it):

* ``cut-call``: a CLIENT (PRODUCER) span with no SERVER (CONSUMER) child, calling an address
  (a queue) where an instrumented service answers elsewhere in the data. That service's spans
  exist, just not under this call.
* ``cut-root``: a SERVER (CONSUMER) span with no parent at all while its caller is
  instrumented: elsewhere in the data the same operation is called by a traced call, or a
  traced call to this address that got no server span was open when it started.

A server span whose parent id is set but missing is the tree's ``orphan`` warning (spans
lost), not a cut.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import compress
from typing import Any
from urllib.parse import urlsplit

from obskit.analysis.hops import CALLEE_KINDS, HopRun
from obskit.analysis.tree import SpanTree
from obskit.model import RefType, Span, SpanKind, Trace, TraceWarning

DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass
class Landscape:
    """What the data shows is instrumented, learnt from whole traces."""

    # "host:port" -> the instrumented service answering there
    addresses: dict[str, str] = field(default_factory=dict)
    # "system/destination" (or "celery/task") -> the instrumented service consuming it
    queues: dict[str, str] = field(default_factory=dict)
    # (service, operation) -> an instrumented service that calls it with context
    callers: dict[tuple[str, str], str] = field(default_factory=dict)
    # address -> (start, end, caller, span id) of calls that got no server span
    open_calls: dict[str, list[tuple[int, int, str, str]]] = field(default_factory=dict)

    @classmethod
    def of(cls, traces: Iterable[Trace]) -> Landscape:
        landscape = cls()
        for trace in traces:
            landscape.learn(trace)
        return landscape

    @classmethod
    def for_checks(
        cls, trace: Trace, calls: Iterable[tuple[Span, str | None]], roots: Iterable[Span]
    ) -> Landscape:
        """What ``trace`` alone shows, as far as :func:`cut_warnings` asks: the callees at the
        targets of ``calls`` (calls with no callee span, and their targets), and the calls
        open to the addresses of ``roots`` (callee spans with no parent)."""
        landscape = cls()
        landscape.learn(trace, _Interest.of(calls, roots))
        return landscape

    def learn(self, trace: Trace, interest: _Interest | None = None) -> None:
        """Learn from every span of ``trace``, or only what ``interest`` asks for."""
        wanted = interest or _EVERYTHING
        spans = trace.spans
        columns = trace.own_columns
        # a big trace's spans are picked by kind a column at a time, in C
        kinds = columns.kinds if columns else [s.kind for s in spans]
        by_id = dict(
            zip(columns.ids if columns else [s.span_id for s in spans], spans, strict=True)
        )
        answered: set[str] = set()
        for span in compress(spans, map(CALLEE_KINDS.__contains__, kinds)):
            if wanted.wants_callees:
                own = server_address(span.attributes) if span.kind is SpanKind.SERVER else None
                if own:
                    self.addresses.setdefault(own, span.service)
                    wanted.found(own, queue=False)
                for key in consumed(span.attributes) if span.kind is SpanKind.CONSUMER else ():
                    self.queues.setdefault(key, span.service)
                    wanted.found(key, queue=True)
            if not wanted.call_of(span):
                continue
            call = by_id.get(_parent_id(span))
            if call is None or call.kind not in (SpanKind.CLIENT, SpanKind.PRODUCER):
                continue
            answered.add(call.span_id)
            if wanted.caller_of(span):
                self.callers.setdefault((span.service, span.name), call.service)
                wanted.found_caller(span)
            if wanted.wants_callees:
                target = call_target(call)
                if target:
                    self._target_map(call).setdefault(target, span.service)
                    wanted.found(target, queue=call.kind is SpanKind.PRODUCER)
            if wanted.settled:
                return
        if not wanted.wants_open_calls:
            return
        for span in compress(spans, map(SpanKind.CLIENT.__eq__, kinds)):
            if span.span_id not in answered:
                target = call_target(span)
                if target:
                    entry = (span.start_ns, span.end_ns, span.service, span.span_id)
                    self.open_calls.setdefault(target, []).append(entry)

    def _target_map(self, call: Span) -> dict[str, str]:
        return self.queues if call.kind is SpanKind.PRODUCER else self.addresses

    def callee_of(self, call: Span, target: str | None = None) -> str | None:
        """The instrumented service ``call`` reached (at ``target``, if already known)."""
        target = target or call_target(call)
        return self._target_map(call).get(target) if target else None

    def caller_of(self, span: Span) -> tuple[str, str] | None:
        """(caller, evidence) for a server span that has no parent."""
        caller = self.callers.get((span.service, span.name))
        if caller is not None:
            return caller, f"elsewhere in the data {caller} calls it with trace context"
        own = server_address(span.attributes) if span.kind is SpanKind.SERVER else None
        for start, end, service, span_id in self.open_calls.get(own or "", ()):
            if start <= span.start_ns <= end:
                return service, f"{service}'s call {span_id} to {own} was open when it started"
        return None


def cut_warnings(
    trace: Trace, tree: SpanTree, hops: HopRun, landscape: Landscape | None = None
) -> list[TraceWarning]:
    """``cut-call`` and ``cut-root`` warnings, in trace order."""
    spans = tree.spans
    external = [spans[h] for k, h in enumerate(hops.positions) if hops.external[k]]
    # once each: a target is read from the span's attributes
    calls = [(call, call_target(call)) for call in external]
    roots = [
        spans[r]
        for r in sorted(tree.roots)
        if spans[r].kind in CALLEE_KINDS and not spans[r].references
    ]
    if landscape is None:
        landscape = Landscape.for_checks(trace, calls, roots)
    warnings = []
    for call, target in calls:
        callee = landscape.callee_of(call, target) if target else None
        if callee is not None:
            warnings.append(_cut_call(call, callee, target))
    for span in roots:
        found = landscape.caller_of(span)
        if found is not None:
            warnings.append(_cut_root(span, *found))
    return warnings


class _Everything:
    """Learn from every span (a landscape for many traces)."""

    wants_callees = True
    wants_open_calls = True

    def call_of(self, span: Span) -> bool:
        return True

    def caller_of(self, span: Span) -> bool:
        return True

    def found(self, target: str, *, queue: bool) -> None:
        pass

    def found_caller(self, span: Span) -> None:
        pass

    settled = False


_EVERYTHING = _Everything()


@dataclass
class _Interest:
    """What one trace's cut check asks of the landscape of that trace alone.

    Reading a span's attributes is most of learning's cost on a big trace, and the check asks
    about a few targets only. So a span is read for callees only while a target has none yet
    (the first one found is the one the whole landscape keeps). Until then each is read:
    searching its text for the hosts asked about first would cost more than reading it
    (1.2 µs a span and 0.33 µs a host, against 2.2 µs).
    """

    pending: set[tuple[bool, str]]  # (a queue?, target) with no callee found yet
    open_to: set[str]  # addresses whose open calls are asked about
    called: set[tuple[str, str]]  # (service, operation) whose caller is asked, none found yet

    @classmethod
    def of(cls, calls: Iterable[tuple[Span, str | None]], roots: Iterable[Span]) -> _Interest:
        pending = {(call.kind is SpanKind.PRODUCER, target) for call, target in calls if target}
        own = {server_address(r.attributes) for r in roots if r.kind is SpanKind.SERVER}
        open_to = {address for address in own if address}
        called = {(r.service, r.name) for r in roots}
        return cls(pending, open_to, called)

    @property
    def wants_callees(self) -> bool:
        return bool(self.pending)

    @property
    def wants_open_calls(self) -> bool:
        return bool(self.open_to)

    def call_of(self, span: Span) -> bool:
        """Is anything asked of the call ``span`` answers?"""
        return bool(self.pending or self.open_to) or self.caller_of(span)

    def caller_of(self, span: Span) -> bool:
        return (span.service, span.name) in self.called

    def found(self, target: str, *, queue: bool) -> None:
        self.pending.discard((queue, target))

    def found_caller(self, span: Span) -> None:
        self.called.discard((span.service, span.name))

    @property
    def settled(self) -> bool:
        """Nothing is asked any more: the first answer to each question is found."""
        return not (self.pending or self.open_to or self.called)


def _cut_call(call: Span, callee: str, where: str | None) -> TraceWarning:
    return TraceWarning(
        "cut-call",
        f"trace looks cut: {call.service}'s call {call.name!r} ({call.span_id}) to {where} "
        f"has no {callee} span under it, though {callee} is instrumented there: {callee} "
        "dropped the incoming trace context (is its server or consumer instrumented?) "
        "or its spans went to another trace",
        (call.span_id,),
    )


def _cut_root(span: Span, caller: str, evidence: str) -> TraceWarning:
    return TraceWarning(
        "cut-root",
        f"trace looks cut: {span.service} {span.name!r} ({span.span_id}) starts a trace of "
        f"its own, though its caller {caller} is instrumented ({evidence}): the call sent no "
        "trace context (is its HTTP client or producer instrumented?)",
        (span.span_id,),
    )


# --- addresses -----------------------------------------------------------------------------


def call_target(call: Span) -> str | None:
    """Where a CLIENT span called (``host:port``), or the queue a PRODUCER sent to."""
    if call.kind is SpanKind.PRODUCER:
        keys = consumed(call.attributes)
        return keys[0] if keys else None
    attrs = call.attributes
    host = attrs.get("server.address") or attrs.get("net.peer.name")
    port = attrs.get("server.port") or attrs.get("net.peer.port")
    url = attrs.get("url.full") or attrs.get("http.url")
    if host and port:
        return _address(str(host), port)
    if url:
        return _url_address(str(url))
    return None


def server_address(attrs: Mapping[str, Any]) -> str | None:
    """Where a SERVER span was served (``host:port``), from its own attributes."""
    host = attrs.get("server.address") or attrs.get("net.host.name") or attrs.get("http.host")
    port = attrs.get("server.port") or attrs.get("net.host.port")
    if host:
        text = str(host)
        # the ASGI instrumentation puts the Host header, port included, in server.address
        name, colon, tail = text.rpartition(":")
        if colon and tail.isdigit() and "]" not in tail:
            text, port = name, port or tail
        return _address(text, port) if port else None
    url = attrs.get("url.full") or attrs.get("http.url")
    return _url_address(str(url)) if url else None


def consumed(attrs: Mapping[str, Any]) -> list[str]:
    """The queue keys a PRODUCER or CONSUMER span names: messaging destination, Celery task."""
    keys = []
    system = attrs.get("messaging.system")
    destination = attrs.get("messaging.destination.name") or attrs.get("messaging.destination")
    if system and destination:
        keys.append(f"{system}/{destination}")
    task = attrs.get("celery.task_name")
    if task:
        keys.append(f"celery/{task}")
    return keys


def _address(host: str, port: Any) -> str:
    return f"{host.strip('[]')}:{port}"


def _url_address(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    return _address(host, port) if host and port else None


def _parent_id(span: Span) -> str:
    for ref in span.references:
        if ref.ref_type is RefType.CHILD_OF:
            return ref.span_id
    return ""


__all__ = ["Landscape", "call_target", "consumed", "cut_warnings", "server_address"]
