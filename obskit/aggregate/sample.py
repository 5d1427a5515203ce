"""One trace's contribution to the aggregate: the single-trace analysis, cut to what the
aggregate keeps (CP time per hop, operation, call path and service; the graph's edges;
projected latencies for what-ifs), without building the per-trace report objects.

It composes the single-trace steps (``tree``, ``blocking``, ``clipping``, ``walk``, ``hops``)
so every number means exactly what it means in ``obskit analyze --trace-id``, and starts the
walk at the **endpoint's span**: the longest span of ``--service`` (and ``--operation``) whose
parent is in another service (or that is a root). For a service that is not the trace's root,
the report is about that service's own latency, and the callers above it do not count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from obskit.aggregate.whatif import Retimed, WhatIf, retime
from obskit.analysis.blocking import non_blocking
from obskit.analysis.clipping import KEPT, Projection
from obskit.analysis.hops import HOP_KINDS, callee_child, external_name, hop_critical_times
from obskit.analysis.reports import Section
from obskit.analysis.tree import NO_PARENT, SpanTree
from obskit.analysis.walk import walk
from obskit.errors import InputError
from obskit.model import StatusCode, Trace

ERROR = StatusCode.ERROR


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Which span of each trace the aggregate is about; ``service=None``: the primary root."""

    service: str | None = None
    operation: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {"service": self.service, "operation": self.operation}


HopKey = tuple[str, str, bool]  # caller, callee, external
OpKey = tuple[str, str]  # service, operation


@dataclass(slots=True)
class TraceSample:
    trace_id: str
    start_ns: int
    duration_ns: int
    hops: dict[HopKey, int]  # CP time per hop, summed over its calls in this trace
    operations: dict[OpKey, int]  # CP time per (service, operation); 0: ran, not critical
    paths: dict[tuple[OpKey, ...], int]  # CP time per call path, from the endpoint down
    services: dict[str, int]  # CP time per service
    span_counts: dict[str, int]  # spans per service
    # graph edges: (caller, callee, external) -> [calls, errors, CP ns, call durations...]
    edges: dict[HopKey, list[int]]
    warnings: tuple[str, ...]  # warning codes of the single-trace analysis
    projected: tuple[tuple[int, int, int, int], ...] = field(default=())
    # per what-if: (projected duration, matched spans, Σ cut, Σ min(cut, CP time))


Outcome = TraceSample | str | None  # see take()


class NoEndpoint(Exception):
    """This trace has no span of the endpoint (or it does not block anything)."""


def find_endpoint(tree: SpanTree, endpoint: Endpoint) -> int:
    if endpoint.service is None:
        return tree.primary
    spans, parent, starts, ends, ids = tree.spans, tree.parent, tree.starts, tree.ends, tree.ids
    best = NO_PARENT
    for i, span in enumerate(spans):
        if span.service != endpoint.service:
            continue
        if endpoint.operation is not None and span.name != endpoint.operation:
            continue
        p = parent[i]
        if p != NO_PARENT and spans[p].service == endpoint.service:
            continue  # inside the service: not where a request enters it
        if best == NO_PARENT or (starts[i] - ends[i], starts[i], ids[i]) < (
            starts[best] - ends[best],
            starts[best],
            ids[best],
        ):
            best = i
    if best == NO_PARENT:
        raise NoEndpoint
    return best


def subtree(tree: SpanTree, root: int) -> list[int]:
    """``root`` and its descendants, parents first."""
    order = [root]
    children = tree.children
    for u in order:  # grows while iterating
        kids = children[u]
        if kids is not None:
            order.extend(kids)
    return order


def sample_trace(
    trace: Trace,
    endpoint: Endpoint,
    *,
    external_names: Mapping[str, str] | None = None,
    what_ifs: Sequence[WhatIf] = (),
) -> TraceSample:
    """Raises :class:`NoEndpoint` when the trace has no span for ``endpoint``."""
    tree = SpanTree(trace)
    if not tree.roots:
        raise NoEndpoint
    e = find_endpoint(tree, endpoint)
    projection = Projection(tree, non_blocking(tree))
    if projection.kept[e] != KEPT:
        raise NoEndpoint  # asynchronous, or dropped by clipping: no latency to explain
    path = walk(tree, projection, e)
    span_cp: dict[int, int] = {}
    for i, start, end in path.sections:
        span_cp[i] = span_cp.get(i, 0) + (end - start)
    spans, kinds, parent = tree.spans, tree.kinds, tree.parent
    members = subtree(tree, e)
    client, producer = HOP_KINDS
    hop_list = [u for u in members if kinds[u] is client or kinds[u] is producer]
    exclusive, _ = hop_critical_times(tree, span_cp, path.entered, set(hop_list))

    hops: dict[HopKey, int] = {}
    edges: dict[HopKey, list[int]] = {}
    callee_of: dict[int, tuple[str, bool]] = {}
    for h in hop_list:
        span = spans[h]
        child = callee_child(tree, h)
        if child is not None:
            key = (span.service, spans[child].service, False)
            error = span.status is ERROR or spans[child].status is ERROR
        else:
            key = (span.service, external_name(span.attributes, external_names), True)
            error = span.status is ERROR
        callee_of[h] = (key[1], key[2])
        cp = exclusive.get(h, 0)
        hops[key] = hops.get(key, 0) + cp
        edge = edges.get(key)
        if edge is None:
            edge = edges[key] = [0, 0, 0]
        edge[0] += 1
        edge[1] += error
        edge[2] += cp
        edge.append(span.end_ns - span.start_ns)

    operations: dict[OpKey, int] = {}
    services: dict[str, int] = {}
    span_counts: dict[str, int] = {}
    op_of: dict[int, OpKey] = {}
    for u in members:
        span = spans[u]
        cp = span_cp.get(u, 0)
        key2 = op_of[u] = (span.service, span.name)
        operations[key2] = operations.get(key2, 0) + cp
        # an uninstrumented callee's time is in the client span: the graph shows it on the
        # external node, not on the caller
        callee = callee_of.get(u)
        holder = callee[0] if callee is not None and callee[1] else span.service
        services[holder] = services.get(holder, 0) + cp
        span_counts[span.service] = span_counts.get(span.service, 0) + 1

    # call paths of the spans the walk entered (parents first, so a parent's frames exist)
    frames: dict[int, tuple[OpKey, ...]] = {}
    paths: dict[tuple[OpKey, ...], int] = {}
    for u in path.entered:
        p = parent[u]
        mine = (*frames[p], op_of[u]) if u != e and p in frames else (op_of[u],)
        frames[u] = mine
        cp = span_cp.get(u, 0)
        if cp:
            paths[mine] = paths.get(mine, 0) + cp

    duration = projection.ends[e] - projection.starts[e]
    codes: tuple[str, ...] = ()
    if (
        trace.warnings
        or tree.warnings
        or projection.clipped
        or projection.skewed
        or (projection.dropped)
    ):
        codes = tuple(w.code for w in (*trace.warnings, *tree.warnings, *projection.warnings(tree)))
    projected = tuple(
        _project(tree, projection, e, members, what, callee_of, span_cp, duration)
        for what in what_ifs
    )
    return TraceSample(
        trace.trace_id,
        projection.starts[e],
        duration,
        hops,
        operations,
        paths,
        services,
        span_counts,
        edges,
        codes,
        projected,
    )


def take(
    trace: Trace,
    endpoint: Endpoint,
    external_names: Mapping[str, str] | None,
    what_ifs: Sequence[WhatIf],
    window: tuple[int, int] | None,
) -> Outcome:
    """What one trace contributes to an aggregate: its sample; its id when it has no span
    of the endpoint (or no spans); ``None`` when it started outside ``window``."""
    try:
        sample = sample_trace(trace, endpoint, external_names=external_names, what_ifs=what_ifs)
    except (NoEndpoint, InputError):  # InputError: a trace with no spans at all
        return trace.trace_id
    if window is not None and not window[0] <= sample.start_ns < window[1]:
        return None
    return sample


def matching_spans(
    tree: SpanTree,
    e: int,
    members: list[int],
    target: str,
    callee_of: Mapping[int, tuple[str, bool]],
) -> list[int]:
    """The spans a what-if on ``target`` shortens (see :mod:`obskit.aggregate.whatif`)."""
    spans, parent = tree.spans, tree.parent
    found = []
    for u in members:
        span = spans[u]
        callee = callee_of.get(u)
        if (
            (callee is not None and callee[1] and callee[0] == target)
            or (
                span.service == target
                and (u == e or parent[u] == NO_PARENT or spans[parent[u]].service != target)
            )
            or span.name == target
        ):
            found.append(u)
    return found


def what_if_path(
    trace: Trace,
    what: WhatIf,
    endpoint: Endpoint | None = None,
    *,
    external_names: Mapping[str, str] | None = None,
) -> list[Section]:
    """The critical path of ``trace`` re-timed for ``what`` (re-walked), chronological: what a
    what-if projects for one trace, to look at or to test."""
    tree = SpanTree(trace)
    e = find_endpoint(tree, endpoint or Endpoint())
    projection = Projection(tree, non_blocking(tree))
    members = subtree(tree, e)
    callee_of: dict[int, tuple[str, bool]] = {}
    for h in members:
        if tree.kinds[h] in HOP_KINDS and callee_child(tree, h) is None:
            callee_of[h] = (external_name(tree.spans[h].attributes, external_names), True)
    kept = projection.kept
    matched = [
        u for u in matching_spans(tree, e, members, what.target, callee_of) if kept[u] == KEPT
    ]
    starts, ends, _ = retime(tree, projection, e, dict.fromkeys(matched, what))
    path = walk(tree, Retimed(projection, starts, ends), e)  # type: ignore[arg-type]  # walk reads starts, ends, kept only
    return [Section(tree.ids[i], start, end) for i, start, end in path.sections]


def _project(
    tree: SpanTree,
    projection: Projection,
    e: int,
    members: list[int],
    what: WhatIf,
    callee_of: Mapping[int, tuple[str, bool]],
    span_cp: Mapping[int, int],
    duration: int,
) -> tuple[int, int, int, int]:
    kept = projection.kept
    matched = [
        u for u in matching_spans(tree, e, members, what.target, callee_of) if kept[u] == KEPT
    ]
    if not matched:
        return duration, 0, 0, 0
    starts, ends, applied = retime(tree, projection, e, dict.fromkeys(matched, what))
    new_path = walk(tree, Retimed(projection, starts, ends), e)  # type: ignore[arg-type]  # walk reads starts, ends, kept only
    projected = sum(end - start for _, start, end in new_path.sections)
    cut = sum(applied.values())
    bound = sum(min(applied[u], span_cp.get(u, 0)) for u in applied)
    return projected, len(matched), cut, bound
