"""Step 6: hops, their callees, what each cost the request, and the slow-hop flags (§6).

A **hop** is a call out of a service: a ``CLIENT`` or ``PRODUCER`` span. Its callee is the
service of its ``SERVER``/``CONSUMER`` child; without one the callee is **external** and is
named from the span's attributes (see ``external_name``).

A hop's CP time is the critical-path time of the client span and its descendants, *excluding*
the subtrees of the hops nested inside it; ``critical_inclusive_ns`` keeps them. The client gap
is the client span's own CP time: latency no callee span explains (network, TLS, queueing).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from obskit.analysis.durations import format_ns, format_share
from obskit.analysis.reports import Hop
from obskit.analysis.tree import NO_PARENT, SpanTree
from obskit.model import SpanKind

HOP_KINDS = (SpanKind.CLIENT, SpanKind.PRODUCER)
CALLEE_KINDS = (SpanKind.SERVER, SpanKind.CONSUMER)
UNKNOWN_EXTERNAL = "unknown"


def hop_positions(tree: SpanTree) -> list[int]:
    client, producer = HOP_KINDS
    return [i for i, kind in enumerate(tree.kinds) if kind is client or kind is producer]


def callee_child(tree: SpanTree, hop: int) -> int | None:
    """The hop's instrumented callee span: its first SERVER/CONSUMER child, if any."""
    kids = tree.children[hop]
    if kids is None:
        return None
    kinds = tree.kinds
    server, consumer = CALLEE_KINDS
    for c in kids:
        if kinds[c] is server or kinds[c] is consumer:
            return c
    return None


def external_name(attributes: Mapping[str, Any], names: Mapping[str, str] | None = None) -> str:
    """Name an uninstrumented callee from the client span's attributes, in this order:
    ``peer.service`` (newer: ``service.peer.name``); ``server.address`` (``net.peer.name``);
    the host of ``url.full`` (``http.url``); ``db.system`` + ``db.name``; ``messaging.system``
    + destination; ``rpc.service``. ``names`` maps ``"host:port"`` or ``"host"`` to a name."""
    names = names or {}
    peer = attributes.get("peer.service") or attributes.get("service.peer.name")
    if peer:
        return str(peer)
    host = attributes.get("server.address") or attributes.get("net.peer.name")
    port = attributes.get("server.port") or attributes.get("net.peer.port")
    if host:
        return _host_name(str(host), port, names)
    url = attributes.get("url.full") or attributes.get("http.url")
    if url:
        try:
            parts = urlsplit(str(url))
            url_host, url_port = parts.hostname, parts.port
        except ValueError:
            url_host, url_port = None, None
        if url_host:
            return _host_name(url_host, url_port, names)
    db = attributes.get("db.system") or attributes.get("db.system.name")
    if db:
        db_name = attributes.get("db.name") or attributes.get("db.namespace")
        return f"{db}/{db_name}" if db_name else str(db)
    messaging = attributes.get("messaging.system")
    if messaging:
        destination = attributes.get("messaging.destination.name") or attributes.get(
            "messaging.destination"
        )
        return f"{messaging}/{destination}" if destination else str(messaging)
    rpc = attributes.get("rpc.service")
    if rpc:
        return str(rpc)
    return UNKNOWN_EXTERNAL


def _host_name(host: str, port: Any, names: Mapping[str, str]) -> str:
    if port not in (None, ""):
        named = names.get(f"{host}:{port}")
        if named:
            return named
    return names.get(host, host)


def hop_critical_times(
    tree: SpanTree, span_cp: Mapping[int, int], entered: list[int], hops: set[int]
) -> tuple[dict[int, int], dict[int, int]]:
    """(exclusive, inclusive) CP time per hop, from the spans the walk went into.

    ``entered`` lists parents before children and is closed under "parent of", so one pass
    forward finds each span's nearest enclosing hop and one pass backwards sums subtrees.
    """
    parent = tree.parent
    nearest: dict[int, int] = {}
    exclusive: dict[int, int] = {}
    for u in entered:
        if u in hops:
            owner = u
        else:
            p = parent[u]
            owner = nearest.get(p, NO_PARENT) if p != NO_PARENT else NO_PARENT
        nearest[u] = owner
        cp = span_cp.get(u, 0)
        if owner != NO_PARENT and cp:
            exclusive[owner] = exclusive.get(owner, 0) + cp
    subtree = {u: span_cp.get(u, 0) for u in entered}
    for u in reversed(entered):
        p = parent[u]
        if p in subtree:
            subtree[p] += subtree[u]
    inclusive = {h: subtree[h] for h in hops if h in subtree}
    return exclusive, inclusive


class HopRun:
    """``hops`` by CP time (desc, then start); per hop position: ``callees`` gives
    (callee, external, callee span position or None) and ``critical`` the CP time (if any)."""

    __slots__ = ("callees", "critical", "hops")

    def __init__(
        self,
        hops: list[Hop],
        callees: dict[int, tuple[str, bool, int | None]],
        critical: dict[int, int],
    ) -> None:
        self.hops, self.callees, self.critical = hops, callees, critical


def build_hops(
    tree: SpanTree,
    span_cp: Mapping[int, int],
    entered: list[int],
    *,
    request_ns: int,
    threshold: float,
    external_names: Mapping[str, str] | None = None,
) -> HopRun:
    positions = hop_positions(tree)
    exclusive, inclusive = hop_critical_times(tree, span_cp, entered, set(positions))
    spans, ids, starts = tree.spans, tree.ids, tree.starts
    # hops with CP time first (most first), then the others by start time
    hot = sorted(exclusive, key=lambda h: (-exclusive[h], starts[h], ids[h]))
    cold = sorted((h for h in positions if h not in exclusive), key=starts.__getitem__)
    # callees in trace order: spans (and the attribute texts an external callee is named
    # from) are then read in memory order, a third faster at 1M spans than in report order
    callees: dict[int, tuple[str, bool, int | None]] = {}
    for h in positions:
        child = callee_child(tree, h)
        if child is not None:
            callees[h] = (spans[child].service, False, child)
        else:
            callees[h] = (external_name(spans[h].attributes, external_names), True, None)
    hops: list[Hop] = []
    for h in hot + cold:
        span = spans[h]
        callee, external, _ = callees[h]
        critical = exclusive.get(h, 0)
        share = critical / request_ns if request_ns > 0 else 0.0
        flagged = critical > 0 and share >= threshold
        reason = (
            _reason(span.service, callee, external, critical, share, request_ns) if flagged else ""
        )
        hops.append(
            Hop(
                ids[h],
                span.service,
                callee,
                external,
                span.name,
                span.end_ns - span.start_ns,
                critical,
                inclusive.get(h, 0),
                span_cp.get(h, 0),
                share,
                flagged,
                reason,
            )
        )
    return HopRun(hops, callees, exclusive)


def _reason(
    caller: str, callee: str, external: bool, critical: int, share: float, request_ns: int
) -> str:
    what = "an external system, not instrumented" if external else "an instrumented service"
    return (
        f"{caller} → {callee} ({what}) holds {format_ns(critical)} of the critical path: "
        f"{format_share(share)} of the {format_ns(request_ns)} request"
    )
