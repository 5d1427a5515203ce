"""Properties on random trees: the tiling invariant, agreement with a naive reference
implementation of critical-path.md, and the trace left untouched.

The trees are small on purpose: times on a 0..24 grid make ties, back-to-back siblings and
zero-length spans common; children may lie partly or wholly outside their parent (skew),
hang on a parent that is not in the trace (orphans) or through FOLLOWS_FROM, and any span
may be a PRODUCER with CONSUMER children.
"""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from obskit.analysis import analyze_trace, critical_paths
from obskit.model import Reference, RefType, Span, SpanKind, Trace

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
KINDS = [SpanKind.INTERNAL, SpanKind.CLIENT, SpanKind.SERVER, SpanKind.PRODUCER, SpanKind.CONSUMER]
BASE = 1_700_000_000_000_000_000


@st.composite
def traces(draw: st.DrawFn) -> Trace:
    n = draw(st.integers(1, 25))
    spans = []
    for i in range(n):
        start = draw(st.integers(0, 24))
        end = draw(st.integers(start, 24))
        refs: tuple[Reference, ...] = ()
        if i:
            how = draw(st.sampled_from(["child", "child", "child", "follows", "orphan", "root"]))
            parent = f"{draw(st.integers(0, i - 1)):016x}"
            if how == "child":
                refs = (Reference(RefType.CHILD_OF, TRACE_ID, parent),)
            elif how == "follows":
                refs = (Reference(RefType.FOLLOWS_FROM, TRACE_ID, parent),)
            elif how == "orphan":
                refs = (Reference(RefType.CHILD_OF, TRACE_ID, "ffffffffffffffff"),)
        spans.append(
            Span(
                trace_id=TRACE_ID,
                span_id=f"{i:016x}",
                name=f"op{i}",
                service=f"svc{draw(st.integers(0, 3))}",
                start_ns=BASE + start * 1000,
                end_ns=BASE + end * 1000,
                kind=draw(st.sampled_from(KINDS)),
                references=refs,
            )
        )
    order = draw(st.permutations(range(n)))
    return Trace(TRACE_ID, tuple(spans[i] for i in order))


@settings(max_examples=200, deadline=None)
@given(traces())
def test_sections_tile_every_root(trace: Trace) -> None:
    by_id = {s.span_id: s for s in trace.spans}
    for root_id, sections in critical_paths(trace).items():
        root = by_id[root_id]
        at = root.start_ns
        for i, section in enumerate(sections):
            assert section.start_ns == at
            assert section.end_ns > section.start_ns
            if i:  # adjacent sections of one span are merged
                assert section.span_id != sections[i - 1].span_id
            at = section.end_ns
        assert at == root.end_ns
        assert sum(s.duration_ns for s in sections) == root.duration_ns


@settings(max_examples=100, deadline=None)
@given(traces())
def test_jaeger_compat_tiles_every_root_with_a_parent_rule(trace: Trace) -> None:
    by_id = {s.span_id: s for s in trace.spans}
    for root_id, sections in critical_paths(trace, jaeger_compat=True).items():
        root = by_id[root_id]
        if any(r.ref_type is RefType.CHILD_OF for r in root.references):
            assert sections == []  # an orphan root: Jaeger UI shows nothing
            continue
        assert sum(s.duration_ns for s in sections) == root.duration_ns
        for before, after in itertools.pairwise(sections):
            assert before.end_ns == after.start_ns


@settings(max_examples=200, deadline=None)
@given(traces(), st.booleans())
def test_agrees_with_the_naive_reference(trace: Trace, jaeger_compat: bool) -> None:
    got = {
        root: [(s.span_id, s.start_ns, s.end_ns) for s in sections]
        for root, sections in critical_paths(trace, jaeger_compat=jaeger_compat).items()
    }
    assert got == reference_paths(trace, jaeger_compat)


@settings(max_examples=50, deadline=None)
@given(traces())
def test_the_trace_is_never_modified(trace: Trace) -> None:
    before = snapshot(trace)
    spans = trace.spans
    analyze_trace(trace)
    analyze_trace(trace, jaeger_compat=True)
    assert trace.spans is spans
    assert snapshot(trace) == before


def snapshot(trace: Trace) -> list[tuple]:
    return [
        (s.span_id, s.start_ns, s.end_ns, s.kind, s.references, dict(s.attributes), s.service)
        for s in trace.spans
    ]


# -- a deliberately naive reading of critical-path.md, recursive and quadratic ---------------


def reference_paths(trace: Trace, compat: bool) -> dict[str, list[tuple[str, int, int]]]:
    spans: dict[str, Span] = {}
    for s in trace.spans:
        spans.setdefault(s.span_id, s)
    parent: dict[str, str] = {}
    via_follows: set[str] = set()
    orphan: set[str] = set()
    for sid, s in spans.items():
        child_of = [r for r in s.references if r.ref_type is RefType.CHILD_OF]
        if child_of:
            if child_of[0].span_id in spans:
                parent[sid] = child_of[0].span_id
            else:
                orphan.add(sid)
            continue
        present = [r for r in s.references if r.span_id in spans]
        if present:
            parent[sid] = present[0].span_id
            via_follows.add(sid)
        elif s.references:
            orphan.add(sid)
    roots = sorted((s for s in spans if s not in parent), key=lambda r: (spans[r].start_ns, r))

    def blocking(child: str) -> bool:
        p = spans[parent[child]]
        if p.kind is SpanKind.PRODUCER and spans[child].kind is SpanKind.CONSUMER:
            return False
        return compat or child not in via_follows

    interval: dict[str, tuple[int, int]] = {}

    def clip(sid: str, ps: int, pe: int) -> None:
        for child in sorted(c for c in parent if parent[c] == sid and blocking(c)):
            cs, ce = spans[child].start_ns, spans[child].end_ns
            if cs >= pe or ce <= ps:
                continue
            interval[child] = (max(cs, ps), min(ce, pe))
            clip(child, *interval[child])

    result = {}
    for root in roots:
        interval[root] = (spans[root].start_ns, spans[root].end_ns)
        clip(root, *interval[root])
        if compat and root in orphan:
            result[root] = []
            continue
        sections: list[tuple[str, int, int]] = []
        # ties on end: earliest clipped start, then smallest id; Jaeger UI (compat) instead
        # keeps the first in its own order: unclipped start, then position in the trace
        ties = (
            {sid: (s.start_ns, i) for i, (sid, s) in enumerate(spans.items())}
            if compat
            else {sid: (interval[sid][0], sid) for sid in interval}
        )
        reference_walk(
            root, interval[root][1], False, parent, interval, ties, compat, set(), sections
        )
        sections = [s for s in reversed(sections) if s[2] > s[1]]
        if not compat:
            merged: list[tuple[str, int, int]] = []
            for s in sections:
                if merged and merged[-1][0] == s[0] and merged[-1][2] == s[1]:
                    merged[-1] = (s[0], merged[-1][1], s[2])
                else:
                    merged.append(s)
            sections = merged
        result[root] = sections
    return result


def reference_walk(
    sid: str,
    boundary: int,
    returning: bool,
    parent: dict[str, str],
    interval: dict[str, tuple[int, int]],
    ties: dict[str, tuple[int, int | str]],
    compat: bool,
    picked: set[str],
    sections: list[tuple[str, int, int]],
) -> None:
    """§4 read literally: sections are appended newest first."""
    kids = [c for c in interval if parent.get(c) == sid and c not in picked]
    if compat and returning:
        kids = [c for c in kids if interval[c][1] < boundary]
    else:
        kids = [c for c in kids if interval[c][1] <= boundary]
    if not kids:
        sections.append((sid, interval[sid][0], boundary))
        return
    best = min(kids, key=lambda c: (-interval[c][1], *ties[c]))
    picked.add(best)
    sections.append((sid, interval[best][1], boundary))
    args = (parent, interval, ties, compat, picked, sections)
    reference_walk(best, interval[best][1], False, *args)
    reference_walk(sid, interval[best][0], True, *args)
