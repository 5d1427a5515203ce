"""Big Jaeger JSON documents go to the fast struct reader (obskit.ingest.jaeger_structs): the
result must be the one a parse into dicts gives (obskit.ingest.jaeger_json), for the API
response, the UI's download and a bare trace object, compact or pretty, for any mix of kinds,
statuses, scopes, tag types, logs and references; uncommon shapes and bad input still end in
the careful path's result or exact message; tags stay JSON text until first read."""

from __future__ import annotations

import random
from types import MappingProxyType

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import obskit.ingest.jaeger_structs as structs
import obskit.ingest.sniff as sniff
from obskit.errors import InputError
from obskit.ingest import read_trace, read_traces
from obskit.ingest.jaeger_structs import DeferredTags
from obskit.model import Event, Reference, RefType, Span, SpanKind, StatusCode, Trace
from obskit.serve.jaeger_json import trace_to_jaeger

TID = "5b8efff798038103d269b633813fc60c"
TEXTS = ["GET /é", 'x"]},{"key":"span.kind"', "op", "error", "span.kind", "a\\b", "ok"]
VALUES = st.one_of(
    st.sampled_from(TEXTS),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
)
ATTRIBUTES = st.dictionaries(
    st.sampled_from(["a", "http.route", "error", "n", "peer.service", "é"]), VALUES, max_size=4
)


@st.composite
def traces(draw, max_spans: int = 40) -> Trace:
    n = draw(st.integers(1, max_spans))
    rng = random.Random(draw(st.integers(0, 2**32)))
    spans: list[Span] = []
    for i in range(n):
        refs: tuple[Reference, ...] = ()
        if i and rng.random() < 0.95:
            ref_type = RefType.FOLLOWS_FROM if rng.random() < 0.05 else RefType.CHILD_OF
            refs = (Reference(ref_type, TID, spans[rng.randrange(i)].span_id),)
        status = rng.choice([StatusCode.UNSET] * 6 + [StatusCode.OK, StatusCode.ERROR])
        start = rng.randrange(10**15, 2 * 10**15) * 1000
        spans.append(
            Span(
                TID,
                f"{rng.getrandbits(63) | 1:016x}",
                rng.choice(TEXTS),
                f"svc-{rng.randrange(3)}",
                start,
                start + rng.randrange(10**6) * 1000,
                kind=SpanKind(rng.randrange(6)),
                status=status,
                status_message=rng.choice(["", 'gateway said "no"', "é"])
                if status is StatusCode.ERROR
                else "",
                references=refs,
                attributes=MappingProxyType(draw(ATTRIBUTES)),
                resource=MappingProxyType({"host.name": f"node-{i % 2}"}),
                events=(Event(start, "retry", MappingProxyType({"attempt": 2})),)
                if rng.random() < 0.1
                else (),
                scope=rng.choice(["", "opentelemetry.instrumentation.flask", "s é"]),
            )
        )
    return Trace(TID, tuple(spans))


def shapes(trace: Trace) -> list[bytes]:
    doc = trace_to_jaeger(trace)
    response = {"data": [doc], "total": 1, "limit": 0, "offset": 0, "errors": None}
    return [
        orjson.dumps(response),
        orjson.dumps({"data": [doc]}),  # the UI's "Download Results"
        orjson.dumps(doc),
        orjson.dumps(response, option=orjson.OPT_INDENT_2),
    ]


def fast(data: bytes, monkeypatch: pytest.MonkeyPatch) -> list[Trace]:
    monkeypatch.setattr(sniff, "FAST_MIN_BYTES", 0)
    return list(read_traces(data))


def careful(data: bytes, monkeypatch: pytest.MonkeyPatch) -> list[Trace]:
    monkeypatch.setattr(sniff, "FAST_MIN_BYTES", 1 << 62)
    return list(read_traces(data))


def same_result(data: bytes, monkeypatch: pytest.MonkeyPatch) -> list[Trace]:
    try:
        expected = careful(data, monkeypatch)
    except InputError as err:
        with pytest.raises(InputError) as got:
            fast(data, monkeypatch)
        assert str(got.value) == str(err)
        return []
    got = fast(data, monkeypatch)
    assert got == expected
    for trace, want in zip(got, expected, strict=True):
        assert [dict(s.attributes) for s in trace.spans] == [dict(s.attributes) for s in want.spans]
        assert trace.warnings == want.warnings
    return got


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(trace=traces(), shape=st.integers(0, 3))
def test_fast_reader_gives_the_careful_result(monkeypatch, trace: Trace, shape: int) -> None:
    got = same_result(shapes(trace)[shape], monkeypatch)
    assert sum(len(t) for t in got) == len(trace)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(trace=traces(max_spans=60))
def test_batches_read_alike(monkeypatch, trace: Trace) -> None:
    monkeypatch.setattr(structs, "BATCH_SPANS", 7)  # many batches, each with its own columns
    same_result(shapes(trace)[0], monkeypatch)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(trace=traces())
def test_many_roots_read_alike(monkeypatch, trace: Trace) -> None:
    monkeypatch.setattr(structs, "_FEW_ROOTS", 0)  # the way for batches with many roots
    same_result(shapes(trace)[0], monkeypatch)


def common_trace(n: int = 50) -> Trace:
    """What the SDK's HTTP instrumentations send: CHILD_OF parents, kinds, scopes, errors."""
    rng = random.Random(n)
    spans: list[Span] = []
    for i in range(n):
        start = (1_700_000_000_000_000 + i) * 1000
        error = i % 7 == 3
        spans.append(
            Span(
                TID,
                f"{rng.getrandbits(63) | 1:016x}",
                f"GET /items/{i % 3}",
                f"svc-{i % 2}",
                start,
                start + 5000,
                kind=SpanKind.SERVER if i % 2 else SpanKind.CLIENT,
                status=StatusCode.ERROR if error else StatusCode.UNSET,
                status_message="boom" if error else "",
                references=()
                if i == 0
                else (Reference(RefType.CHILD_OF, TID, spans[rng.randrange(i)].span_id),),
                attributes=MappingProxyType({"http.route": "/items/{id}", "n": i}),
                resource=MappingProxyType({"host.name": "node-1"}),
                scope="opentelemetry.instrumentation.flask",
            )
        )
    return Trace(TID, tuple(spans))


@pytest.mark.parametrize("shape", [0, 1, 2])
def test_fast_reader_is_really_used(monkeypatch, shape: int) -> None:
    def no_careful_parse(*args, **kwargs):
        raise AssertionError("fell back to the careful parse")

    data = shapes(common_trace())[shape]
    expected = careful(data, monkeypatch)
    monkeypatch.setattr("obskit.ingest.load_json", no_careful_parse)
    (trace,) = fast(data, monkeypatch)
    assert [trace] == expected
    assert trace.columns is not None and trace.columns.describes(trace.spans)
    assert all(isinstance(s.attributes, DeferredTags) for s in trace.spans)
    errors = [s for s in trace.spans if s.status is StatusCode.ERROR]
    assert errors and all(s.status_message == "boom" for s in errors)
    assert dict(errors[0].attributes) == {"http.route": "/items/{id}", "n": 3}  # no error=true


def edited(change) -> bytes:
    doc = trace_to_jaeger(common_trace(20))
    change(doc)
    return orjson.dumps({"data": [doc]})


def _tag(doc, key):
    return next(t for t in doc["spans"][1]["tags"] if t["key"] == key)


UNCOMMON = {
    "tag keys in another order": lambda d: d["spans"][1]["tags"].__setitem__(
        0, {"value": "client", "key": "span.kind", "type": "string"}
    ),
    "a kind with escapes": lambda d: _tag(d, "span.kind").update(value="cli\\u0065nt"),
    "span.kind as a value": lambda d: d["spans"][2]["tags"].append(
        {"key": "note", "type": "string", "value": "span.kind"}
    ),
    "kind twice": lambda d: d["spans"][1]["tags"].append(
        {"key": "span.kind", "type": "string", "value": "producer"}
    ),
    "error as a string": lambda d: d["spans"][4]["tags"].append(
        {"key": "error", "type": "string", "value": "true"}
    ),
    "unpadded span id": lambda d: d["spans"][5].update(spanID="abc"),
    "legacy parentSpanID": lambda d: d["spans"][6].update(
        parentSpanID=d["spans"][0]["spanID"], references=[]
    ),
    "follows from": lambda d: d["spans"][7]["references"][0].update(refType="FOLLOWS_FROM"),
    "span warnings": lambda d: d["spans"][8].update(warnings=["clock skew adjusted"]),
    "trace warnings": lambda d: d.update(warnings=["invalid parent span IDs"]),
    "embedded process": lambda d: d["spans"][9].update(
        process=d["processes"][d["spans"][9].pop("processID")]
    ),
    "time as a string": lambda d: d["spans"][3].update(startTime=str(d["spans"][3]["startTime"])),
    "tags null": lambda d: d["spans"][3].update(tags=None),
    "no tags key": lambda d: d["spans"][3].pop("tags"),
    "a tag between kind and scope": lambda d: d["spans"][2]["tags"].insert(
        -1, {"key": "note", "type": "string", "value": "x"}
    ),
    "scope before kind": lambda d: d["spans"][2]["tags"].reverse(),
    "an int64 tag as a string": lambda d: d["spans"][3]["tags"].append(
        {"key": "big", "type": "int64", "value": "12345678901234567"}
    ),
    "a tag type in capitals": lambda d: d["spans"][3]["tags"].append(
        {"key": "word", "type": "STRING", "value": "x"}
    ),
    "a float64 tag as an integer": lambda d: d["spans"][3]["tags"].append(
        {"key": "ratio", "type": "float64", "value": 3}
    ),
    "logs": lambda d: d["spans"][3].update(
        logs=[{"timestamp": 1, "fields": [{"key": "event", "type": "string", "value": "x"}]}]
    ),
}
BAD = {
    "a time that is not a number": lambda d: d["spans"][3].update(startTime="soon"),
    "negative duration": lambda d: d["spans"][3].update(duration=-1),
    "a start past 2262": lambda d: d["spans"][3].update(startTime=10**19),
    "an end past 2262": lambda d: d["spans"][3].update(startTime=2**63 // 1000, duration=10),
    "unknown process": lambda d: d["spans"][3].update(processID="p99"),
    "all-zero span id": lambda d: d["spans"][3].update(spanID="0" * 16),
    "tags not a list": lambda d: d["spans"][3].update(tags="span.kind"),
}


@pytest.mark.parametrize("change", UNCOMMON.values(), ids=UNCOMMON.keys())
def test_uncommon_shapes_read_alike(monkeypatch, change) -> None:
    got = same_result(edited(change), monkeypatch)
    assert sum(len(t) for t in got) == 20


@pytest.mark.parametrize("change", BAD.values(), ids=BAD.keys())
def test_bad_input_gives_the_careful_message(monkeypatch, change) -> None:
    data = edited(change)
    with pytest.raises(InputError):
        careful(data, monkeypatch)
    same_result(data, monkeypatch)


@pytest.mark.parametrize(
    "doc",
    [{"data": []}, {"data": None, "errors": [{"code": 404, "msg": "trace not found"}]}],
)
def test_empty_responses_say_why(monkeypatch, doc) -> None:
    same_result(orjson.dumps(doc) + b" " * 100, monkeypatch)


def test_a_malformed_tag_is_reported_when_read(monkeypatch) -> None:
    doc = trace_to_jaeger(common_trace(20))
    span = doc["spans"][4]  # no status: its tags are not read until asked for
    span["tags"].append({"key": "n", "type": "int64", "value": "twelve"})
    monkeypatch.setattr(sniff, "FAST_MIN_BYTES", 0)
    trace = read_trace(orjson.dumps({"data": [doc]}))
    read = next(s for s in trace.spans if s.span_id == span["spanID"])
    with pytest.raises(InputError) as err:
        read.attributes.get("n")
    assert str(err.value) == (
        f"span {span['spanID']}: tags[{len(span['tags']) - 1}].value: "
        "expected an integer, got 'twelve'"
    )
