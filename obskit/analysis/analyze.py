"""``analyze_trace``: one trace in, one ``TraceReport`` out (the contract: critical-path.md).

The steps, each in its own module: ``tree`` (parents, roots, orphans, cycles, duplicates),
``blocking`` (which children their parent waits for), ``clipping`` (fit children into their
parent), ``walk`` (the sections), ``hops`` (calls, callees, CP time, flags), ``graph`` (the
service dependency graph). None of them modifies the trace.
"""

from __future__ import annotations

from collections.abc import Mapping

from obskit.analysis.critical_path import compute
from obskit.analysis.graph import dependency_graph
from obskit.analysis.hops import build_hops
from obskit.analysis.outline import SpanOutline
from obskit.analysis.reports import (
    DependencyGraph,
    OperationTime,
    ServiceTime,
    SpanRef,
    TraceReport,
)
from obskit.analysis.tree import SpanTree
from obskit.gcpause import gc_paused
from obskit.model import Trace, TraceWarning
from obskit.units import format_ns

DEFAULT_THRESHOLD = 0.2


def analyze_trace(
    trace: Trace,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    jaeger_compat: bool = False,
    external_names: Mapping[str, str] | None = None,
) -> TraceReport:
    """Critical path, CP time per span/service/operation/hop, flagged hops, the dependency
    graph and warnings for one trace.

    ``threshold``: a hop is flagged when its CP time is at least this share of the request
    (the primary root's duration). ``jaeger_compat``: Jaeger UI's semantics (see README).
    ``external_names`` maps ``"host:port"`` or ``"host"`` of uninstrumented callees to names,
    e.g. ``{"127.0.0.1:8006": "payments-gateway"}``.
    """
    with gc_paused():
        return _analyze(trace, threshold, jaeger_compat, external_names)


def _analyze(
    trace: Trace, threshold: float, jaeger_compat: bool, external_names: Mapping[str, str] | None
) -> TraceReport:
    run = compute(trace, jaeger_compat=jaeger_compat)
    tree = run.tree
    sections = run.sections
    span_cp: dict[int, int] = {}
    for i, start, end in sections:
        span_cp[i] = span_cp.get(i, 0) + (end - start)
    entered = [u for path in run.paths for u in path.entered]
    primary = tree.primary
    request_ns = tree.ends[primary] - tree.starts[primary]
    if jaeger_compat and len(run.paths) > 1:
        # Jaeger concatenates the roots' paths: shares are of that whole
        request_ns = sum(span_cp.values()) or request_ns

    hop_run = build_hops(
        tree,
        span_cp,
        entered,
        request_ns=request_ns,
        threshold=threshold,
        external_names=external_names,
    )
    graph = dependency_graph(tree, hop_run, span_cp, entered)
    ids, spans = tree.ids, tree.spans
    span_critical_ns = {ids[i]: ns for i, ns in span_cp.items()}
    return TraceReport(
        trace_id=trace.trace_id,
        root=_ref(tree, primary),
        duration_ns=tree.ends[primary] - tree.starts[primary],
        span_count=len(trace.spans),
        services=tuple(_services(trace, tree, graph)),
        critical_path=tuple(
            SpanRef(ids[i], spans[i].service, spans[i].name, start, end)
            for i, start, end in sections
        ),
        by_service=_by_service(tree, graph, span_cp, request_ns),
        by_operation=_by_operation(tree, span_cp, request_ns),
        hops=tuple(hop_run.hops),
        graph=graph,
        roots=tuple(_ref(tree, r) for r in _roots_primary_first(tree)),
        warnings=tuple(trace.warnings) + tuple(run.warnings) + tuple(_roots_warning(tree)),
        threshold=threshold,
        span_critical_ns=span_critical_ns,
        outline=SpanOutline(tree, span_critical_ns, trace.spans),
    )


def _ref(tree: SpanTree, i: int) -> SpanRef:
    span = tree.spans[i]
    return SpanRef(span.span_id, span.service, span.name, span.start_ns, span.end_ns)


def _roots_primary_first(tree: SpanTree) -> list[int]:
    return [tree.primary] + [r for r in tree.roots if r != tree.primary]


def _share(ns: int, total: int) -> float:
    return ns / total if total > 0 else 0.0


def _services(trace: Trace, tree: SpanTree, graph: DependencyGraph) -> list[str]:
    if tree.spans is trace.spans:  # no duplicate ids left out: the graph counted them all
        return [node.id for node in graph.nodes if not node.external]
    return trace.services


def _by_service(
    tree: SpanTree, graph: DependencyGraph, span_cp: dict[int, int], total: int
) -> tuple[ServiceTime, ...]:
    # the graph's service nodes: every service of the tree, sorted
    per: dict[str, int] = dict.fromkeys([n.id for n in graph.nodes if not n.external], 0)
    spans = tree.spans
    for i, ns in span_cp.items():
        per[spans[i].service] += ns
    ordered = sorted(per.items(), key=lambda item: (-item[1], item[0]))
    return tuple(ServiceTime(name, ns, _share(ns, total)) for name, ns in ordered)


def _by_operation(tree: SpanTree, span_cp: dict[int, int], total: int) -> tuple[OperationTime, ...]:
    per: dict[tuple[str, str], int] = {}
    spans = tree.spans
    for i, ns in span_cp.items():
        key = (spans[i].service, spans[i].name)
        per[key] = per.get(key, 0) + ns
    ordered = sorted(per.items(), key=lambda item: (-item[1], item[0]))
    return tuple(OperationTime(s, op, ns, _share(ns, total)) for (s, op), ns in ordered)


def _roots_warning(tree: SpanTree) -> list[TraceWarning]:
    if len(tree.roots) < 2:
        return []
    primary = tree.spans[tree.primary]
    untraced = sum(end - start for start, end in tree.untraced_gaps())
    gap = f"; {format_ns(untraced)} between them is untraced" if untraced else ""
    ids = [tree.ids[r] for r in _roots_primary_first(tree)]
    return [
        TraceWarning(
            "several-roots",
            f"{len(ids)} roots: the report follows the longest, {primary.span_id} "
            f"({primary.service} {primary.name}, {format_ns(primary.duration_ns)}); "
            f"the other roots are listed separately{gap}",
            tuple(ids),
        )
    ]
