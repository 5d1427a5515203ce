"""The aggregate report: what an endpoint's latency is made of, over many traces.

``AggregateReport.to_dict()`` is the JSON schema of ``obskit analyze --service ... --format
json``. These names are fixed (times are integer nanoseconds)::

    {"traces": N, "duration_ns": {"p50", "p95", "p99"},
     "hops": [{"caller", "callee", "external", "critical_ns": {"p50", "p95", "p99", "total"},
               "share", "critical_in", "flagged", "reason", "exemplar_trace_id"}],
     "operations": [{"service", "operation", "critical_ns": {...}, "share", "critical_in",
                     "exemplar_trace_id"}],
     "warnings": [{"code", "message", "trace_ids"}]}

``hops`` and ``operations`` are ranked by total critical time, highest first. The report also
carries ``endpoint``, ``traces_found``, ``threshold``, ``slow_factor``, ``paths`` (call paths
by CP time), ``what_if`` and ``comparison`` (each ``null`` or ``[]`` when not asked for), and
``quantile_accuracy``: every p50/p95/p99 is within that relative error of the exact
nearest-rank value (0.01: ±1 %; they come from a mergeable sketch).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Spread:
    """CP time of one key across traces: percentiles over the traces the key occurs in (0
    where it occurred but was not critical) and the total over all traces."""

    p50: int
    p95: int
    p99: int
    total: int

    def to_dict(self) -> dict[str, int]:
        return {"p50": self.p50, "p95": self.p95, "p99": self.p99, "total": self.total}


@dataclass(frozen=True, slots=True)
class HopStat:
    caller: str
    callee: str
    external: bool
    critical_ns: Spread
    share: float  # total CP time / total endpoint latency of all traces
    critical_in: int  # traces in which this hop held CP time
    occurs_in: int  # traces in which the hop was called at all
    flagged: bool
    reason: str
    exemplar_trace_id: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "caller": self.caller,
            "callee": self.callee,
            "external": self.external,
            "critical_ns": self.critical_ns.to_dict(),
            "share": self.share,
            "critical_in": self.critical_in,
            "flagged": self.flagged,
            "reason": self.reason,
            "exemplar_trace_id": self.exemplar_trace_id,
        }


@dataclass(frozen=True, slots=True)
class OperationStat:
    service: str
    operation: str
    critical_ns: Spread
    share: float
    critical_in: int
    occurs_in: int
    exemplar_trace_id: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "operation": self.operation,
            "critical_ns": self.critical_ns.to_dict(),
            "share": self.share,
            "critical_in": self.critical_in,
            "exemplar_trace_id": self.exemplar_trace_id,
        }


@dataclass(frozen=True, slots=True)
class PathStat:
    """A call path (root → … → span; frames are ``service: operation``) and the CP time its
    last span held itself."""

    frames: tuple[str, ...]
    critical_ns: int
    share: float
    critical_in: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "frames": list(self.frames),
            "critical_ns": self.critical_ns,
            "share": self.share,
            "critical_in": self.critical_in,
        }


@dataclass(frozen=True, slots=True)
class WhatIfResult:
    target: str  # callee, service or operation name
    change: str  # as given: "-300ms", "-50%"
    matched_traces: int
    matched_spans: int
    before: dict[str, int]  # endpoint latency {"p50", "p95", "p99"}
    after: dict[str, int]
    saved_total_ns: int  # summed over all traces
    bound_total_ns: int  # Σ min(cut, CP time) over the matched spans: the most it could save

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "change": self.change,
            "matched_traces": self.matched_traces,
            "matched_spans": self.matched_spans,
            "duration_ns_before": dict(self.before),
            "duration_ns_after": dict(self.after),
            "saved_total_ns": self.saved_total_ns,
            "bound_total_ns": self.bound_total_ns,
        }


@dataclass(frozen=True, slots=True)
class Change:
    """One hop or operation in two windows: mean CP time per trace, p50 and p95 in each."""

    kind: str  # "hop" or "operation"
    name: tuple[str, str]  # (caller, callee) or (service, operation)
    external: bool
    before: dict[str, int]  # {"mean", "p50", "p95"}
    after: dict[str, int]
    change_ns: int  # after.mean - before.mean

    def to_dict(self) -> dict[str, Any]:
        first, second = ("caller", "callee") if self.kind == "hop" else ("service", "operation")
        out: dict[str, Any] = {"kind": self.kind, first: self.name[0], second: self.name[1]}
        if self.kind == "hop":
            out["external"] = self.external
        out.update(before=dict(self.before), after=dict(self.after), change_ns=self.change_ns)
        return out


@dataclass(frozen=True, slots=True)
class Comparison:
    window: str  # the other window, as given
    baseline: AggregateReport
    changes: tuple[Change, ...]  # by |change_ns| desc

    def to_dict(self) -> dict[str, Any]:
        return {
            "window": self.window,
            "traces": self.baseline.traces,
            "duration_ns": dict(self.baseline.duration_ns),
            "changes": [c.to_dict() for c in self.changes],
        }


@dataclass(frozen=True, slots=True)
class AggregateWarning:
    code: str
    message: str
    trace_ids: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "trace_ids": list(self.trace_ids)}


@dataclass(frozen=True, slots=True)
class EdgeStat:
    """An edge of the dependency graph over many traces."""

    caller: str
    callee: str
    external: bool
    calls: int
    errors: int
    duration_ns: dict[str, int]  # per call {"p50", "p95", "p99"}
    critical_ns: int  # total over the traces

    @property
    def error_rate(self) -> float:
        return self.errors / self.calls if self.calls else 0.0


@dataclass(frozen=True, slots=True)
class NodeStat:
    id: str
    external: bool
    spans: int
    critical_ns: int  # total CP time the service's own spans held
    share: float  # of the total endpoint latency


@dataclass(frozen=True, slots=True)
class AggregateGraph:
    nodes: tuple[NodeStat, ...]
    edges: tuple[EdgeStat, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "nodes": [
                {
                    "id": n.id,
                    "external": n.external,
                    "span_count": n.spans,
                    "critical_ns": n.critical_ns,
                    "share": n.share,
                }
                for n in self.nodes
            ],
            "edges": [
                {
                    "caller": e.caller,
                    "callee": e.callee,
                    "external": e.external,
                    "calls": e.calls,
                    "errors": e.errors,
                    "error_rate": e.error_rate,
                    "duration_ns": dict(e.duration_ns),
                    "critical_ns": e.critical_ns,
                }
                for e in self.edges
            ],
        }


@dataclass(frozen=True, slots=True)
class HeatMap:
    """CP time of the top operations (rows) in a sample of traces (columns, by duration)."""

    operations: tuple[tuple[str, str], ...]
    trace_ids: tuple[str, ...]
    durations: tuple[int, ...]
    cells: tuple[tuple[int, ...], ...]  # cells[row][column] = CP ns


@dataclass(frozen=True, slots=True)
class AggregateReport:
    endpoint: dict[str, str | None]  # {"service", "operation"}
    traces: int  # analysed
    traces_found: int  # found by the search (or in the files), analysed or not
    duration_ns: dict[str, int]
    total_duration_ns: int
    hops: tuple[HopStat, ...]
    operations: tuple[OperationStat, ...]
    paths: tuple[PathStat, ...]
    warnings: tuple[AggregateWarning, ...]
    threshold: float
    slow_factor: float
    graph: AggregateGraph
    heat_map: HeatMap
    # every call path with CP time: frames -> total ns (for folded output)
    folded: dict[tuple[str, ...], int] = field(default_factory=dict)
    what_if: tuple[WhatIfResult, ...] = ()
    comparison: Comparison | None = None
    # relative accuracy of every p50/p95/p99 (a mergeable sketch's; 0.0: exact)
    accuracy: float = 0.0

    @property
    def flagged_hops(self) -> tuple[HopStat, ...]:
        return tuple(h for h in self.hops if h.flagged)

    def to_dict(self) -> dict[str, Any]:
        return {
            "endpoint": dict(self.endpoint),
            "traces": self.traces,
            "traces_found": self.traces_found,
            "duration_ns": dict(self.duration_ns),
            "quantile_accuracy": self.accuracy,
            "threshold": self.threshold,
            "slow_factor": self.slow_factor,
            "hops": [h.to_dict() for h in self.hops],
            "operations": [o.to_dict() for o in self.operations],
            "paths": [p.to_dict() for p in self.paths],
            "what_if": [w.to_dict() for w in self.what_if],
            "comparison": self.comparison.to_dict() if self.comparison else None,
            "warnings": [w.to_dict() for w in self.warnings],
        }
