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

    def learn(self, trace: Trace) -> None:
        spans = trace.spans
        by_id = {s.span_id: s for s in spans}
        answered: set[str] = set()
        clients: list[Span] = []  # gathered on the way: a second pass over all spans costs more
        for span in spans:
            if span.kind not in CALLEE_KINDS:
                if span.kind is SpanKind.CLIENT:
                    clients.append(span)
                continue
            own = server_address(span.attributes) if span.kind is SpanKind.SERVER else None
            if own:
                self.addresses.setdefault(own, span.service)
            for key in consumed(span.attributes) if span.kind is SpanKind.CONSUMER else ():
                self.queues.setdefault(key, span.service)
            call = by_id.get(_parent_id(span))
            if call is None or call.kind not in (SpanKind.CLIENT, SpanKind.PRODUCER):
                continue
            answered.add(call.span_id)
            self.callers.setdefault((span.service, span.name), call.service)
            target = call_target(call)
            if target:
                self._target_map(call).setdefault(target, span.service)
        for span in clients:
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
    landscape = landscape if landscape is not None else Landscape.of([trace])
    spans = tree.spans
    warnings = []
    for k, h in enumerate(hops.positions):
        if hops.external[k]:
            target = call_target(spans[h])  # once: it is read from the span's attributes
            callee = landscape.callee_of(spans[h], target) if target else None
            if callee is not None:
                warnings.append(_cut_call(spans[h], callee, target))
    for r in sorted(tree.roots):
        span = spans[r]
        if span.kind in CALLEE_KINDS and not span.references:
            found = landscape.caller_of(span)
            if found is not None:
                warnings.append(_cut_root(span, *found))
    return warnings


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
