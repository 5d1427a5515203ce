"""Whole-trace checks: `obskit analyze` warns when a trace looks cut in two (a call whose
instrumented callee has no span under it; a server span that starts a trace of its own while
its caller is instrumented), and stays quiet on whole traces and on truly external callees."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from obskit import read_trace
from obskit.analysis import analyze_trace
from obskit.analysis.cuts import Landscape, server_address
from obskit.ingest.otlp_writer import traces_to_otlp
from obskit.model import Reference, RefType, Span, SpanKind, Trace
from obskit.serve.jaeger_json import trace_to_jaeger
from tests.builders import CLIENT, CONSUMER, PRODUCER, SERVER, build, span, span_id

INTERNAL = SpanKind.INTERNAL
BASE = 1_700_000_000_000_000_000

FA = {"server.address": "127.0.0.1:8000", "server.port": 8000}  # as the ASGI instrumentation
TO_FA = {"server.address": "127.0.0.1", "server.port": 8000}
TO_GATEWAY = {"server.address": "api.gateway.example", "server.port": 443}


def cuts(report):
    return [(w.code, w.span_ids) for w in report.warnings if w.code.startswith("cut-")]


def test_a_whole_trace_has_no_cut_warning():
    """
    fa SERVER GET /chain  |---------------------------|
      fa CLIENT GET         |-------------------|
        fa SERVER GET /hello  |-----------|
    """
    trace = build(
        span("GET /chain", 0, 100, [
            span("GET", 10, 80, [
                span("GET /hello", 20, 60, kind=SERVER, service="fa", attributes=FA),
            ], kind=CLIENT, service="fa", attributes=TO_FA),
        ], kind=SERVER, service="fa", attributes=FA),
    )  # fmt: skip
    assert cuts(analyze_trace(trace)) == []


def test_a_call_to_where_an_instrumented_service_answers_but_no_span_under_it():
    """The callee (fa itself, served at 127.0.0.1:8000 as its own root shows) dropped the
    context: its /hello span went to another trace.

    fa SERVER GET /chain  |---------------------------|
      fa CLIENT GET         |-------------------|          (no server child)
      fa CLIENT GET gw        |---|                        (external: not a cut)
    """
    trace = build(
        span("GET /chain", 0, 100, [
            span("GET", 10, 80, kind=CLIENT, service="fa", attributes=TO_FA),
            span("GET gw", 12, 16, kind=CLIENT, service="fa", attributes=TO_GATEWAY),
        ], kind=SERVER, service="fa", attributes=FA),
    )  # fmt: skip
    report = analyze_trace(trace)
    assert cuts(report) == [("cut-call", (span_id("GET"),))]
    assert [w.message for w in report.warnings] == [
        f"trace looks cut: fa's call 'GET' ({span_id('GET')}) to 127.0.0.1:8000 has no fa span "
        "under it, though fa is instrumented there: fa dropped the incoming trace context (is "
        "its server or consumer instrumented?) or its spans went to another trace"
    ]


def test_a_server_root_whose_caller_is_instrumented_elsewhere_in_the_data():
    """Trace 1 (the data) shows web calling api's GET /items with context; trace 2 is api's
    GET /items as a root: the call that started it sent no context.

    trace 1: web SERVER / |----------|  ── web CLIENT |------| ── api SERVER GET /items |--|
    trace 2:                                                   api SERVER GET /items |--|
    """
    linked = build(
        span("/", 0, 100, [
            span("call", 10, 90, [
                span("GET /items", 20, 80, kind=SERVER, service="api"),
            ], kind=CLIENT, service="web"),
        ], kind=SERVER, service="web"),
    )  # fmt: skip
    cut = build(
        span("GET /items", 0, 50, kind=SERVER, service="api"),
        trace_id="1" * 32,
    )
    report = analyze_trace(cut, landscape=Landscape.of([linked, cut]))
    assert cuts(report) == [("cut-root", (span_id("GET /items"),))]
    assert "its caller web is instrumented (elsewhere in the data web calls it" in (
        report.warnings[0].message
    )
    # alone, a root server span is just where a request came in
    assert cuts(analyze_trace(cut)) == []


def test_a_server_root_that_started_while_a_call_to_its_address_was_open():
    """trace 1: fa CLIENT to 127.0.0.1:8000 [10, 80], no server child;
    trace 2: fa SERVER GET /hello at 127.0.0.1:8000 [20, 60], no parent."""
    caller = build(
        span("GET /chain", 0, 100, [
            span("GET", 10, 80, kind=CLIENT, service="fa", attributes=TO_FA),
        ], kind=SERVER, service="fa"),
    )  # fmt: skip
    callee = build(
        span("GET /hello", 20, 60, kind=SERVER, service="fa", attributes=FA),
        trace_id="2" * 32,
    )
    data = Landscape.of([caller, callee])
    assert cuts(analyze_trace(callee, landscape=data)) == [("cut-root", (span_id("GET /hello"),))]
    assert cuts(analyze_trace(caller, landscape=data)) == [("cut-call", (span_id("GET"),))]


def test_a_task_sent_to_a_queue_an_instrumented_worker_consumes_without_a_consumer_span():
    """
    trace 1: web PRODUCER apply_async/add |--| ── worker CONSUMER run/add |--|
    trace 2: web PRODUCER apply_async/add |--|   (no consumer: the worker lost the context)
    """
    task = {"celery.task_name": "proj.tasks.add"}
    linked = build(
        span("apply_async/add", 0, 10, [
            span("run/add", 20, 30, kind=CONSUMER, service="worker", attributes=task),
        ], kind=PRODUCER, service="web", attributes=task),
    )  # fmt: skip
    lost = build(
        span("apply_async/add", 0, 10, kind=PRODUCER, service="web", attributes=task),
        trace_id="3" * 32,
    )
    report = analyze_trace(lost, landscape=Landscape.of([linked, lost]))
    assert cuts(report) == [("cut-call", (span_id("apply_async/add"),))]


def test_server_addresses_as_the_instrumentations_write_them():
    assert server_address({"server.address": "127.0.0.1:8000", "server.port": 8000}) == (
        "127.0.0.1:8000"
    )
    assert server_address({"net.host.name": "shop", "net.host.port": 80}) == "shop:80"
    assert server_address({"http.host": "shop:8080"}) == "shop:8080"
    assert server_address({"url.full": "https://shop.example/x"}) == "shop.example:443"
    assert server_address({"server.address": "shop"}) is None  # no port: no address


def test_analyze_checks_a_trace_against_every_trace_of_its_file(tmp_path):
    """`obskit analyze --file` with several traces: the others are the data a cut shows in.

    trace 1: web SERVER / ── web CLIENT call ── api SERVER GET /items
    trace 2: api SERVER GET /items   (no parent: cut-root)
    """
    from click.testing import CliRunner

    from obskit.cli import cli

    linked = build(
        span("/", 0, 100, [
            span("call", 10, 90, [
                span("GET /items", 20, 80, kind=SERVER, service="api"),
            ], kind=CLIENT, service="web"),
        ], kind=SERVER, service="web"),
    )  # fmt: skip
    cut = build(span("GET /items", 0, 50, kind=SERVER, service="api"), trace_id="1" * 32)
    path = tmp_path / "traces.json"
    path.write_bytes(orjson.dumps(traces_to_otlp([linked, cut])))
    result = CliRunner().invoke(
        cli, ["analyze", "--file", str(path), "--trace-id", "1" * 32, "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    warnings = orjson.loads(result.stdout)["warnings"]
    assert [(w["code"], w["span_ids"]) for w in warnings] == [("cut-root", [span_id("GET /items")])]
    assert result.stderr.startswith("Warning: [cut-root] trace looks cut: api 'GET /items'")


# --- the landscape of one trace reads only what its check asks -------------------------------

HOSTS = ["api.gateway.example", "API.Gateway.Example", "127.0.0.1", "::1", "shop", 'we"ird', "ünï"]


@st.composite
def address_attributes(draw: st.DrawFn) -> dict:
    host = draw(st.sampled_from(HOSTS))
    port = draw(st.sampled_from([80, 443, 8000]))
    in_url = f"[{host}]" if ":" in host else host
    return draw(
        st.sampled_from([
            {},
            {"http.route": "/x"},
            {"server.address": host, "server.port": port},
            {"net.peer.name": host, "net.peer.port": port},
            {"server.address": f"{host}:{port}"},
            {"net.host.name": host, "net.host.port": port},
            {"http.host": f"{host}:{port}"},
            {"url.full": f"http://{in_url}:{port}/x"},
            {"http.url": f"https://{in_url}/x"},
            {"server.address": 10, "server.port": port},
            {"messaging.system": "rabbitmq", "messaging.destination.name": host},
            {"celery.task_name": host},
        ])
    )  # fmt: skip


# calls and their callees most often, so that cuts are common
KINDS = [SERVER, SERVER, CLIENT, CLIENT, PRODUCER, CONSUMER, INTERNAL]


@st.composite
def traces_with_addresses(draw: st.DrawFn) -> Trace:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    spans = []
    for i in range(draw(st.integers(1, 16))):
        parent = draw(st.integers(-1, i - 1))
        spans.append(
            Span(
                trace_id=trace_id,
                span_id=f"{i + 1:016x}",
                name=f"op{draw(st.integers(0, 1))}",
                service=f"svc{draw(st.integers(0, 1))}",
                start_ns=BASE + draw(st.integers(0, 20)) * 1000,
                end_ns=BASE + draw(st.integers(20, 40)) * 1000,
                kind=draw(st.sampled_from(KINDS)),
                references=()
                if parent < 0
                else (Reference(RefType.CHILD_OF, trace_id, f"{parent + 1:016x}"),),
                attributes=draw(address_attributes()),
            )
        )
    return Trace(trace_id, tuple(spans))


@settings(max_examples=500, deadline=None)
@given(traces_with_addresses(), st.sampled_from(["otlp-json", "jaeger-json"]))
def test_one_traces_cut_check_finds_what_learning_every_span_finds(trace, fmt):
    """Analysed alone, a trace's landscape reads spans only while a question is open (hosts in
    other cases, IPv6, quotes to escape, a number for a host): the warnings are those of a
    landscape learnt from every span, read from the same bytes in the fast readers' form
    (attributes still text)."""
    if fmt == "otlp-json":
        data = orjson.dumps(traces_to_otlp([trace]))
    else:
        data = orjson.dumps({"data": [trace_to_jaeger(trace)]})
    alone = analyze_trace(read_trace(data, format=fmt))
    whole = read_trace(data, format=fmt)
    learnt = analyze_trace(whole, landscape=Landscape.of([whole]))
    assert [w.message for w in alone.warnings] == [w.message for w in learnt.warnings]


def test_roots_whose_operations_the_same_trace_calls_with_context():
    """Analysed alone, the trace is its own landscape: every call in it is looked at until each
    root's operation is found among the called ones, or none is left.

    cart SERVER GET /cart  |--|                               (no parent)
    api SERVER GET /items  |----|                             (no parent)
    web SERVER /           |-------------------------------|
      web CLIENT cart        |------|
        cart SERVER GET /cart  |--|                           (called with context)
      web CLIENT items                 |----------|
        api SERVER GET /items            |------|             (called with context)
    """
    trace = build(
        span("GET /cart", 0, 10, kind=SERVER, service="cart"),
        span("GET /items", 0, 20, kind=SERVER, service="api"),
        span("/", 0, 100, [
            span("cart", 10, 30, [
                span("GET /cart", 12, 28, kind=SERVER, service="cart", id="1" * 16),
            ], kind=CLIENT, service="web"),
            span("items", 40, 80, [
                span("GET /items", 45, 75, kind=SERVER, service="api", id="2" * 16),
            ], kind=CLIENT, service="web"),
        ], kind=SERVER, service="web"),
    )  # fmt: skip
    report = analyze_trace(trace)
    assert cuts(report) == [
        ("cut-root", (span_id("GET /cart"),)),
        ("cut-root", (span_id("GET /items"),)),
    ]
    evidence = "(elsewhere in the data web calls it with trace context)"
    assert all(evidence in w.message for w in report.warnings if w.code == "cut-root")


def test_a_call_answered_at_a_roots_address_is_not_open_for_it():
    """The call to 127.0.0.1:8000 got its server span (GET /x), so GET /hello starting while
    it was open is no sign of a cut.

    fa SERVER GET /hello  at 127.0.0.1:8000  |----|          (no parent)
    fa SERVER GET /chain   |------------------------------|
      fa CLIENT GET to 127.0.0.1:8000  |-------------------|
        fa SERVER GET /x                 |--|
    """
    trace = build(
        span("GET /hello", 20, 60, kind=SERVER, service="fa", attributes=FA),
        span("GET /chain", 0, 100, [
            span("GET", 10, 80, [
                span("GET /x", 12, 18, kind=SERVER, service="fa", attributes=FA),
            ], kind=CLIENT, service="fa", attributes=TO_FA),
        ], kind=SERVER, service="fa"),
    )  # fmt: skip
    assert cuts(analyze_trace(trace)) == []
    # the same call with no server span under it was open when GET /hello started
    unanswered = build(
        span("GET /hello", 20, 60, kind=SERVER, service="fa", attributes=FA),
        span("GET /chain", 0, 100, [
            span("GET", 10, 80, kind=CLIENT, service="fa", attributes=TO_FA),
        ], kind=SERVER, service="fa"),
    )  # fmt: skip
    assert ("cut-root", (span_id("GET /hello"),)) in cuts(analyze_trace(unanswered))
