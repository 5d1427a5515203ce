"""Reader behaviour a user notices: messages, picking a trace, streaming, protobuf, round trips."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest

from obskit.errors import InputError
from obskit.ingest import read_trace, read_traces, sniff_format
from obskit.ingest.otlp_writer import trace_to_otlp, traces_to_otlp
from obskit.model import RefType, SpanKind, StatusCode
from tests.conftest import FIXTURES

T1 = "11111111111111111111111111111111"
T2 = "22222222222222222222222222222222"


def otlp_span(tid: str, sid: str, parent: str = "", **extra: object) -> dict[str, object]:
    span: dict[str, object] = {
        "traceId": tid,
        "spanId": sid,
        "parentSpanId": parent,
        "name": f"op-{sid[-1]}",
        "kind": 2,
        "startTimeUnixNano": "1000",
        "endTimeUnixNano": "2000",
    }
    span.update(extra)
    return span


def otlp_doc(*spans: dict[str, object], service: str = "svc") -> dict[str, object]:
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": service}}]
                },
                "scopeSpans": [{"scope": {"name": "lib"}, "spans": list(spans)}],
            }
        ]
    }


def message(data: bytes | str, **kwargs: object) -> str:
    with pytest.raises(InputError) as err:
        read_trace(data, **kwargs)  # type: ignore[arg-type]
    return str(err.value)


# ---- messages ---------------------------------------------------------------------------


def test_bad_field_names_its_full_path() -> None:
    doc = otlp_doc(otlp_span(T1, "a" * 16), otlp_span(T1, "b" * 16, startTimeUnixNano="abc"))
    assert message(orjson.dumps(doc)) == (
        "resourceSpans[0].scopeSpans[0].spans[1].startTimeUnixNano: expected an integer, got 'abc'"
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"spanId": "xyz"}, "spans[0].spanId: not a hex or base64 id: 'xyz'"),
        ({"spanId": "0" * 16}, "spans[0].spanId: the span id is all zeros"),
        ({"traceId": None}, "spans[0].traceId: expected an id string, got null"),
        ({"kind": 9}, "spans[0].kind: unknown span kind 9"),
        ({"status": {"code": "BAD"}}, "spans[0].status.code: unknown status code 'BAD'"),
        (
            {"endTimeUnixNano": "10"},
            "spans[0].endTimeUnixNano: 10 is before startTimeUnixNano 1000",
        ),
        (
            {"attributes": [{"key": "n", "value": {"intValue": "1.5"}}]},
            "spans[0].attributes[0].value.intValue: expected an integer, got '1.5'",
        ),
        (
            {"events": [{"timeUnixNano": -1}]},
            "spans[0].events[0].timeUnixNano: expected a non-negative integer, got -1",
        ),
    ],
)
def test_otlp_field_errors(change: dict[str, object], expected: str) -> None:
    doc = otlp_doc(otlp_span(T1, "a" * 16, **change))
    assert message(orjson.dumps(doc)) == "resourceSpans[0].scopeSpans[0]." + expected


def test_input_level_errors() -> None:
    assert message(b"") == "the input is empty: no trace data"
    assert message(b"{") == "invalid JSON: unexpected end of data: line 1 column 2 (char 1)"
    assert message(b"[]") == "the input is an empty JSON list: no spans"
    assert message(b'{"foo": 1}') == (
        "unknown trace format: a JSON object with keys foo; expected Jaeger, Tempo, OTLP or "
        "Zipkin JSON"
    )
    assert message(b"\x28\xb5\x2f\xfd....") == (
        "the input is zstd-compressed (a Collector file exporter with compression); "
        "decompress it first: zstd -d FILE"
    )
    assert message(b'{"resourceSpans": []}') == "the input holds no spans"
    assert message(
        orjson.dumps({"data": None, "errors": [{"code": 404, "msg": "trace not found"}]})
    ) == ("the Jaeger response holds no traces (Jaeger says: trace not found)")
    assert message(Path("/nonexistent/trace.json")) == "/nonexistent/trace.json: no such file"
    assert message(b"{}", format="nope").startswith("unknown format 'nope'; known: jaeger-json")
    assert message(orjson.dumps(otlp_doc(otlp_span(T1, "a" * 16))), format="zipkin-v2") == (
        "expected Zipkin v2 JSON, but the input looks like OTLP/JSON"
    )


def test_jaeger_errors_name_the_span() -> None:
    doc = orjson.loads((FIXTURES / "jaeger-v1-ui-format_edge-cases_ui_01.json").read_bytes())
    doc["spans"][2]["duration"] = -5
    assert message(orjson.dumps(doc)) == "spans[2].duration: is negative (-5)"
    doc["spans"][2]["duration"] = 5
    doc["spans"][2]["processID"] = "p9"
    assert message(orjson.dumps({"data": [doc]})) == (
        "data[0].spans[2].processID: 'p9' is not in the trace's processes"
    )


def test_zipkin_errors_name_the_span() -> None:
    spans = [{"traceId": "1" * 16, "id": "2" * 16, "timestamp": "soon"}]
    assert message(orjson.dumps(spans)) == "[0].timestamp: expected an integer, got 'soon'"


# ---- picking one trace ------------------------------------------------------------------


def several() -> bytes:
    return orjson.dumps(
        otlp_doc(otlp_span(T1, "a" * 16), otlp_span(T2, "b" * 16), otlp_span(T1, "c" * 16))
    )


def test_several_traces_need_a_trace_id() -> None:
    assert message(several()) == (
        f"the input holds 2 traces ({T1}, {T2}); pass --trace-id to pick one"
    )
    trace = read_trace(several(), trace_id=T1.upper())
    assert [s.span_id[0] for s in trace.spans] == ["a", "c"]
    assert message(several(), trace_id="3" * 32) == (
        f"trace {'3' * 32} is not in the input (2 traces: {T1}, {T2})"
    )
    assert message(several(), trace_id="xyz") == (
        "trace id: not a hex or base64 id: 'xyz'; expected up to 32 hex digits"
    )


def test_inputs_bytes_text_path_and_file_objects(tmp_path: Path) -> None:
    data = several()
    path = tmp_path / "t.json"
    path.write_bytes(data)
    for source in (data, data.decode(), path, io.BytesIO(data), io.StringIO(data.decode())):
        assert [t.trace_id for t in read_traces(source)] == [T1, T2]


# ---- JSON Lines: streaming and windows ------------------------------------------------------


def jsonl(*docs: dict[str, object]) -> bytes:
    return b"".join(orjson.dumps(d) + b"\n" for d in docs)


def test_jsonl_merges_lines_skips_other_signals_and_numbers_errors() -> None:
    data = jsonl(
        otlp_doc(otlp_span(T1, "a" * 16)),
        {"resourceMetrics": []},
        otlp_doc(otlp_span(T2, "b" * 16)),
        {"resourceLogs": []},
        otlp_doc(otlp_span(T1, "c" * 16, parent="a" * 16)),
    )
    assert sniff_format(data) == "otlp-jsonl"
    assert [(t.trace_id, len(t)) for t in read_traces(data)] == [(T1, 2), (T2, 1)]
    bad = data + b'{"resourceSpans": [{"scopeSpans": 7}]}\n'
    with pytest.raises(InputError) as err:
        list(read_traces(bad))
    assert str(err.value) == "line 6: resourceSpans[0].scopeSpans: expected a list, got 7"
    with pytest.raises(InputError) as err:
        list(read_traces(data + b"{nope\n"))
    assert str(err.value).startswith("line 6: invalid JSON: ")


def test_jsonl_streams_from_a_file_object_without_reading_ahead() -> None:
    lines = [otlp_doc(otlp_span(f"{i + 1:032x}", "a" * 16)) for i in range(50)]

    class Counting(io.BytesIO):
        lines_read = 0

        def readline(self, *args: object) -> bytes:  # type: ignore[override]
            Counting.lines_read += 1
            return super().readline(*args)  # type: ignore[arg-type]

        def read(self, *args: object) -> bytes:  # type: ignore[override]
            raise AssertionError("JSON Lines must not be read whole")

    source = Counting(jsonl(*lines))
    stream = read_traces(source, window=1)
    first = next(stream)
    assert first.trace_id == f"{1:032x}"
    assert Counting.lines_read <= 3  # yielded after two lines, not after fifty
    assert len(list(stream)) == 49


def test_jsonl_window_reports_a_late_trace_in_pieces() -> None:
    data = jsonl(
        otlp_doc(otlp_span(T1, "a" * 16)),
        otlp_doc(otlp_span(T2, "b" * 16)),
        otlp_doc(otlp_span(T2, "c" * 16)),
        otlp_doc(otlp_span(T1, "d" * 16)),
    )
    whole = list(read_traces(data))
    assert [(t.trace_id, len(t), t.warnings) for t in whole] == [(T1, 2, ()), (T2, 2, ())]
    pieces = list(read_traces(data, window=2))
    assert [(t.trace_id, len(t)) for t in pieces] == [(T1, 1), (T2, 2), (T1, 1)]
    assert [w.code for w in pieces[2].warnings] == ["split"]


def test_read_trace_from_jsonl_keeps_only_the_wanted_trace() -> None:
    data = (FIXTURES / "otlp-file-exporter_oteldemo_mixed-signals.jsonl").read_bytes()
    first_id = next(read_traces(data)).trace_id
    with pytest.raises(InputError, match=r"^the input holds 141 traces \("):
        read_trace(data)
    assert read_trace(data, trace_id=first_id).trace_id == first_id


# ---- Tempo v2, api_v3 chunks, Jaeger warnings ------------------------------------------------


def tempo_doc() -> dict[str, object]:
    return orjson.loads((FIXTURES / "tempo-v1_api-traces_bookinfo_8spans.json").read_bytes())


def test_tempo_v2_partial_is_a_truncated_warning() -> None:
    v1 = tempo_doc()
    v2 = {
        "trace": {"resourceSpans": v1["batches"]},
        "metrics": {"inspectedBytes": "1"},
        "status": "PARTIAL",
        "message": "Trace exceeds maximum size of 5000000 bytes, a partial trace is returned",
    }
    assert sniff_format(orjson.dumps(v2)) == "tempo-v2"
    trace = read_trace(orjson.dumps(v2))
    assert len(trace) == 8
    assert [(w.code, w.message) for w in trace.warnings] == [
        (
            "truncated",
            "Tempo returned a partial trace: Trace exceeds maximum size of 5000000 bytes, a "
            "partial trace is returned",
        )
    ]
    assert message(orjson.dumps({"trace": {}, "metrics": {}})) == "the input holds no spans"


def test_api_v3_ndjson_chunks_and_jaeger_warnings_attribute() -> None:
    warn = {
        "key": "@jaeger@warnings",
        "value": {
            "arrayValue": {
                "values": [
                    {
                        "stringValue": "clock skew adjustment disabled; not applying calculated delta of 65ms"
                    }
                ]
            }
        },
    }
    chunk1 = {"result": otlp_doc(otlp_span(T1, "a" * 16, attributes=[warn]))}
    chunk2 = {"result": otlp_doc(otlp_span(T1, "b" * 16, parent="a" * 16), service="other")}
    data = jsonl(chunk1, chunk2)
    assert sniff_format(data) == "jaeger-api-v3"
    trace = read_trace(data)
    assert [s.service for s in trace.spans] == ["svc", "other"]
    assert trace.spans[0].attributes == {}
    assert [(w.code, w.span_ids) for w in trace.warnings] == [("backend", ("a" * 16,))]


# ---- OTLP protobuf, with the real opentelemetry-proto classes ----------------------------------


def proto_request() -> bytes:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
    from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

    root = Span(
        trace_id=bytes.fromhex(T1),
        span_id=bytes.fromhex("a" * 16),
        name="GET /",
        kind=Span.SPAN_KIND_SERVER,
        start_time_unix_nano=1_000,
        end_time_unix_nano=9_000,
        attributes=[KeyValue(key="http.response.status_code", value=AnyValue(int_value=500))],
        status=Status(code=Status.STATUS_CODE_ERROR, message="boom"),
    )
    child = Span(
        trace_id=bytes.fromhex(T1),
        span_id=bytes.fromhex("b" * 16),
        parent_span_id=bytes.fromhex("a" * 16),
        name="SELECT",
        kind=Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=2_000,
        end_time_unix_nano=5_000,
        events=[Span.Event(time_unix_nano=3_000, name="retry")],
        links=[Span.Link(trace_id=bytes.fromhex(T2), span_id=bytes.fromhex("c" * 16))],
    )
    request = ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource={
                    "attributes": [KeyValue(key="service.name", value=AnyValue(string_value="api"))]
                },
                scope_spans=[ScopeSpans(scope={"name": "lib"}, spans=[root, child])],
            )
        ]
    )
    return request.SerializeToString()


def test_otlp_protobuf() -> None:
    data = proto_request()
    assert sniff_format(data) == "otlp-proto"
    trace = read_trace(data)
    root, child = trace.spans
    assert (root.service, root.name, root.kind, root.status, root.status_message) == (
        "api",
        "GET /",
        SpanKind.SERVER,
        StatusCode.ERROR,
        "boom",
    )
    assert root.attributes == {"http.response.status_code": 500}
    assert root.references == ()
    assert child.references[0].span_id == "a" * 16
    assert [(e.time_ns, e.name) for e in child.events] == [(3_000, "retry")]
    assert [(ln.trace_id, ln.span_id) for ln in child.links] == [(T2, "c" * 16)]
    assert child.scope == "lib"
    # The Collector file exporter's proto format: length-prefixed messages.
    framed = b"".join(len(data).to_bytes(4, "big") + data for _ in range(2))
    assert sniff_format(framed) == "otlp-proto-framed"
    assert len(read_trace(framed)) == 4


def test_protobuf_errors() -> None:
    data = proto_request()
    assert message(data[:-7]).startswith("not a valid OTLP protobuf message: ")
    framed = len(data).to_bytes(4, "big") + data
    assert message(framed[:-3]) == (
        f"message 1: truncated: {len(data)} bytes announced at byte 0, {len(data) - 3} left"
    )


# ---- round trips through the OTLP writer ------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "jaeger-apiv3_get-trace_hotrod_40spans.json",
        "otlp-json_spec-example_1span.json",
        "tempo-v1_api-traces_bookinfo_8spans.json",
        "jaeger-v1-ui-format_edge-cases_ui_01.json",
        "zipkin-v2_clock-skew_4spans.json",
    ],
)
def test_round_trip_through_otlp_json(name: str) -> None:
    original = read_trace(FIXTURES / name)
    written = orjson.dumps(trace_to_otlp(original))
    back = read_trace(written, format="otlp-json")
    assert len(back.spans) == len(original.spans)
    for a, b in zip(original.spans, back.spans, strict=True):
        assert (a.trace_id, a.span_id, a.name, a.service, a.start_ns, a.end_ns) == (
            b.trace_id,
            b.span_id,
            b.name,
            b.service,
            b.start_ns,
            b.end_ns,
        )
        assert (a.kind, a.status, a.status_message, a.scope) == (
            b.kind,
            b.status,
            b.status_message,
            b.scope,
        )
        assert dict(a.attributes) == dict(b.attributes)
        assert dict(a.resource) == {**b.resource}
        assert a.events == b.events and a.links == b.links
        assert set(a.references) == set(b.references)  # OTLP puts the parent first
        parent = lambda s: next(  # noqa: E731
            (
                r
                for r in s.references
                if r.ref_type is RefType.CHILD_OF and r.trace_id == s.trace_id
            ),
            None,
        )
        assert parent(a) == parent(b)
    # And OTLP JSON itself comes back identical after a second trip.
    assert trace_to_otlp(back) == orjson.loads(written)


def test_writer_groups_several_traces() -> None:
    traces = list(read_traces(several()))
    doc = traces_to_otlp(traces)
    assert len(doc["resourceSpans"]) == 1
    assert sorted(s.trace_id for t in read_traces(orjson.dumps(doc)) for s in t.spans) == [
        T1,
        T1,
        T2,
    ]
