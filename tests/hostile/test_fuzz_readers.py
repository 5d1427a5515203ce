"""The hostile fuzzer over every reader (issue 15): generated inputs (fixtures with values
replaced by hostile ones, byte-level mutations, protobuf requests built from hostile fields)
end in a trace or in one InputError line, never another exception; and what a reader accepts,
the rest of obskit can hold: the analysis, the JSON report, and a row in the span store.

Example counts: see tests/hostile/fuzzing.py (OBSKIT_FUZZ_EXAMPLES for the big run)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from obskit.analysis import analyze_trace
from obskit.errors import InputError
from obskit.ingest import read_traces
from obskit.render import json_report
from obskit.serve.store import INSERT, SCHEMA, span_rows
from tests.conftest import FIXTURES
from tests.hostile.fuzzing import fuzz_settings, mutate, mutate_bytes, otlp_proto_requests
from tests.ingest.test_formats import proto_request

# one small fixture per reader
READERS = {
    "otlp-json": "otlp-json_spec-example_1span.json",
    "otlp-jsonl": "otlp-jsonl_one-trace-over-4-lines.jsonl",
    "jaeger-json": "jaeger-v1-api_get-trace_jaeger-query_2spans.json",
    "jaeger-api-v3": "jaeger-apiv3_get-trace_snapshot_hex-ids.json",
    "tempo-v1": "tempo-v1_api-traces_bookinfo_8spans.json",
    "zipkin-v2": "zipkin-v2_clock-skew_4spans.json",
}


def documents(reader: str) -> list[Any]:
    raw = (FIXTURES / READERS[reader]).read_bytes()
    if reader == "otlp-jsonl":
        return [orjson.loads(line) for line in raw.splitlines() if line.strip()]
    return [orjson.loads(raw)]


def encode(reader: str, docs: list[Any]) -> bytes:
    lines = [json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass") for doc in docs]
    return b"\n".join(lines) + b"\n"


def store_rows(rows: list[tuple[Any, ...]]) -> None:
    """The rows go into a span table as `obskit serve` would store them."""
    conn = sqlite3.connect(":memory:")
    conn.executescript(SCHEMA)
    conn.executemany(INSERT, [(*row[:-1], 1) for row in rows])
    conn.close()


def holds(data: bytes, fmt: str | None = None) -> str:
    """Read ``data``; "ok" (and everything downstream works) or "InputError" (one line)."""
    try:
        traces = list(read_traces(data, format=fmt))
    except InputError as err:
        message = str(err)
        assert message and "\n" not in message and len(message) < 2000, message
        return "InputError"
    for trace in traces[:3]:
        try:
            report = analyze_trace(trace)
            orjson.loads(json_report.render(report))
            store_rows(span_rows(trace.spans))
        except InputError as err:
            # big attribute lists are read when first used (deferred_attributes): a bad one
            # is the same clean refusal, only later
            assert "\n" not in str(err)
    return "ok"


@pytest.mark.parametrize("reader", sorted(READERS))
@fuzz_settings()
@given(data=st.data())
def test_fuzz_hostile_values(reader: str, data: st.DataObject) -> None:
    docs = documents(reader)
    which = data.draw(st.integers(0, len(docs) - 1))
    docs[which] = mutate(data, docs[which])
    holds(encode(reader, docs))


@pytest.mark.parametrize("reader", sorted(READERS))
@fuzz_settings()
@given(data=st.data())
def test_fuzz_byte_mutations(reader: str, data: st.DataObject) -> None:
    raw = encode(reader, documents(reader))
    holds(mutate_bytes(data, raw))


@fuzz_settings()
@given(otlp_proto_requests())
def test_fuzz_otlp_proto_fields(request_bytes: bytes) -> None:
    holds(request_bytes, "otlp-proto")


@fuzz_settings()
@given(data=st.data())
def test_fuzz_otlp_proto_bytes(data: st.DataObject) -> None:
    holds(mutate_bytes(data, proto_request()), "otlp-proto")
