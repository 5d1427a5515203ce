"""Generated and mutated inputs: every reader ends in one InputError line or a Trace, never in
another exception."""

from __future__ import annotations

import copy
import json
import sys
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from obskit.errors import InputError
from obskit.ingest import read_traces
from tests.conftest import FIXTURES
from tests.hostile.fuzzing import paths
from tests.ingest.test_formats import proto_request

# 200 examples per reader in all: 100 structural mutations plus 100 byte mutations each.
FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# One small fixture per reader (the big ones only make each example slower).
READER_FIXTURES = {
    "jaeger-json": "jaeger-v1-ui-format_edge-cases_ui_01.json",
    "jaeger-json-envelope": "jaeger-v1-api_get-trace_jaeger-query_2spans.json",
    # (not the v1.53 snapshot: its zero time is past int64, so every mutation is refused)
    "jaeger-api-v3": "jaeger-apiv3_get-trace_snapshot_hex-ids.json",
    "tempo-v1": "tempo-v1_api-traces_bookinfo_8spans.json",
    "otlp-json": "otlp-json_spec-example_1span.json",
    "otlp-jsonl": "otlp-jsonl_one-trace-over-4-lines.jsonl",
    "zipkin-v2": "zipkin-v2_clock-skew_4spans.json",
}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from(["", "0" * 32, "AAAAAAAAAJYAAAAAAAAAoA==", "SPAN_KIND_SERVER", "-1", "1e3"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "resourceSpans",
                    "scopeSpans",
                    "spans",
                    "data",
                    "traceID",
                    "spanID",
                    "traceId",
                    "spanId",
                    "id",
                    "result",
                    "batches",
                    "trace",
                    "processes",
                    "attributes",
                    "value",
                    "key",
                    "tags",
                    "references",
                    "kind",
                    "status",
                    "code",
                    "x",
                ]
            )
            | st.text(max_size=8),
            children,
            max_size=5,
        )
    ),
    max_leaves=25,
)


def outcome(data: bytes) -> str:
    """Read everything; return "ok" or "InputError", let any other exception fail the test."""
    try:
        for _ in read_traces(data):
            pass
    except InputError as err:
        text = str(err)
        assert text and "\n" not in text, f"not one line: {text!r}"
        return "InputError"
    return "ok"


@FUZZ
@given(json_values)
def test_random_json(value: Any) -> None:
    outcome(json.dumps(value).encode())


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes(data: bytes) -> None:
    outcome(data)


def load_lines(name: str) -> list[Any]:
    raw = (FIXTURES / name).read_bytes()
    if name.endswith(".jsonl"):
        return [orjson.loads(line) for line in raw.splitlines() if line.strip()]
    return [orjson.loads(raw)]


def dump_lines(docs: list[Any]) -> bytes:
    return b"\n".join(json.dumps(d).encode() for d in docs) + b"\n"


@pytest.mark.parametrize("reader", sorted(READER_FIXTURES))
@FUZZ
@given(data=st.data())
def test_mutated_fixture(reader: str, data: st.DataObject) -> None:
    docs = copy.deepcopy(load_lines(READER_FIXTURES[reader]))
    which = data.draw(st.integers(0, len(docs) - 1))
    targets = paths(docs[which])[1:]
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(targets))
        parent = docs[which]
        try:  # an earlier mutation may have removed or replaced part of this path
            for step in path[:-1]:
                parent = parent[step]
        except (KeyError, IndexError, TypeError):
            continue
        if not isinstance(parent, (dict, list)):
            continue
        action = data.draw(st.sampled_from(["delete", "swap"]))
        try:
            if action == "delete":
                del parent[path[-1]]
            else:
                parent[path[-1]] = data.draw(json_values)
        except (KeyError, IndexError, TypeError):
            continue
    outcome(dump_lines(docs))


@pytest.mark.parametrize("reader", sorted(READER_FIXTURES))
@FUZZ
@given(data=st.data())
def test_byte_mutations(reader: str, data: st.DataObject) -> None:
    raw = dump_lines(load_lines(READER_FIXTURES[reader]))
    cut = data.draw(st.integers(0, len(raw) - 2))  # -2: always lose more than the last newline
    kind = data.draw(st.sampled_from(["truncate", "delete", "flip"]))
    if kind == "truncate":
        mutated = raw[:cut]
    elif kind == "delete":
        mutated = raw[:cut] + raw[cut + data.draw(st.integers(1, 20)) :]
    else:
        mutated = raw[:cut] + bytes([raw[cut] ^ data.draw(st.integers(1, 255))]) + raw[cut + 1 :]
    result = outcome(mutated)
    if kind == "truncate" and not reader.endswith("jsonl"):
        assert result == "InputError"  # a document cut short is never a trace


@FUZZ
@given(data=st.data())
def test_protobuf_mutations(data: st.DataObject) -> None:
    raw = proto_request()
    cut = data.draw(st.integers(0, len(raw) - 1))
    kind = data.draw(st.sampled_from(["truncate", "delete", "flip", "insert"]))
    if kind == "truncate":
        mutated = raw[:cut]
    elif kind == "delete":
        mutated = raw[:cut] + raw[cut + data.draw(st.integers(1, 8)) :]
    elif kind == "flip":
        mutated = raw[:cut] + bytes([raw[cut] ^ data.draw(st.integers(1, 255))]) + raw[cut + 1 :]
    else:
        mutated = raw[:cut] + data.draw(st.binary(min_size=1, max_size=8)) + raw[cut:]
    try:
        for _ in read_traces(mutated, format="otlp-proto"):
            pass
    except InputError as err:
        assert "\n" not in str(err)


def test_deep_nesting_is_an_input_error() -> None:
    depth = 300  # 900 JSON levels: orjson accepts up to 1024
    value = '{"arrayValue":{"values":[' * depth + '{"stringValue":"x"}' + "]}}" * depth
    doc = (
        '{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"'
        + "1" * 32
        + '","spanId":"'
        + "1" * 16
        + '","attributes":[{"key":"k","value":'
        + value
        + "}]}]}]}]}"
    )
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(400)  # make the converter's recursion run out for sure
    try:
        with pytest.raises(InputError) as err:
            list(read_traces(doc.encode()))
    finally:
        sys.setrecursionlimit(limit)
    assert str(err.value) == "attribute values are nested too deeply"


def test_control_characters_in_messages_are_escaped() -> None:
    assert outcome(b'{"\\n": null}') == "InputError"
    with pytest.raises(InputError) as err:
        list(read_traces(b'{"a\\nb": 1}'))
    assert str(err.value) == (
        "unknown trace format: a JSON object with keys a\\nb; expected Jaeger, Tempo, OTLP or "
        "Zipkin JSON"
    )
