"""Big OTLP documents are read in slices (obskit.ingest.otlp_slices): the result must be the
one a whole parse gives, for every OTLP-shaped format, compact or pretty, with links (whose
opening bytes look like a span's), non-ASCII text and empty arrays; bad input must still end in
the whole parse's exact message."""

from __future__ import annotations

import random
from types import MappingProxyType

import orjson
import pytest

import obskit.ingest.otlp_slices as slices
from obskit.errors import InputError
from obskit.ingest import read_traces
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


def documents() -> list[bytes]:
    doc = trace_to_otlp(random_trace(120, 1))
    doc["resourceSpans"].insert(0, {"resource": {}, "scopeSpans": [{"spans": []}]})
    return [
        orjson.dumps(doc),
        orjson.dumps(doc, option=orjson.OPT_INDENT_2),
        orjson.dumps({"result": doc}),
        orjson.dumps({"trace": doc, "status": "PARTIAL", "message": "limit"}),
    ]


@pytest.fixture
def sliced(monkeypatch: pytest.MonkeyPatch):
    def read(data: bytes, size: int) -> list[Trace]:
        monkeypatch.setattr(slices, "MIN_BYTES", 0)
        monkeypatch.setattr(slices, "SLICE_BYTES", size)
        return list(read_traces(data))

    return read


def whole(data: bytes, monkeypatch: pytest.MonkeyPatch) -> list[Trace]:
    monkeypatch.setattr(slices, "MIN_BYTES", 1 << 62)
    return list(read_traces(data))


@pytest.mark.parametrize("index", range(4))
@pytest.mark.parametrize("size", [1, 300, 1 << 20])
def test_slices_give_the_whole_parse(sliced, monkeypatch, index: int, size: int) -> None:
    data = documents()[index]
    expected = whole(data, monkeypatch)
    assert sliced(data, size) == expected


def test_slices_are_really_used(sliced, monkeypatch) -> None:
    def no_whole_parse(*args, **kwargs):
        raise AssertionError("fell back to the whole parse")

    monkeypatch.setattr("obskit.ingest.load_json", no_whole_parse)
    assert sum(len(t) for t in sliced(documents()[1], 300)) == 120


def test_bad_span_gives_the_whole_parse_message(sliced, monkeypatch) -> None:
    doc = trace_to_otlp(random_trace(50, 2))
    doc["resourceSpans"][-1]["scopeSpans"][-1]["spans"][-1]["startTimeUnixNano"] = "soon"
    data = orjson.dumps(doc)
    with pytest.raises(InputError) as expected:
        whole(data, monkeypatch)
    with pytest.raises(InputError) as got:
        sliced(data, 200)
    assert str(got.value) == str(expected.value)
    assert "startTimeUnixNano: expected an integer, got 'soon'" in str(got.value)
