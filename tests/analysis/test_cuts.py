"""Whole-trace checks: `obskit analyze` warns when a trace looks cut in two (a call whose
instrumented callee has no span under it; a server span that starts a trace of its own while
its caller is instrumented), and stays quiet on whole traces and on truly external callees."""

from __future__ import annotations

import orjson

from obskit.analysis import analyze_trace
from obskit.analysis.cuts import Landscape, server_address
from tests.builders import CLIENT, CONSUMER, PRODUCER, SERVER, build, span, span_id

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
    from obskit.ingest.otlp_writer import traces_to_otlp

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
