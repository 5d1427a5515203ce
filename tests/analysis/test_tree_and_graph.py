"""The parent rule's edge cases (duplicates, cycles, cross-trace references), external callee
names, and the dependency graph."""

from __future__ import annotations

import pytest

from obskit.analysis import analyze_trace, critical_path, external_name
from obskit.analysis.reports import GraphEdge, GraphNode
from obskit.model import Reference, RefType, Span, Trace
from tests.builders import CLIENT, SERVER, TRACE_ID, build, named, span, span_id


def test_duplicate_ids_keep_the_first_span_and_warn():
    """
    0    10   20         60          100
    |-------------P--------------------|
         |-C----|                           first C   (kept)
              |------C-------|              second C, same id (left out)
    +++++ ++++++ +++++++++++++++++++++++
    """
    trace = build(span("P", 0, 100, [span("C", 10, 20), span("C", 15, 60)]))
    assert named(critical_path(trace), trace) == [("P", 0, 10), ("C", 10, 20), ("P", 20, 100)]
    report = analyze_trace(trace)
    assert [(w.code, w.message, w.span_ids) for w in report.warnings] == [
        (
            "duplicate-id",
            "1 span(s) reuse the id of an earlier span (1 id(s)); kept the first span of each id",
            (span_id("C"),),
        )
    ]


def test_a_reference_cycle_is_broken_with_a_warning():
    """A → B → A (each names the other as parent), beside a normal root R."""

    def ref(parent: str) -> tuple[Reference, ...]:
        return (Reference(RefType.CHILD_OF, TRACE_ID, span_id(parent)),)

    base = 1_000_000_000
    spans = (
        Span(TRACE_ID, span_id("R"), "R", "svc", base, base + 100),
        Span(TRACE_ID, span_id("A"), "A", "svc", base, base + 50, references=ref("B")),
        Span(TRACE_ID, span_id("B"), "B", "svc", base + 10, base + 40, references=ref("A")),
    )
    report = analyze_trace(Trace(TRACE_ID, spans))
    cycle = [w for w in report.warnings if w.code == "cycle"]
    assert [(w.message, set(w.span_ids)) for w in cycle] == [
        (
            f"reference cycle through 2 span(s); {span_id('A')} closes the loop and is analysed "
            "as a root",
            {span_id("A"), span_id("B")},
        )
    ]
    assert sorted(r.operation for r in report.roots) == ["A", "R"]
    assert report.root.operation == "R"


def test_follows_from_into_another_trace_is_a_root_without_warning():
    other = "ffffffffffffffffffffffffffffffff"
    trace = Trace(
        TRACE_ID,
        (
            Span(
                TRACE_ID,
                span_id("batch"),
                "batch",
                "svc",
                0,
                10,
                references=(Reference(RefType.FOLLOWS_FROM, other, span_id("x")),),
            ),
        ),
    )
    assert analyze_trace(trace).warnings == ()


def test_a_trace_without_spans_is_an_input_error():
    from obskit.errors import InputError

    with pytest.raises(InputError, match="has no spans"):
        analyze_trace(Trace(TRACE_ID, ()))


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({"peer.service": "stripe", "server.address": "api.stripe.com"}, "stripe"),
        ({"server.address": "api.stripe.com", "url.full": "https://x.example/"}, "api.stripe.com"),
        ({"service.peer.name": "mysql", "server.address": "db-1"}, "mysql"),
        ({"net.peer.name": "legacy-host"}, "legacy-host"),
        ({"server.address": "127.0.0.1", "server.port": 8006}, "payments-gateway"),
        ({"server.address": "127.0.0.1", "server.port": 9999}, "127.0.0.1"),
        ({"url.full": "http://127.0.0.1:8006/charge"}, "payments-gateway"),
        ({"http.url": "https://maps.example.com/v1?q=1"}, "maps.example.com"),
        ({"db.system": "postgresql", "db.name": "orders"}, "postgresql/orders"),
        ({"db.system": "redis"}, "redis"),
        ({"messaging.system": "kafka", "messaging.destination.name": "orders"}, "kafka/orders"),
        ({"rpc.service": "grpc.health.v1.Health"}, "grpc.health.v1.Health"),
        ({}, "unknown"),
    ],
)
def test_external_callee_names(attributes, expected):
    assert external_name(attributes, {"127.0.0.1:8006": "payments-gateway"}) == expected


def test_dependency_graph_counts_calls_errors_and_critical_time():
    """
    0   10          50  60        90  100
    |---------------web (SERVER)------|
        |-api call-|  |--db query--|          CLIENT → api SERVER; CLIENT → postgres
          |api----|                           api errors
    ++++ ++ +++++++ ++++ ++++++++++++ ++++
    """
    trace = build(
        span(
            "web",
            0,
            100,
            [
                span(
                    "api call",
                    10,
                    50,
                    [span("api", 12, 48, kind=SERVER, service="api", error=True)],
                    kind=CLIENT,
                    service="web",
                ),
                span(
                    "db query",
                    60,
                    90,
                    kind=CLIENT,
                    service="web",
                    attributes={"db.system": "postgresql", "db.name": "shop"},
                ),
            ],
            kind=SERVER,
            service="web",
        )
    )
    report = analyze_trace(trace)
    ms = 1_000_000
    assert report.graph.nodes == (
        GraphNode("api", False, 1),
        GraphNode("web", False, 3),
        GraphNode("postgresql/shop", True, 0),
    )
    assert report.graph.edges == (
        GraphEdge("web", "api", 1, 1, 40 * ms, 40 * ms),
        GraphEdge("web", "postgresql/shop", 1, 0, 30 * ms, 30 * ms),
    )
    graph = report.graph.to_networkx()
    assert graph["web"]["api"]["errors"] == 1


def test_a_cross_service_child_without_a_client_span_is_an_edge():
    trace = build(
        span("front", 0, 100, [span("back", 10, 90, kind=SERVER, service="back")], service="front")
    )
    report = analyze_trace(trace)
    assert report.hops == ()
    assert report.graph.edges == (GraphEdge("front", "back", 1, 0, 80_000_000, 80_000_000),)
