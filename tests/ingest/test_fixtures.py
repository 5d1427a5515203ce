"""Every real trace fixture is read with the counts SOURCES.md gives, plus what each one is for."""

from __future__ import annotations

from collections import Counter

import pytest

from obskit.errors import InputError
from obskit.ingest import read_trace, read_traces, sniff_format
from obskit.ingest.summaries import read_search
from obskit.ingest.values import UNKNOWN_SERVICE
from obskit.model import RefType, SpanKind, StatusCode
from tests.conftest import FIXTURES

# Copied from tests/fixtures/SOURCES.md (summary table): file, format, spans, services,
# traces. "services" there counts named services: spans without one read as unknown_service.
COUNTS = [
    ("jaeger-v1-api_get-trace_jaeger-query_2spans.json", "jaeger-json", 2, 1, 1),
    ("jaeger-v1-trace-object_petclinic_17spans.json", "jaeger-json", 17, 2, 1),
    ("jaeger-v1-ui-format_edge-cases_ui_01.json", "jaeger-json", 5, 2, 1),
    ("jaeger-apiv3_get-trace_hotrod_40spans.json", "jaeger-api-v3", 40, 6, 1),
    ("jaeger-apiv3_get-trace_snapshot_hex-ids.json", "jaeger-api-v3", 1, 0, 1),
    ("jaeger-apiv3_get-trace_snapshot_v1.53_base64-ids.json", "jaeger-api-v3", 1, 0, 1),
    ("tempo-v1_api-traces_bookinfo_8spans.json", "tempo-v1", 8, 5, 1),
    ("otlp-json_spec-example_1span.json", "otlp-json", 1, 1, 1),
    ("otlp-file-exporter_oteldemo_mixed-signals.jsonl", "otlp-jsonl", 547, 8, 141),
    ("otlp-jsonl_one-trace-over-4-lines.jsonl", "otlp-jsonl", 4, 1, 1),
    ("zipkin-v2_smartthings-mobile-install_1041spans.json", "zipkin-v2", 1041, 16, 1),
    ("zipkin-v2_clock-skew_4spans.json", "zipkin-v2", 4, 2, 1),
]


@pytest.mark.parametrize(("name", "fmt", "spans", "services", "traces"), COUNTS)
def test_fixture_counts(name: str, fmt: str, spans: int, services: int, traces: int) -> None:
    path = FIXTURES / name
    assert sniff_format(path) == fmt
    read = list(read_traces(path))
    assert len(read) == traces
    assert sum(len(t.spans) for t in read) == spans
    named = {s.service for t in read for s in t.spans} - {UNKNOWN_SERVICE}
    assert len(named) == services
    for trace in read:
        for span in trace.spans:
            assert len(span.trace_id) == 32 and span.trace_id == span.trace_id.lower()
            assert len(span.span_id) == 16 and span.span_id == span.span_id.lower()
            assert span.end_ns >= span.start_ns
            for ref in span.references:
                assert len(ref.trace_id) == 32 and len(ref.span_id) == 16


def test_search_fixtures_are_not_traces_but_summaries() -> None:
    for name in ("tempo_api-search_bookinfo.json", "tempo_api-search_ambient_31char-traceid.json"):
        assert sniff_format(FIXTURES / name) == "tempo-search"
    assert sniff_format(FIXTURES / "jaeger-apiv3_trace-summaries_snapshot.json") == (
        "jaeger-trace-summaries"
    )
    with pytest.raises(InputError) as err:
        read_trace(FIXTURES / "tempo_api-search_bookinfo.json")
    assert str(err.value) == (
        "the input is a search result (Tempo /api/search response): it lists traces but holds "
        "no spans; fetch one trace by its id"
    )

    [bookinfo] = read_search(FIXTURES / "tempo_api-search_bookinfo.json")
    assert bookinfo.trace_id == "100cb753c787ed5657c8d88dafc176ed"
    assert bookinfo.root_service == "istio-ingressgateway.istio-system"
    assert bookinfo.root_name == "productpage.bookinfo.svc.cluster.local:9080/productpage"
    assert bookinfo.start_ns == 1701778055570888000
    assert bookinfo.duration_ns == 9_000_000  # durationMs is milliseconds

    [ambient] = read_search(FIXTURES / "tempo_api-search_ambient_31char-traceid.json")
    assert ambient.trace_id == "02e299711ce47710289dc6640727404f"  # 31 chars, left-padded

    [summary] = read_search(FIXTURES / "jaeger-apiv3_trace-summaries_snapshot.json")
    assert summary.trace_id == "00000000000000000000000000000001"
    assert (summary.root_service, summary.root_name) == ("frontend", "HTTP GET /")
    assert (summary.start_ns, summary.duration_ns) == (1000000000000, 1000000000)
    assert (summary.span_count, summary.error_count, summary.services) == (2, 1, ("frontend",))


def test_jaeger_v1_envelope_pads_15_char_span_id_and_converts_microseconds() -> None:
    trace = read_trace(FIXTURES / "jaeger-v1-api_get-trace_jaeger-query_2spans.json")
    assert trace.trace_id == "00000000000000002db17286b3e6b148"  # 16 chars: high half zero
    ids = {s.span_id for s in trace.spans}
    assert "0ec2b4e0bcea566d" in ids  # "ec2b4e0bcea566d" in the file
    root = next(s for s in trace.spans if s.span_id == "2db17286b3e6b148")
    assert root.start_ns == 1571326774777373 * 1000
    assert root.duration_ns == 4199 * 1000
    assert root.kind is SpanKind.SERVER
    assert root.service == "jaeger-query"
    assert "span.kind" not in root.attributes  # it became the kind
    assert root.attributes["http.status_code"] == 200
    assert root.resource["service.name"] == "jaeger-query"
    assert "hostname" in root.resource  # process tags are the resource


def test_jaeger_petclinic_31_char_trace_id_is_padded() -> None:
    trace = read_trace(FIXTURES / "jaeger-v1-trace-object_petclinic_17spans.json")
    assert trace.trace_id == "0df84e36b9e2ee3815d07f0867a5be1f"
    assert Counter(s.service for s in trace.spans) == {
        "api-gateway": 2,
        "customers-service": 15,
    }
    # Reading by the unpadded id works too.
    same = read_trace(
        FIXTURES / "jaeger-v1-trace-object_petclinic_17spans.json",
        trace_id="df84e36b9e2ee3815d07f0867a5be1f",
    )
    assert same.trace_id == trace.trace_id


def test_jaeger_ui_01_edge_cases() -> None:
    trace = read_trace(FIXTURES / "jaeger-v1-ui-format_edge-cases_ui_01.json")
    assert trace.trace_id == "0" * 31 + "1"
    # The duplicate span id is kept, in order: the analysis keeps the first and warns.
    assert [s.span_id[-1] for s in trace.spans] == ["2", "2", "3", "4", "5"]
    dup = trace.spans[1]
    assert dup.attributes["javascript_limit"] == 9223372036854775222  # int64 as a string
    assert dup.attributes["blob"] == b"\x00\x0009"  # binary is base64
    assert dup.attributes["temperature"] == 72.5
    assert dup.status is StatusCode.ERROR  # error=true
    assert "error" not in dup.attributes
    ref_span = trace.spans[3]
    assert [(r.ref_type, r.trace_id[-2:], r.span_id[-2:]) for r in ref_span.references] == [
        (RefType.CHILD_OF, "ff", "ff"),  # into another trace
        (RefType.CHILD_OF, "01", "02"),
        (RefType.FOLLOWS_FROM, "01", "02"),
    ]
    first = trace.spans[0]
    assert [(e.name, dict(e.attributes)) for e in first.events] == [
        ("some-event", {}),
        ("", {"x": "y"}),
    ]
    assert [(w.code, w.message, w.span_ids) for w in trace.warnings] == [
        ("backend", "Jaeger: some span warning", ("0000000000000004", "0000000000000005")),
        ("backend", "Jaeger: some trace warning", ()),
    ]


def test_hotrod_api_v3() -> None:
    trace = read_trace(FIXTURES / "jaeger-apiv3_get-trace_hotrod_40spans.json")
    assert Counter(s.service for s in trace.spans) == {
        "frontend": 13,
        "redis-manual": 14,
        "route": 10,
        "driver": 1,
        "customer": 1,
        "mysql": 1,
    }
    assert sum(s.status is StatusCode.ERROR for s in trace.spans) == 3
    assert sum(len(s.events) for s in trace.spans) == 52
    kinds = Counter(s.kind for s in trace.spans)
    assert kinds[SpanKind.CLIENT] > 0 and kinds[SpanKind.SERVER] > 0
    first = next(s for s in trace.spans if s.span_id == "9082d67808fc8870")
    assert first.kind is SpanKind.CLIENT
    assert first.start_ns == 1782036644636668325  # nanoseconds, exact (no float)
    assert first.attributes["http.response.status_code"] == 200
    assert first.references[0].span_id == "c8d93156b47cd010"


def test_api_v3_hex_and_base64_snapshots_read_alike() -> None:
    hexed = read_trace(FIXTURES / "jaeger-apiv3_get-trace_snapshot_hex-ids.json")
    b64 = read_trace(FIXTURES / "jaeger-apiv3_get-trace_snapshot_v1.53_base64-ids.json")
    [h] = hexed.spans
    [b] = b64.spans
    assert (h.trace_id, h.span_id) == ("0" * 31 + "1", "0" * 15 + "2")
    assert (b.trace_id, b.span_id) == ("0000000000000096" + "00000000000000a0", "00000000000000b4")
    assert h.kind is b.kind is SpanKind.SERVER  # 2 and "SPAN_KIND_SERVER"
    assert h.status is b.status is StatusCode.ERROR  # 2 and "STATUS_CODE_ERROR"
    assert h.service == b.service == UNKNOWN_SERVICE  # empty resource
    assert b.references == ()  # "parentSpanId": "" is a root
    assert b.start_ns == 11651379494838206464  # beyond int64: uint64 kept exactly


def test_tempo_v1_bookinfo() -> None:
    trace = read_trace(FIXTURES / "tempo-v1_api-traces_bookinfo_8spans.json")
    assert trace.trace_id == "3ba55609c3cde49649cd77d1f9dcd936"  # base64 O6VWCcPN5JZJzXfR+dzZNg==
    root = next(s for s in trace.spans if not s.references)
    assert root.span_id == "49cd77d1f9dcd936"  # Sc130fnc2TY=
    assert root.kind is SpanKind.CLIENT
    assert root.service == "istio-ingressgateway.istio-system"
    assert root.attributes["http.status_code"] == "200"  # a string attribute stays a string
    assert Counter(s.service for s in trace.spans)["productpage.bookinfo"] == 3


def test_otlp_spec_example_uppercase_orphan() -> None:
    trace = read_trace(FIXTURES / "otlp-json_spec-example_1span.json")
    [span] = trace.spans
    assert span.trace_id == "5b8efff798038103d269b633813fc60c"
    assert span.span_id == "eee19b7ec3c1b174"
    assert span.references[0].span_id == "eee19b7ec3c1b173"  # parent not in the file
    assert span.scope == "my.library"
    assert span.duration_ns == 1_000_000_000
    assert span.attributes == {"my.span.attr": "some value"}


def test_collector_file_mixed_signals_and_split_traces() -> None:
    traces = list(read_traces(FIXTURES / "otlp-file-exporter_oteldemo_mixed-signals.jsonl"))
    spans = [s for t in traces for s in t.spans]
    assert Counter(s.service for s in spans) == {
        "frontend": 197,
        "frontend-proxy": 150,
        "loadgenerator": 83,
        "productcatalogservice": 40,
        "flagd": 25,
        "adservice": 24,
        "recommendationservice": 16,
        "checkoutservice": 12,
    }
    assert sum(s.status is StatusCode.ERROR for s in spans) == 107
    assert len({t.trace_id for t in traces}) == 141  # each trace once, merged across lines


def test_one_trace_over_four_lines_is_merged() -> None:
    [trace] = read_traces(FIXTURES / "otlp-jsonl_one-trace-over-4-lines.jsonl")
    assert trace.trace_id == "c620759e5d60fafb8ee0922b30e06bc6"
    assert len(trace.spans) == 4


def test_zipkin_shared_ids_are_keyed_by_id_and_kind() -> None:
    trace = read_trace(FIXTURES / "zipkin-v2_smartthings-mobile-install_1041spans.json")
    ids = Counter(s.span_id for s in trace.spans)
    # 290 ids were shared; what stays duplicated is five SERVER spans of one id and kind.
    assert [(sid, n) for sid, n in ids.items() if n > 1] == [("47ffee82b3f19009", 5)]
    by_id = {s.span_id: s for s in trace.spans}
    present = set(by_id)
    assert all(r.span_id in present for s in trace.spans for r in s.references)
    roots = [s for s in trace.spans if not s.references]
    assert [(r.service, r.name) for r in roots] == [("coreSrv", "get /login/tokenauth")]
    assert {w.code: len(w.span_ids) for w in trace.warnings} == {
        "missing-timing": 91,
        "fragment": 84,
    }


def test_zipkin_clock_skew_server_hangs_on_its_client() -> None:
    trace = read_trace(FIXTURES / "zipkin-v2_clock-skew_4spans.json")
    by = {(s.service, s.kind, s.name): s for s in trace.spans}
    client = by[("servicea", SpanKind.CLIENT, "post")]
    server = by[("serviceb", SpanKind.SERVER, "post")]
    child = by[("serviceb", SpanKind.UNSPECIFIED, "async")]
    assert client.span_id == "74280ae0c10d8062"
    assert server.span_id != client.span_id
    assert server.attributes["zipkin.span_id"] == "74280ae0c10d8062"
    assert server.references[0].span_id == client.span_id
    assert child.references[0].span_id == server.span_id  # the server side's own child
    assert server.start_ns < client.start_ns  # the skew is reported as is, not fixed
    assert client.start_ns == 1470150004074202 * 1000
