"""Big traces take the array path (obskit.analysis.arrays): it must give exactly the report of the
list path, which the case and property tests pin, on every kind of odd tree, and with or
without the columns the fast reader hands over (obskit.model.columns).

The random traces below have what the array path handles differently from the list path: span
ids reused (the first span keeps the id), parents anywhere in the trace (so reference cycles),
orphans, FOLLOWS_FROM-only links, producer/consumer pairs, links to other traces, skewed,
zero-length and back-to-back spans. Each is analysed with the array path forced on and off.
"""

from __future__ import annotations

import dataclasses
import random

import msgspec
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import obskit.analysis.tree as tree_module
import obskit.ingest.sniff as sniff
from obskit.analysis import analyze_trace
from obskit.analysis.blocking import non_blocking
from obskit.analysis.clipping import Projection
from obskit.analysis.tree import SpanTree
from obskit.ingest import read_trace
from obskit.ingest.otlp_writer import trace_to_otlp
from obskit.model import Reference, RefType, Span, SpanKind, Trace

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
OTHER_TRACE = "0af7651916cd43dd8448eb211c80319c"
KINDS = list(SpanKind)
BASE = 1_700_000_000_000_000_000


@st.composite
def odd_traces(draw: st.DrawFn) -> Trace:
    n = draw(st.integers(1, 30))
    ids = [f"{i + 1:016x}" for i in range(n)]
    spans = []
    for i in range(n):
        if i and draw(st.integers(0, 9)) == 0:
            ids[i] = ids[draw(st.integers(0, i - 1))]  # a duplicate id
        start = draw(st.integers(0, 24))
        end = draw(st.integers(start, 24))
        target = ids[draw(st.integers(0, n - 1))]  # anywhere: cycles happen
        how = draw(st.sampled_from(["child"] * 4 + ["follows", "orphan", "root", "other", "two"]))
        refs: tuple[Reference, ...] = {
            "child": (Reference(RefType.CHILD_OF, TRACE_ID, target),),
            "follows": (Reference(RefType.FOLLOWS_FROM, TRACE_ID, target),),
            "orphan": (Reference(RefType.CHILD_OF, TRACE_ID, "00000000000000ff"),),
            "root": (),
            "other": (Reference(RefType.FOLLOWS_FROM, OTHER_TRACE, target),),
            "two": (
                Reference(RefType.FOLLOWS_FROM, TRACE_ID, "00000000000000fe"),
                Reference(RefType.CHILD_OF, TRACE_ID, target),
            ),
        }[how]
        spans.append(
            Span(
                trace_id=TRACE_ID,
                span_id=ids[i],
                name=f"op{i % 7}",
                service=f"svc{draw(st.integers(0, 3))}",
                start_ns=BASE + start * 1000,
                end_ns=BASE + end * 1000,
                kind=draw(st.sampled_from(KINDS)),
                references=refs,
            )
        )
    return Trace(TRACE_ID, tuple(spans))


def analyzed(trace: Trace, *, bulk: bool, jaeger_compat: bool = False):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tree_module, "BULK_FROM", 0 if bulk else 10**9)
        return analyze_trace(trace, jaeger_compat=jaeger_compat)


@settings(max_examples=300, deadline=None)
@given(odd_traces(), st.booleans())
def test_the_array_path_gives_the_list_paths_report(trace: Trace, jaeger_compat: bool) -> None:
    lists = analyzed(trace, bulk=False, jaeger_compat=jaeger_compat)
    arrays = analyzed(trace, bulk=True, jaeger_compat=jaeger_compat)
    assert arrays == lists


@settings(max_examples=200, deadline=None)
@given(odd_traces(), st.booleans())
def test_the_array_path_builds_the_same_tree_and_projection(trace: Trace, compat: bool) -> None:
    lists, arrays = SpanTree(trace, bulk=False), SpanTree(trace, bulk=True)
    assert arrays.arrays is not None and lists.arrays is None
    for name in ("ids", "starts", "ends", "kinds", "parent", "follows", "orphans", "roots"):
        assert getattr(arrays, name) == getattr(lists, name), name
    assert arrays.primary == lists.primary
    assert arrays.warnings == lists.warnings
    assert [arrays.kids(u) for u in range(len(arrays.ids))] == lists.children
    assert arrays.children == lists.children
    skipped = non_blocking(lists, jaeger_compat=compat)
    assert non_blocking(arrays, jaeger_compat=compat) == skipped
    want, got = Projection(lists, skipped), Projection(arrays, skipped)
    for name in ("starts", "ends", "kept", "clipped", "skewed", "dropped"):
        assert getattr(got, name) == getattr(want, name), name


def test_a_deep_chain_and_a_wide_fan_out_agree() -> None:
    # 3,000 levels (pointer doubling takes 12 rounds) and 3,000 siblings, half of them late
    chain = [
        Span(TRACE_ID, f"{k + 1:016x}", f"level-{k}", "svc", BASE + k, BASE + 2 * 3000 - k)
        for k in range(3000)
    ]
    chain = [chain[0]] + [
        msgspec.structs.replace(s, references=(Reference(RefType.CHILD_OF, TRACE_ID, f"{k:016x}"),))
        for k, s in enumerate(chain[1:], start=1)
    ]
    root = Span(TRACE_ID, f"{10**6:016x}", "fan", "svc", BASE, BASE + 3000)
    fan = [root] + [
        Span(
            TRACE_ID,
            f"{10**6 + k + 1:016x}",
            "kid",
            "svc",
            BASE + k,
            BASE + k + (3000 if k % 2 else 10),
            references=(Reference(RefType.CHILD_OF, TRACE_ID, root.span_id),),
        )
        for k in range(3000)
    ]
    for spans in (chain, fan):
        trace = Trace(TRACE_ID, tuple(spans))
        assert SpanTree(trace).arrays is not None  # big enough for the array path by default
        assert analyzed(trace, bulk=True) == analyzed(trace, bulk=False)


def random_otlp_trace(n: int, seed: int) -> Trace:
    rng = random.Random(seed)
    spans: list[Span] = []
    for i in range(n):
        parent = spans[rng.randrange(i)] if i else None
        start = BASE if parent is None else rng.randrange(parent.start_ns, parent.end_ns + 1)
        end = start + rng.randrange(10**6)
        missing = i and rng.random() < 0.02
        spans.append(
            Span(
                TRACE_ID,
                f"{rng.getrandbits(63) | 1:016x}",
                f"op{i % 5}",
                f"svc{i % 4}",
                start,
                end,
                kind=rng.choice([SpanKind.SERVER, SpanKind.CLIENT, SpanKind.INTERNAL]),
                references=()
                if parent is None
                else (
                    Reference(
                        RefType.CHILD_OF,
                        TRACE_ID,
                        "00000000000000ff" if missing else parent.span_id,
                    ),
                ),
                attributes={"server.address": f"host-{i % 3}", "server.port": 443},
            )
        )
    return Trace(TRACE_ID, tuple(spans))


@pytest.mark.parametrize("seed", range(3))
def test_the_readers_columns_give_the_same_report(monkeypatch, seed: int) -> None:
    monkeypatch.setattr(sniff, "FAST_MIN_BYTES", 0)
    trace = read_trace(orjson.dumps(trace_to_otlp(random_otlp_trace(3000, seed))))
    assert trace.columns is not None and trace.columns.describes(trace.spans)
    without = dataclasses.replace(trace, columns=None)
    report = analyze_trace(trace)
    assert report == analyze_trace(without)
    assert report == analyzed(without, bulk=False)
    assert any(w.code == "orphan" for w in report.warnings)


def test_columns_of_other_spans_are_ignored(monkeypatch) -> None:
    # a trace made from another one's spans keeps no stale columns in play
    monkeypatch.setattr(sniff, "FAST_MIN_BYTES", 0)
    trace = read_trace(orjson.dumps(trace_to_otlp(random_otlp_trace(3000, 7))))
    fewer = dataclasses.replace(trace, spans=trace.spans[:2500])
    assert fewer.columns is trace.columns and not fewer.columns.describes(fewer.spans)
    assert analyze_trace(fewer) == analyzed(dataclasses.replace(fewer, columns=None), bulk=False)


def test_times_past_int64_and_a_forest_of_roots_agree() -> None:
    # a time no int64 holds sends the trace down the list path; 2,500 roots have no children
    roots = [
        Span(TRACE_ID, f"{k + 1:016x}", "op", f"svc{k % 3}", BASE + k, BASE + k + 10)
        for k in range(2500)
    ]
    late = msgspec.structs.replace(roots[-1], end_ns=2**64)
    for spans in (roots, [*roots[:-1], late]):
        trace = Trace(TRACE_ID, tuple(spans))
        assert (SpanTree(trace).arrays is None) == (spans[-1] is late)
        assert analyzed(trace, bulk=True) == analyzed(trace, bulk=False)
