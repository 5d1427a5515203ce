"""The critical path of a trace: tree → blocking → clipping → walk, on a projection.

``critical_path(trace)`` is the primary root's path (the longest root); ``critical_paths``
gives every root its own. With ``jaeger_compat=True`` the result is what Jaeger UI shows: the
paths of all roots concatenated, an orphan root (parent never collected) contributing nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from obskit.analysis.blocking import non_blocking
from obskit.analysis.clipping import Projection
from obskit.analysis.reports import Section
from obskit.analysis.tree import SpanTree
from obskit.analysis.walk import RootPath, walk
from obskit.errors import InputError
from obskit.gcpause import gc_paused
from obskit.model import Trace, TraceWarning


@dataclass(slots=True)
class CriticalPathRun:
    """Everything one computation produced, for the later analysis steps."""

    tree: SpanTree
    projection: Projection
    paths: list[RootPath]  # the primary root's first (all roots' in compat mode, in order)
    warnings: list[TraceWarning]

    @property
    def sections(self) -> list[tuple[int, int, int]]:
        if len(self.paths) == 1:
            return self.paths[0].sections
        return [section for path in self.paths for section in path.sections]


def compute(
    trace: Trace, *, jaeger_compat: bool = False, all_roots: bool = False
) -> CriticalPathRun:
    tree = SpanTree(trace)
    if not tree.roots:
        raise InputError(f"trace {trace.trace_id} has no spans to analyse")
    projection = Projection(tree, non_blocking(tree, jaeger_compat=jaeger_compat))
    roots = tree.roots if jaeger_compat or all_roots else [tree.primary]
    paths = [_root_path(tree, projection, r, jaeger_compat) for r in roots]
    return CriticalPathRun(tree, projection, paths, tree.warnings + projection.warnings(tree))


def _root_path(tree: SpanTree, projection: Projection, root: int, jaeger_compat: bool) -> RootPath:
    if jaeger_compat and root in tree.orphans:
        # Jaeger UI drops a span whose parent is missing, and with it the whole path
        return RootPath(root, [], [])
    return walk(tree, projection, root, jaeger_compat=jaeger_compat)


def critical_path(trace: Trace, *, jaeger_compat: bool = False) -> list[Section]:
    """The primary root's critical path, chronological. The trace is not modified.

    >>> [(s.span_id, s.start_ns, s.end_ns) for s in critical_path(trace)]  # doctest: +SKIP
    """
    with gc_paused():
        run = compute(trace, jaeger_compat=jaeger_compat)
        ids = run.tree.ids
        return [Section(ids[i], start, end) for i, start, end in run.sections]


def critical_paths(trace: Trace, *, jaeger_compat: bool = False) -> dict[str, list[Section]]:
    """Every root's own critical path, keyed by root span id, roots in chronological order."""
    with gc_paused():
        run = compute(trace, jaeger_compat=jaeger_compat, all_roots=True)
        ids = run.tree.ids
        return {
            ids[path.root]: [Section(ids[i], start, end) for i, start, end in path.sections]
            for path in run.paths
        }
