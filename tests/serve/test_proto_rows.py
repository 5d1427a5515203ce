"""The common-shape protobuf path gives exactly the rows of the careful path (the model, then
Jaeger's JSON), and steps aside for everything it does not read the same way."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from obskit.errors import InputError
from obskit.ingest import read_traces
from obskit.serve.decoding import decode_rows
from obskit.serve.proto_rows import proto_rows
from obskit.serve.store import span_rows

TRACE_IDS = [bytes.fromhex("4bf92f3577b34da6a3ce929d0e0e4736"), bytes(15) + b"\x01"]
BASE = 1_700_000_000_000_000_000


def careful_rows(body: bytes) -> list[tuple]:
    traces = read_traces(body, format="otlp-proto", refused=[])
    return span_rows([span for trace in traces for span in trace.spans])


def scalar(draw: st.DrawFn) -> AnyValue:
    kind = draw(st.sampled_from(["string", "bool", "int", "double"]))
    if kind == "string":
        return AnyValue(string_value=draw(st.text(max_size=6)))
    if kind == "bool":
        return AnyValue(bool_value=draw(st.booleans()))
    if kind == "int":
        return AnyValue(int_value=draw(st.integers(-(2**63), 2**63 - 1)))
    return AnyValue(double_value=draw(st.floats(allow_nan=True, allow_infinity=True)))


@st.composite
def attributes(draw: st.DrawFn, keys: list[str]) -> list[KeyValue]:
    # distinct keys: with a repeated one the careful path keeps the last value in first place
    drawn = [
        KeyValue(key=draw(st.sampled_from(keys)), value=scalar(draw))
        for _ in range(draw(st.integers(0, 4)))
    ]
    return list({kv.key: kv for kv in drawn}.values())


@st.composite
def requests(draw: st.DrawFn) -> ExportTraceServiceRequest:
    """An export request as the SDKs send it."""
    request = ExportTraceServiceRequest()
    for _ in range(draw(st.integers(1, 3))):
        resource_spans = request.resource_spans.add()
        resource_spans.resource.attributes.extend(
            draw(attributes(["service.name", "host.name", "big"]))
        )
        for _ in range(draw(st.integers(1, 2))):
            scope_spans = resource_spans.scope_spans.add()
            scope_spans.scope.name = draw(st.sampled_from(["", "opentelemetry.flask"]))
            for k in range(draw(st.integers(0, 4))):
                span = scope_spans.spans.add()
                span.trace_id = draw(st.sampled_from(TRACE_IDS))
                span.span_id = (k + 1).to_bytes(8, "big")
                if draw(st.booleans()):
                    span.parent_span_id = draw(st.binary(min_size=8, max_size=8))
                span.name = draw(st.sampled_from(["GET /", "call", "ünï"]))
                span.kind = draw(st.integers(0, 5))
                span.status.code = draw(st.integers(0, 2))
                span.status.message = draw(st.sampled_from(["", "boom"]))
                span.start_time_unix_nano = BASE + draw(st.integers(0, 10**9))
                span.end_time_unix_nano = span.start_time_unix_nano + draw(st.integers(0, 10**9))
                span.attributes.extend(draw(attributes(["http.route", "k", "big"])))
    return request


ODDITIES = [
    "short id", "zero trace id", "ends before it starts", "ends past 2262", "unknown kind",
    "unknown status", "event", "link", "repeated key", "list value", "empty value",
    "bytes value", "jaeger warnings", "repeated resource key", "list resource value",
]  # fmt: skip


@st.composite
def odd_requests(draw: st.DrawFn) -> tuple[str, bytes]:
    """A request as the SDKs send it but for one oddity in one place."""
    request = draw(requests())
    odd = draw(st.sampled_from(ODDITIES))
    resource = draw(st.sampled_from(list(request.resource_spans))).resource
    spans = [span for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans]
    if not spans or "resource" in odd:
        value = AnyValue(array_value={"values": [AnyValue(string_value="a")]})
        if "repeated" in odd:
            value = AnyValue(string_value="again")
        resource.attributes.add(key="service.name", value=value)
        resource.attributes.add(key="service.name", value=value)
        return odd, request.SerializeToString()
    span = draw(st.sampled_from(spans))
    end = span.end_time_unix_nano
    changes = {
        "short id": lambda: setattr(span, "span_id", b"\x01\x02"),
        "zero trace id": lambda: setattr(span, "trace_id", bytes(16)),
        "ends before it starts": lambda: setattr(span, "start_time_unix_nano", end + 1),
        "ends past 2262": lambda: setattr(span, "end_time_unix_nano", 2**64 - 1),
        "unknown kind": lambda: setattr(span, "kind", 9),
        "unknown status": lambda: setattr(span.status, "code", 7),
        "event": lambda: span.events.add(time_unix_nano=end, name="retry"),
        "link": lambda: span.links.add(trace_id=TRACE_IDS[0], span_id=(7).to_bytes(8, "big")),
        "repeated key": lambda: span.attributes.extend(
            [KeyValue(key="k", value=AnyValue(int_value=1))] * 2
        ),
        "list value": lambda: span.attributes.add(
            key="k", value=AnyValue(array_value={"values": [AnyValue(bool_value=True)]})
        ),
        "empty value": lambda: span.attributes.add(key="k", value=AnyValue()),
        "bytes value": lambda: span.attributes.add(key="k", value=AnyValue(bytes_value=b"\0")),
        "jaeger warnings": lambda: span.attributes.add(
            key="@jaeger@warnings", value=AnyValue(string_value="clock skew adjusted")
        ),
    }
    changes[odd]()
    return odd, request.SerializeToString()


@settings(max_examples=300, deadline=None)
@given(requests())
def test_what_the_sdks_send_takes_the_common_path_to_the_same_rows(request):
    body = request.SerializeToString()
    rows = proto_rows(body)
    assert rows is not None
    assert rows == careful_rows(body)


@settings(max_examples=400, deadline=None)
@given(odd_requests())
def test_anything_else_goes_the_careful_way(odd_body):
    """An oddity anywhere sends the whole body the careful way, so what a receiver stores,
    leaves out or refuses does not depend on which path read it."""
    _, body = odd_body
    assert proto_rows(body) is None
    decoded = decode_rows(body, "otlp-proto")
    try:
        expected = careful_rows(body)
    except InputError:
        assert decoded.rows is None and decoded.problem
    else:
        assert decoded.rows == expected


def test_big_integers_and_odd_doubles_are_written_as_jaeger_writes_them():
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    # an integer is no service name, even one written as a string tag
    resource_spans.resource.attributes.add(key="service.name", value=AnyValue(int_value=2**53))
    span = resource_spans.scope_spans.add().spans.add()
    span.trace_id, span.span_id = TRACE_IDS[0], (1).to_bytes(8, "big")
    span.start_time_unix_nano = span.end_time_unix_nano = BASE
    span.attributes.extend([
        KeyValue(key="big", value=AnyValue(int_value=2**53)),
        KeyValue(key="nan", value=AnyValue(double_value=math.nan)),
    ])  # fmt: skip
    body = request.SerializeToString()
    (row,) = proto_rows(body)
    assert b'{"key":"big","type":"int64","value":"9007199254740992"}' in row[9]
    assert b'{"key":"nan","type":"float64","value":null}' in row[9]
    assert row[3] == "unknown_service"
    assert [row] == careful_rows(body)
