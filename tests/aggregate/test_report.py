"""The aggregate report: figures, ranking, flags, JSON names, folded stacks, renderers."""

from __future__ import annotations

import orjson

from obskit.aggregate import Endpoint, aggregate_traces
from obskit.aggregate.aggregate import HopBaseline
from obskit.aggregate.compare import compare
from obskit.aggregate.run import consume, new_aggregator
from obskit.render import aggregate_graph, aggregate_html, aggregate_json, aggregate_terminal
from obskit.render.folded import render_folded
from tests.aggregate.quantiles import near
from tests.aggregate.shop import shop, shops
from tests.builders import SERVER, build, span

MS = 1_000_000


def report(traces=None, **kwargs):
    return aggregate_traces(
        traces if traces is not None else shops(), Endpoint("checkout"), **kwargs
    )


def test_hops_ranked_by_total_critical_time_with_percentiles_and_exemplar():
    r = report()
    assert r.traces == 5
    # latencies 290, 390, 490, 590, 1190 ms; nearest rank, from the sketch: ±1 %
    assert r.accuracy == 0.01
    assert near(r.duration_ns, {"p50": 490 * MS, "p95": 1190 * MS, "p99": 1190 * MS})
    first, second = r.hops
    assert (first.caller, first.callee, first.external) == ("checkout", "gateway", False)
    assert near(
        first.critical_ns.to_dict(),
        {"p50": 320 * MS, "p95": 1020 * MS, "p99": 1020 * MS, "total": 2100 * MS},
    )
    assert first.share == 2100 / 2950
    assert first.critical_in == 5
    assert first.exemplar_trace_id == f"{5:032x}"  # the slowest trace: g = 1000
    assert (second.callee, second.external, second.critical_ns.total) == (
        "inventory",
        True,
        500 * MS,
    )
    assert not second.flagged  # 17 % < 20 %, and its p95 is its p50


def test_flag_reasons_share_and_tail():
    hop = report().hops[0]
    assert hop.flagged
    assert hop.reason == (
        "checkout → gateway (an instrumented service) holds 71% of the endpoint's latency on "
        "the critical path (2.1s over 5 traces, p95 1.02s); slow in the tail: its p95 CP time "
        "1.02s is 3.2× its p50 (320ms)"
    )
    # a higher threshold leaves only the tail reason; a higher slow factor none at all
    assert report(threshold=0.9).hops[0].reason.startswith("slow in the tail")
    assert not report(threshold=0.9, slow_factor=4).hops[0].flagged


def test_json_names_are_fixed():
    data = orjson.loads(aggregate_json.render(report()))
    assert {"traces", "duration_ns", "hops", "operations", "warnings"} <= data.keys()
    assert data["traces"] == 5
    assert set(data["duration_ns"]) == {"p50", "p95", "p99"}
    assert data["quantile_accuracy"] == 0.01
    assert near(
        data["hops"][0]["critical_ns"],
        {"p50": 320 * MS, "p95": 1020 * MS, "p99": 1020 * MS, "total": 2100 * MS},
    )
    assert data["hops"][0] == {
        "caller": "checkout",
        "callee": "gateway",
        "external": False,
        "critical_ns": data["hops"][0]["critical_ns"],
        "share": 2100 / 2950,
        "critical_in": 5,
        "flagged": True,
        "reason": data["hops"][0]["reason"],
        "exemplar_trace_id": f"{5:032x}",
    }
    assert list(data["hops"][0]) == [
        "caller",
        "callee",
        "external",
        "critical_ns",
        "share",
        "critical_in",
        "flagged",
        "reason",
        "exemplar_trace_id",
    ]
    totals = [h["critical_ns"]["total"] for h in data["hops"]]
    assert totals == sorted(totals, reverse=True)
    assert near(
        data["operations"][0]["critical_ns"],
        {"p50": 300 * MS, "p95": 1000 * MS, "p99": 1000 * MS, "total": 2000 * MS},
    )
    assert data["operations"][0] == {
        "service": "gateway",
        "operation": "charge",
        "critical_ns": data["operations"][0]["critical_ns"],
        "share": 2000 / 2950,
        "critical_in": 5,
        "exemplar_trace_id": f"{5:032x}",
    }


def test_folded_output_is_pinned():
    assert render_folded(report().folded) == (
        "checkout: POST /checkout 350000000\n"
        "checkout: POST /checkout;checkout: POST /charge 100000000\n"
        "checkout: POST /checkout;checkout: POST /charge;gateway: charge 2000000000\n"
        "checkout: POST /checkout;checkout: inventory 500000000\n"
    )


def test_folded_frames_cannot_break_the_format():
    folded = {("a;b: x\ny", "c: d"): 5}
    assert render_folded(folded) == "a,b: x\\x0ay;c: d 5\n"


def test_traces_without_the_endpoint_are_counted_and_named():
    other = build(span("GET /", 0, 10, kind=SERVER, service="elsewhere"), trace_id="ab" * 16)
    r = report([*shops(), other])
    assert (r.traces, r.traces_found) == (5, 6)
    warning = next(w for w in r.warnings if w.code == "no-endpoint")
    assert warning.trace_ids == ("ab" * 16,)
    assert warning.message.startswith("1 trace(s) have no span of checkout")


def test_compare_ranks_what_changed_and_flags_against_the_baseline():
    before = report(shops((100,) * 5, first=11))
    before_aggregator = new_aggregator(Endpoint("checkout"))
    consume(before_aggregator, shops((100,) * 5, first=11))
    # flags against the other window's p50 (120 ms): now 320 ms
    aggregator_baseline = before_aggregator.baseline()
    assert aggregator_baseline[("checkout", "gateway", False)] == HopBaseline(120 * MS, 120 * MS)
    now = report(baseline=aggregator_baseline)
    result = compare("2h..1h", now, before)
    top = result.changes[0]
    assert (top.kind, top.name) == ("hop", ("checkout", "gateway"))
    assert top.before == {"mean": 120 * MS, "p50": 120 * MS, "p95": 120 * MS}
    assert top.after["mean"] == 420 * MS
    assert top.change_ns == 300 * MS
    hop = now.hops[0]
    assert "its p50 CP time 320ms is 2.7× its p50 in the other window (120ms)" in hop.reason
    unchanged = next(c for c in result.changes if c.name == ("checkout", "inventory"))
    assert unchanged.change_ns == 0


def test_compare_flags_a_hop_new_on_the_critical_path():
    # the baseline never called the gateway (a cache answered); now every trace waits on it
    # 100-1000 ms (p50 300 ms, far above 5 % of the endpoint's p95): flagged as new.
    # The inventory hop, unchanged at 100 ms, is not flagged: threshold 1.0 turns the share
    # rule off, as `obskit demo --fault` does.
    baseline = {("checkout", "inventory", True): HopBaseline(100 * MS, 100 * MS)}
    now = report(baseline=baseline, threshold=1.0)
    flagged = {(h.caller, h.callee): h.reason for h in now.hops if h.flagged}
    assert list(flagged) == [("checkout", "gateway")]
    assert flagged[("checkout", "gateway")].startswith(
        "new on the critical path: its p50 CP time is 320ms"
    )


def test_compare_does_not_flag_a_hop_whose_mean_held_when_its_p50_left_zero():
    # A hop racing a parallel call is critical in about half the traces: its p50 flips
    # between 0 and its cost from one window to the next while its mean holds. Here the
    # gateway's p50 went from 0 to 320 ms; flagged only if its mean (420 ms) doubled too.
    key = ("checkout", "gateway", False)

    def flagged(mean_before: int) -> bool:
        hops = report(baseline={key: HopBaseline(0, mean_before)}, threshold=1.0).hops
        return next(h for h in hops if (h.caller, h.callee, h.external) == key).flagged

    assert not flagged(300 * MS)  # 420 / 300: 1.4×
    assert flagged(200 * MS)  # 2.1×


def test_graph_over_many_traces():
    traces = shops()
    r = report(traces)
    edges = {(e.caller, e.callee): e for e in r.graph.edges}
    gateway = edges[("checkout", "gateway")]
    assert (gateway.calls, gateway.errors) == (5, 0)
    assert gateway.duration_ns["p95"] == 1020 * MS  # the client span: g + 20
    nodes = {n.id: n for n in r.graph.nodes}
    assert nodes["inventory"].external and nodes["inventory"].critical_ns == 500 * MS
    assert nodes["gateway"].share == 2000 / 2950
    dot = aggregate_graph.render_dot(r.graph)
    assert "n0 -> n" in dot and "p95 1.02 s" in dot
    mermaid = aggregate_graph.render_mermaid(r.graph)
    assert '-->|"5 calls, p95 1.02 s"|' in mermaid
    text = aggregate_graph.render_text(r.graph, r.traces)
    assert text.startswith("Service dependencies over 5 traces: 2 services, 1 external, 2 edges")


HOSTILE = '<script>alert("x")</script>\x1b[31m'


def test_every_trace_string_is_escaped():
    traces = [shop(i, 100 * i, service=HOSTILE, gateway="gw&<evil>") for i in range(1, 4)]
    r = aggregate_traces(traces, Endpoint(HOSTILE))
    assert r.traces == 3
    page = aggregate_html.render(r)
    assert "<script>" not in page and "<evil>" not in page
    assert "&lt;script&gt;" in page and "gw&amp;&lt;evil&gt;" in page
    assert "\x1b" not in page
    graph_page = aggregate_graph.render_html(r.graph, r.traces)
    assert "<script>" not in graph_page and "&lt;script&gt;" in graph_page
    text = aggregate_terminal.render(r, width=120)
    assert "\x1b" not in text and "\\x1b[31m" in text
    dot = aggregate_graph.render_dot(r.graph)
    assert "<script>" not in dot and "&lt;script&gt;" in dot


def test_terminal_report_leads_with_the_slow_hop():
    text = aggregate_terminal.render(report(), width=110)
    lines = text.splitlines()
    assert lines[0] == "Endpoint checkout · 5 traces analysed"
    # p50 490 ms at ±1 %: the sketch's 487.7 ms
    assert lines[1] == "Latency p50 487.7 ms · p95 1.19 s · p99 1.19 s (quantiles ±1%)"
    assert lines[3] == "Slow hops"
    assert lines[4].startswith("  ▲ checkout → gateway  CP p95 1.02 s (71.2%)")
    assert f"e.g. obskit analyze --trace-id {5:032x}" in text


def test_an_empty_report_says_so():
    r = report([])
    assert r.traces == 0 and r.hops == ()
    assert aggregate_terminal.render(r).splitlines()[:2] == [
        "Endpoint checkout · 0 traces analysed",
        "No trace to analyse.",
    ]
