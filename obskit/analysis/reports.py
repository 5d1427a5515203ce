"""The report objects analyses return and renderers read. Times are integer nanoseconds.

``TraceReport.to_dict()`` is the documented JSON schema of ``obskit analyze --format json``;
its names are fixed (see the README).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from msgspec import Struct
from msgspec.structs import asdict as struct_dict

from obskit.model import TraceWarning

if TYPE_CHECKING:
    from obskit.analysis.outline import SpanOutline


@dataclass(frozen=True, slots=True)
class Section:
    """During ``[start_ns, end_ns)`` the request waited on this span itself, not its children."""

    span_id: str
    start_ns: int
    end_ns: int

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns


@dataclass(frozen=True, slots=True)
class SpanRef:
    """A span named for people: used for roots and critical-path steps."""

    span_id: str
    service: str
    operation: str
    start_ns: int
    end_ns: int


@dataclass(frozen=True, slots=True)
class ServiceTime:
    service: str
    critical_ns: int
    share: float


@dataclass(frozen=True, slots=True)
class OperationTime:
    service: str
    operation: str
    critical_ns: int
    share: float


class Hop(Struct, frozen=True, gc=False):
    """A call out of a service (a CLIENT or PRODUCER span) and what it cost the request.

    A struct rather than a dataclass like its neighbours: a big trace has a hop for every
    client span (230,000 in a 1M-span trace), and these build three times faster."""

    span_id: str
    caller: str
    callee: str
    external: bool
    operation: str
    duration_ns: int
    critical_ns: int
    critical_inclusive_ns: int
    client_gap_ns: int
    share: float
    flagged: bool
    reason: str


@dataclass(frozen=True, slots=True)
class GraphNode:
    id: str
    external: bool
    span_count: int


@dataclass(frozen=True, slots=True)
class GraphEdge:
    caller: str
    callee: str
    calls: int
    errors: int
    duration_ns: int
    critical_ns: int


@dataclass(frozen=True, slots=True)
class DependencyGraph:
    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]

    def to_networkx(self) -> Any:
        import networkx as nx

        graph = nx.DiGraph()
        for node in self.nodes:
            graph.add_node(node.id, external=node.external, span_count=node.span_count)
        for edge in self.edges:
            graph.add_edge(
                edge.caller,
                edge.callee,
                calls=edge.calls,
                errors=edge.errors,
                duration_ns=edge.duration_ns,
                critical_ns=edge.critical_ns,
            )
        return graph


@dataclass(frozen=True, slots=True)
class TraceReport:
    trace_id: str
    root: SpanRef
    duration_ns: int
    span_count: int
    services: tuple[str, ...]
    critical_path: tuple[SpanRef, ...]  # the primary root's sections, chronological
    by_service: tuple[ServiceTime, ...]  # critical_ns desc
    by_operation: tuple[OperationTime, ...]  # critical_ns desc
    hops: tuple[Hop, ...]  # critical_ns desc
    graph: DependencyGraph
    roots: tuple[SpanRef, ...]
    warnings: tuple[TraceWarning, ...]
    threshold: float
    # span id -> its CP time, for renderers that draw the tree or the waterfall
    span_critical_ns: dict[str, int] = field(default_factory=dict)
    # the span tree with its CP times, for renderers that draw it; not part of the JSON, nor
    # of equality (it is derived from the same analysis as every field above)
    outline: SpanOutline | None = field(default=None, compare=False, repr=False)

    @property
    def flagged_hops(self) -> tuple[Hop, ...]:
        return tuple(hop for hop in self.hops if hop.flagged)

    def to_dict(self) -> dict[str, Any]:
        return {
            "trace_id": self.trace_id,
            "root": asdict(self.root),
            "duration_ns": self.duration_ns,
            "span_count": self.span_count,
            "services": list(self.services),
            "critical_path": [asdict(step) for step in self.critical_path],
            "by_service": [asdict(s) for s in self.by_service],
            "by_operation": [asdict(o) for o in self.by_operation],
            "hops": [struct_dict(h) for h in self.hops],
            "graph": {
                "nodes": [asdict(n) for n in self.graph.nodes],
                "edges": [asdict(e) for e in self.graph.edges],
            },
            "roots": [asdict(r) for r in self.roots],
            "threshold": self.threshold,
            "warnings": [
                {"code": w.code, "message": w.message, "span_ids": list(w.span_ids)}
                for w in self.warnings
            ],
        }
