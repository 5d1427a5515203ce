"""Big OTLP-shaped documents go to the fast struct reader (obskit.ingest.otlp_structs): the
result must be the one a parse into dicts gives, for every OTLP-shaped format, compact or
pretty, with links, non-ASCII text, Jaeger's private attributes and empty arrays; bad input must
still end in the careful path's exact message; attributes stay JSON text until first read."""

from __future__ import annotations

import random
from types import MappingProxyType

import orjson
import pytest

import obskit.ingest.sniff as sniff
from obskit.errors import InputError
from obskit.ingest import read_trace, read_traces
from obskit.ingest.deferred_attributes import DeferredAttributes
from obskit.ingest.otlp_writer import trace_to_otlp
from obskit.model import Event, Link, Reference, RefType, Span, SpanKind, Trace

TID = "5b8efff798038103d269b633813fc60c"


def random_trace(n: int, seed: int) -> Trace:
    rng = random.Random(seed)
    spans: list[Span] = []
    for i in range(n):
        refs = (
            () if i == 0 else (Reference(RefType.CHILD_OF, TID, spans[rng.randrange(i)].span_id),)
        )
        links = tuple(
            Link("ab" * 16, f"{rng.getrandbits(63) | 1:016x}", MappingProxyType({"k": "v"}))
            for _ in range(rng.randrange(3))
        )
        spans.append(
            Span(
                TID,
                f"{rng.getrandbits(63) | 1:016x}",
                rng.choice(["GET /é", 'x"]},{"traceId"', "op"]),
                f"svc-{rng.randrange(3)}",
                10,
                20 + i,
                kind=SpanKind(rng.randrange(6)),
                references=refs,
                links=links,
                events=(Event(5, "ev", MappingProxyType({"a": 1})),) if i % 3 else (),
                attributes=MappingProxyType({"a": "x", "n": i % 7, "f": 1.5, "b": True}),
                resource=MappingProxyType({"r": i % 2}),
                scope=rng.choice(["", "s1"]),
            )
        )
    return Trace(TID, tuple(spans))


def documents(jaeger_private: bool = True) -> list[bytes]:
    doc = trace_to_otlp(random_trace(120, 1))
    doc["resourceSpans"].insert(0, {"resource": {}, "scopeSpans": [{"spans": []}]})
    if jaeger_private:  # Jaeger's own attribute keys, which become warnings
        doc["resourceSpans"][1]["scopeSpans"][0]["spans"][0]["attributes"] = [
            {"key": "@jaeger@warnings", "value": {"stringValue": "clock skew adjusted"}},
            {"key": "a", "value": {"stringValue": "x"}},
        ]
    tempo_v1 = {"batches": doc["resourceSpans"]}
    old = orjson.loads(orjson.dumps(tempo_v1))
    for rs in old["batches"]:
        rs["instrumentationLibrarySpans"] = rs.pop("scopeSpans")
        for ss in rs["instrumentationLibrarySpans"]:
            if "scope" in ss:
                ss["instrumentationLibrary"] = ss.pop("scope")
    return [
        orjson.dumps(doc),
        orjson.dumps(doc, option=orjson.OPT_INDENT_2),
        orjson.dumps({"result": doc}),
        orjson.dumps({"trace": doc, "status": "PARTIAL", "message": "limit"}),
        orjson.dumps(tempo_v1),
        orjson.dumps(old),
    ]


def fast(data: bytes, monkeypatch: pytest.MonkeyPatch) -> list[Trace]:
    monkeypatch.setattr(sniff, "FAST_MIN_BYTES", 0)
    return list(read_traces(data))


def careful(data: bytes, monkeypatch: pytest.MonkeyPatch) -> list[Trace]:
    monkeypatch.setattr(sniff, "FAST_MIN_BYTES", 1 << 62)
    return list(read_traces(data))


@pytest.mark.parametrize("index", range(6))
def test_fast_reader_gives_the_careful_result(monkeypatch, index: int) -> None:
    data = documents()[index]
    expected = careful(data, monkeypatch)
    got = fast(data, monkeypatch)
    assert got == expected
    assert sum(len(t) for t in got) == 120
    assert any(w.message == "Jaeger: clock skew adjusted" for t in got for w in t.warnings)


@pytest.mark.parametrize("index", range(6))
def test_fast_reader_is_really_used(monkeypatch, index: int) -> None:
    def no_careful_parse(*args, **kwargs):
        raise AssertionError("fell back to the careful parse")

    monkeypatch.setattr("obskit.ingest.load_json", no_careful_parse)
    traces = fast(documents(jaeger_private=False)[index], monkeypatch)
    assert sum(len(t) for t in traces) == 120
    deferred = [s for t in traces for s in t.spans if isinstance(s.attributes, DeferredAttributes)]
    assert len(deferred) == 120


def test_bad_span_gives_the_careful_message(monkeypatch) -> None:
    doc = trace_to_otlp(random_trace(50, 2))
    doc["resourceSpans"][-1]["scopeSpans"][-1]["spans"][-1]["startTimeUnixNano"] = "soon"
    data = orjson.dumps(doc)
    with pytest.raises(InputError) as expected:
        careful(data, monkeypatch)
    with pytest.raises(InputError) as got:
        fast(data, monkeypatch)
    assert str(got.value) == str(expected.value)
    assert "startTimeUnixNano: expected an integer, got 'soon'" in str(got.value)


@pytest.mark.parametrize(
    "attributes",
    [None, [], {"a": 1}, "text", [{"key": "a", "value": {"stringValue": "x"}}]],
)
def test_attribute_shapes_read_alike(monkeypatch, attributes) -> None:
    doc = trace_to_otlp(random_trace(3, 3))
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"] = attributes
    data = orjson.dumps(doc)
    try:
        expected = careful(data, monkeypatch)
    except InputError as err:
        with pytest.raises(InputError) as got:
            fast(data, monkeypatch)
        assert str(got.value) == str(err)
    else:
        assert fast(data, monkeypatch) == expected


def test_a_malformed_attribute_is_reported_when_read(monkeypatch) -> None:
    doc = trace_to_otlp(random_trace(3, 4))
    span = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span["attributes"] = [
        {"key": "ok", "value": {"stringValue": "x"}},
        {"key": "n", "value": {"intValue": "twelve"}},
    ]
    monkeypatch.setattr(sniff, "FAST_MIN_BYTES", 0)
    trace = read_trace(orjson.dumps(doc))
    read = next(s for s in trace.spans if s.span_id == span["spanId"])
    with pytest.raises(InputError) as err:
        read.attributes.get("ok")
    assert str(err.value) == (
        f"span {span['spanId']}: attributes[1].value.intValue: expected an integer, got 'twelve'"
    )
