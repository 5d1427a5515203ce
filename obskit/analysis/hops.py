"""Step 6: hops, their callees, what each cost the request, and the slow-hop flags (§6).

A **hop** is a call out of a service: a ``CLIENT`` or ``PRODUCER`` span. Its callee is the
service of its ``SERVER``/``CONSUMER`` child; without one the callee is **external** and is
named from the span's attributes (see ``external_name``).

A hop's CP time is the critical-path time of the client span and its descendants, *excluding*
the subtrees of the hops nested inside it; ``critical_inclusive_ns`` keeps them. The client gap
is the client span's own CP time: latency no callee span explains (network, TLS, queueing).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from itertools import repeat
from typing import Any
from urllib.parse import urlsplit

from obskit.analysis.reports import Hop
from obskit.analysis.tree import NO_PARENT, SpanTree
from obskit.model import SpanKind
from obskit.units import format_ns, format_share

HOP_KINDS = (SpanKind.CLIENT, SpanKind.PRODUCER)
CALLEE_KINDS = (SpanKind.SERVER, SpanKind.CONSUMER)
UNKNOWN_EXTERNAL = "unknown"


def hop_positions(tree: SpanTree) -> list[int]:
    if tree.arrays is not None:
        kinds = tree.arrays.kinds
        hops: list[int] = (
            ((kinds == SpanKind.CLIENT) | (kinds == SpanKind.PRODUCER)).nonzero()[0].tolist()
        )
        return hops
    client, producer = HOP_KINDS
    return [i for i, kind in enumerate(tree.kinds) if kind is client or kind is producer]


def callee_finder(tree: SpanTree) -> Callable[[int], int | None]:
    """``callee_child`` for every hop of the tree, all found at once on the array path."""
    if tree.arrays is not None:
        from obskit.analysis.arrays import first_child_of_kind

        arrays = tree.arrays
        return first_child_of_kind(arrays.parent, arrays.children, arrays.kinds, CALLEE_KINDS).get
    return partial(callee_child, tree)


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
    """``hops`` in report order; and, a column each in trace order: the hop spans'
    ``positions``, their ``callers``, ``callees`` (names), whether each is ``external`` and its
    instrumented ``callee_spans`` (None for an external one); ``critical`` maps a hop position
    to its CP time, for the hops that have any."""

    __slots__ = ("callee_spans", "callees", "callers", "critical", "external", "hops", "positions")

    def __init__(
        self,
        hops: list[Hop],
        positions: list[int],
        callers: list[str],
        callees: tuple[list[str], list[bool], list[int | None]],
        critical: dict[int, int],
    ) -> None:
        self.hops, self.positions, self.callers, self.critical = hops, positions, callers, critical
        self.callees, self.external, self.callee_spans = callees


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
    spans, ids = tree.spans, tree.ids
    # Spans (and the attribute texts external callees are named from) are read in trace
    # order, which is memory order: at 1M spans several times faster than in report order.
    callees = _callees(tree, positions, external_names)
    names, external, _ = callees
    callers = [spans[h].service for h in positions]
    hot, cold = _report_order(tree, positions, exclusive)
    hops: list[Hop] = []
    for k in hot:
        h = positions[k]
        span = spans[h]
        critical = exclusive[h]
        share = critical / request_ns if request_ns > 0 else 0.0
        flagged = share >= threshold
        reason = (
            _reason(span.service, names[k], external[k], critical, share, request_ns)
            if flagged
            else ""
        )
        hops.append(
            Hop(
                ids[h],
                span.service,
                names[k],
                external[k],
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
    # The rest hold no CP time of their own, nor does anything they called exclusively: no
    # share, no flag. Most of a big trace's hops are here, so they are built column-wise in
    # trace order and only then put in report order: with reference counting, every object
    # a pass touches is a memory access, and in report order each one is a cache miss.
    n = len(positions)
    plain = list(
        map(
            Hop,
            [ids[h] for h in positions],
            callers,
            names,
            external,
            [spans[h].name for h in positions],
            [spans[h].end_ns - spans[h].start_ns for h in positions],
            repeat(0, n),
            map(inclusive.get, positions, repeat(0, n)),
            repeat(0, n),
            repeat(0.0, n),
            repeat(False, n),
            repeat("", n),
        )
    )
    hops.extend([plain[k] for k in cold])
    return HopRun(hops, positions, callers, callees, exclusive)


def _callees(
    tree: SpanTree, positions: list[int], external_names: Mapping[str, str] | None
) -> tuple[list[str], list[bool], list[int | None]]:
    """Per hop (in ``positions`` order): the callee's name, whether it is external, and the
    instrumented callee span (None for an external one)."""
    spans = tree.spans
    children = list(map(callee_finder(tree), positions))
    names = [
        external_name(spans[h].attributes, external_names) if c is None else spans[c].service
        for h, c in zip(positions, children, strict=True)
    ]
    return names, [c is None for c in children], children


def _report_order(
    tree: SpanTree, positions: list[int], critical: dict[int, int]
) -> tuple[list[int], list[int]]:
    """Indexes into ``positions``: hops with CP time (most first, then by start and span id),
    and the others by start (trace order among equal starts)."""
    starts, ids = tree.starts, tree.ids
    hot = [k for k, h in enumerate(positions) if h in critical]
    hot.sort(key=lambda k: (-critical[positions[k]], starts[positions[k]], ids[positions[k]]))
    cold = [k for k, h in enumerate(positions) if h not in critical]
    if tree.arrays is not None:
        import numpy as np

        cold_starts = tree.arrays.starts[np.array(positions, np.int64)[cold]]
        cold = np.array(cold, np.int64)[np.argsort(cold_starts, kind="stable")].tolist()
    else:
        cold.sort(key=lambda k: starts[positions[k]])
    return hot, cold


def _reason(
    caller: str, callee: str, external: bool, critical: int, share: float, request_ns: int
) -> str:
    what = "an external system, not instrumented" if external else "an instrumented service"
    return (
        f"{caller} → {callee} ({what}) holds {format_ns(critical)} of the critical path: "
        f"{format_share(share)} of the {format_ns(request_ns)} request"
    )
