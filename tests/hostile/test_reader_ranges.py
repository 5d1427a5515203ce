"""Issue 15, cases 1, 2 and 9 at the readers: times and numbers are range-checked where they
are read. The model holds int64 nanoseconds (what SQLite, Jaeger and Go hold): a span past
2262-04-11 is refused with one line naming its field, by every reader, on every path (the fast
column reader, span by span, protobuf); a 4,301-digit number is refused before Python's int()
gives up on it; a too-deep attribute is an InputError, not a RecursionError."""

from __future__ import annotations

import orjson
import pytest

from obskit.errors import InputError
from obskit.ingest import read_trace, read_traces
from obskit.ingest.values import MAX_TIME_NS
from tests.hostile.corpus import trace

OUT_OF_RANGE = [
    ("otlp-time-above-int64.json", "startTimeUnixNano"),
    ("otlp-time-2pow63.json", "startTimeUnixNano"),
    ("otlp-time-as-number-2pow64-1.json", "startTimeUnixNano"),
    ("otlp-time-4301-digits.json", "startTimeUnixNano"),
    ("otlp-attribute-4301-digits.json", "intValue"),
    ("otlp-proto-time-2pow64-1.pb", "endTimeUnixNano"),
    ("otlp-jsonl-poisoned-line.jsonl", "line 2: "),
    ("jaeger-start-plus-duration-above-int64.json", "duration"),
    ("zipkin-time-above-int64.json", "timestamp"),
    ("tempo-v1-time-20-digits.json", "startTimeUnixNano"),
]


@pytest.mark.parametrize(("name", "field"), OUT_OF_RANGE)
def test_a_number_out_of_range_is_one_clear_line(name: str, field: str) -> None:
    data = trace(name).read_bytes()
    fmt = "otlp-proto" if name.endswith(".pb") else None
    with pytest.raises(InputError) as err:
        list(read_traces(data, format=fmt))
    message = str(err.value)
    assert field in message and "\n" not in message
    assert "out" in message and len(message) < 300


def spans_at(start: int, count: int) -> bytes:
    spans = [
        {
            "traceId": "1" * 32,
            "spanId": f"{i + 1:016x}",
            "name": "x",
            "kind": 2,
            "startTimeUnixNano": str(start),
            "endTimeUnixNano": str(start),
        }
        for i in range(count)
    ]
    return orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]})


# 1 span: the careful path; 40: the column reader; 3,000: its numpy path
@pytest.mark.parametrize("count", [1, 40, 3000])
def test_every_json_path_stops_at_the_last_int64_nanosecond(count: int) -> None:
    latest = read_trace(spans_at(MAX_TIME_NS, count))
    assert {s.start_ns for s in latest.spans} == {MAX_TIME_NS}
    with pytest.raises(InputError, match="2262-04-11"):
        read_trace(spans_at(MAX_TIME_NS + 1, count))
    with pytest.raises(InputError, match="2262-04-11"):
        read_trace(spans_at(10**19, count))  # 20 digits, but still below 2^64


def test_refused_spans_are_left_out_and_named_when_asked() -> None:
    # what `obskit serve` asks for: the good span is read, the other refused on its own
    refused: list[str] = []
    data = trace("otlp-one-good-one-out-of-range.json").read_bytes()
    (only,) = read_traces(data, refused=refused)
    assert [s.span_id for s in only.spans] == ["eee19b7ec3c1b174"]
    assert len(refused) == 1 and "eee19b7ec3c1b175" in refused[0]
    assert "2262-04-11" in refused[0]
    # the same in protobuf
    refused = []
    assert (
        list(
            read_traces(
                trace("otlp-proto-time-2pow64-1.pb").read_bytes(),
                format="otlp-proto",
                refused=refused,
            )
        )
        == []
    )
    assert len(refused) == 1 and "endTimeUnixNano" in refused[0]


def test_a_message_quotes_a_huge_value_short() -> None:
    with pytest.raises(InputError) as err:
        list(read_traces(trace("jaeger-processid-4301-digits.json").read_bytes()))
    assert "is not in the trace's processes" in str(err.value)
    assert len(str(err.value)) < 200


def test_a_deep_attribute_in_a_big_body_is_an_input_error() -> None:
    # over 64 KiB the fast reader decodes with msgspec, which recursed without a limit
    with pytest.raises(InputError, match="depth"):
        list(read_traces(trace("otlp-attribute-3000-deep.json").read_bytes()))
