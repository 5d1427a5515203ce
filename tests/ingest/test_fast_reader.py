"""Big OTLP-shaped documents go to the fast struct reader (obskit.ingest.otlp_structs): the
result must be the one a parse into dicts gives, for every OTLP-shaped format, compact or
pretty, with links, non-ASCII text, Jaeger's private attributes and empty arrays; bad input must
still end in the careful path's exact message; attributes stay JSON text until first read."""

from __future__ import annotations

import random
from types import MappingProxyType

import msgspec
import orjson
import pytest

import obskit.ingest.otlp_columns as columns_module
import obskit.ingest.otlp_structs as structs
import obskit.ingest.sniff as sniff
from obskit.errors import InputError
from obskit.ingest import read_trace, read_traces
from obskit.ingest.assemble import TraceSet
from obskit.ingest.deferred_attributes import DeferredAttributes
from obskit.ingest.otlp_columns import span_columns
from obskit.ingest.otlp_writer import trace_to_otlp
from obskit.model import Event, Link, Reference, RefType, Span, SpanKind, Trace
from obskit.model.columns import ColumnChunk

CHUNK_FIELDS = ("ids", "id_hex", "starts", "ends", "kinds", "has_parent", "parent_hex")

TID = "5b8efff798038103d269b633813fc60c"


def random_trace(n: int, seed: int, links: bool = True) -> Trace:
    rng = random.Random(seed)
    spans: list[Span] = []
    for i in range(n):
        refs = (
            () if i == 0 else (Reference(RefType.CHILD_OF, TID, spans[rng.randrange(i)].span_id),)
        )
        links = tuple(
            Link("ab" * 16, f"{rng.getrandbits(63) | 1:016x}", MappingProxyType({"k": "v"}))
            for _ in range(rng.randrange(3) if links else 0)
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


def documents(jaeger_private: bool = True, links: bool = True) -> list[bytes]:
    doc = trace_to_otlp(random_trace(120, 1, links))
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


def fast(data: bytes, monkeypatch: pytest.MonkeyPatch, columns_from: int = 0) -> list[Trace]:
    monkeypatch.setattr(sniff, "FAST_MIN_BYTES", 0)
    monkeypatch.setattr(structs, "COLUMNS_FROM", columns_from)
    return list(read_traces(data))


def careful(data: bytes, monkeypatch: pytest.MonkeyPatch) -> list[Trace]:
    monkeypatch.setattr(sniff, "FAST_MIN_BYTES", 1 << 62)
    return list(read_traces(data))


# Lists without links are converted a column at a time (obskit.ingest.otlp_columns); with
# links, or below COLUMNS_FROM spans, span by span.
@pytest.mark.parametrize("columns_from", [0, 1 << 30])
@pytest.mark.parametrize("links", [True, False])
@pytest.mark.parametrize("index", range(6))
def test_fast_reader_gives_the_careful_result(monkeypatch, index, links, columns_from) -> None:
    data = documents(links=links)[index]
    expected = careful(data, monkeypatch)
    got = fast(data, monkeypatch, columns_from)
    assert got == expected
    assert sum(len(t) for t in got) == 120
    assert any(w.message == "Jaeger: clock skew adjusted" for t in got for w in t.warnings)


@pytest.mark.parametrize("index", range(6))
def test_fast_reader_is_really_used(monkeypatch, index: int) -> None:
    def no_careful_parse(*args, **kwargs):
        raise AssertionError("fell back to the careful parse")

    columns: list[int] = []

    def counted(*args):
        converted = span_columns(*args)
        columns.append(0 if converted is None else len(converted[0]))
        return converted

    monkeypatch.setattr("obskit.ingest.load_json", no_careful_parse)
    monkeypatch.setattr(structs, "span_columns", counted)
    traces = fast(documents(jaeger_private=False, links=False)[index], monkeypatch)
    assert sum(len(t) for t in traces) == 120
    assert sum(columns) == 120  # every list went a column at a time
    for trace in traces:  # and the analysis gets the columns
        assert trace.columns is not None and trace.columns.describes(trace.spans)
        assert trace.columns.ids == [s.span_id for s in trace.spans]
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


@pytest.mark.parametrize("window", [None, 2])
def test_json_lines_read_alike(monkeypatch, window) -> None:
    lines = [
        orjson.dumps(trace_to_otlp(random_trace(30, seed, links=seed % 2 == 0)))
        for seed in range(4)
    ]
    lines.insert(2, orjson.dumps({"resourceMetrics": []}))
    lines.append(orjson.dumps({"result": trace_to_otlp(random_trace(5, 9))}))
    data = b"\n".join(lines) + b"\n"
    fast_lines = list(read_traces(data, window=window))
    monkeypatch.setattr("obskit.ingest.read_bytes", lambda *args: None)
    assert fast_lines == list(read_traces(data, window=window))
    assert sum(len(t) for t in fast_lines) == 125


# the last: the latest times the model holds (int64 nanoseconds)
@pytest.mark.parametrize("base", [0, 7, 10**18, 9 * 10**18, 2**63 - 10**6 - 3])
def test_times_parsed_a_column_at_a_time_are_exact(monkeypatch, base: int) -> None:
    # big lists parse their times with numpy when all have one width (at most 19 digits: 64
    # bits); any other width, or a mix, goes through int(): both give the careful result
    monkeypatch.setattr(columns_module, "NUMERIC_FROM", 0)
    trace = random_trace(60, 3, links=False)
    rng = random.Random(base)
    spans = []
    for span in trace.spans:
        start = base + rng.randrange(10**6 if base else 2)
        spans.append(msgspec.structs.replace(span, start_ns=start, end_ns=start + rng.randrange(3)))
    data = orjson.dumps(trace_to_otlp(Trace(TID, tuple(spans))))
    got = fast(data, monkeypatch)
    assert got == careful(data, monkeypatch)
    assert [s.start_ns for s in got[0].spans] == [s.start_ns for s in spans]


@pytest.mark.parametrize("window", [None, 1])
def test_json_lines_traces_leave_nothing_behind(window) -> None:
    # each trace goes out with its columns: a reader that kept them would grow with the file
    # (the sniffer parses line 1 the careful way: that trace has none)
    lines = []
    for seed in range(5):
        doc = trace_to_otlp(random_trace(40, seed, links=False))
        for rs in doc["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                for sp in ss["spans"]:
                    sp["traceId"] = f"{seed + 1:032x}"
        lines.append(orjson.dumps(doc))
    traces = list(read_traces(b"\n".join(lines) + b"\n", window=window))
    assert [t.trace_id for t in traces] == [f"{seed + 1:032x}" for seed in range(5)]
    assert traces[0].columns is None
    for trace in traces[1:]:
        assert trace.columns is not None and trace.columns.describes(trace.spans)


def test_a_trace_set_pops_everything_of_a_trace(monkeypatch) -> None:
    trace = random_trace(80, 1, links=False)
    out = TraceSet()
    out.add_many(list(trace.spans[:20]))  # no columns for these: none for the trace
    spans, columns = span_list_columns(trace.spans[20:], monkeypatch)
    out.add_many(spans, columns)
    popped = out.pop(TID)
    assert popped.spans == (*trace.spans[:20], *spans) and popped.columns is None
    assert not out.spans and not out.warnings and not out.columns


def span_list_columns(spans, monkeypatch):
    monkeypatch.setattr(sniff, "FAST_MIN_BYTES", 0)
    data = orjson.dumps(trace_to_otlp(Trace(TID, tuple(spans))))
    got = next(iter(read_traces(data)))
    return list(got.spans), ColumnChunk(*(getattr(got.columns, f) for f in CHUNK_FIELDS))
