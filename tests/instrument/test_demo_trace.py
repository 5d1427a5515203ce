"""One checkout through the instrumented demo shop, as the OTLP receiver gets it.

storefront  SERVER POST /checkout            (parent: our traceparent)
└ storefront CLIENT POST ──► checkout SERVER POST /orders
    ├ checkout CLIENT POST ──► inventory SERVER POST /reserve ─┐ in parallel
    │                             └ inventory CLIENT sqlite ×5  │ (pool threads)
    ├ checkout CLIENT GET  ──► pricing SERVER GET /quote ──────┘
    └ checkout CLIENT POST ──► payments SERVER POST /charge     (after both)
                                  └ payments CLIENT POST ──► payments-gateway
                                    (not instrumented: no span of its own)
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest
import requests

from demo_services.shop import GATEWAY, Shop
from tests.instrument.otlp_receiver import Receiver

pytestmark = pytest.mark.slow  # starts real servers or runs end to end

Span = dict[str, Any]


def checkout(shop: Shop, **order: Any) -> tuple[requests.Response, str, str]:
    """POST /checkout with our own sampled traceparent; returns the response, trace and
    parent span ids."""
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    resp = requests.post(
        f"{shop.url}/checkout",
        json=order or {"sku": "tea", "qty": 2},
        headers={"traceparent": f"00-{trace_id}-{parent_id}-01"},
        timeout=30,
    )
    return resp, trace_id, parent_id


def wait_for_trace(receiver: Receiver, trace_id: str, shop: Shop) -> list[Span]:
    """Every span of the trace, once the gateway call and the storefront span are in."""
    gateway_port = shop.member(GATEWAY).port

    def complete(spans: list[Span]) -> list[Span] | None:
        mine = [s for s in spans if s["trace_id"] == trace_id]
        services = {s["service"] for s in mine if s["kind"] == "SERVER"}
        to_gateway = [s for s in mine if s["attributes"].get("server.port") == gateway_port]
        needed = {"storefront", "checkout", "inventory", "pricing", "payments"}
        return mine if services >= needed and to_gateway else None

    return receiver.wait_for(complete)


def one(spans: list[Span], **match: Any) -> Span:
    found = [s for s in spans if all(s.get(k) == v for k, v in match.items())]
    assert len(found) == 1, f"expected one span with {match}, got {len(found)}: {found}"
    return found[0]


def client_to(spans: list[Span], parent: Span, port: int) -> Span:
    found = [
        s
        for s in spans
        if s["kind"] == "CLIENT"
        and s["parent_span_id"] == parent["span_id"]
        and s["attributes"].get("server.port") == port
    ]
    assert len(found) == 1, f"expected one call from {parent['name']} to port {port}: {found}"
    return found[0]


def overlap(a: Span, b: Span) -> bool:
    return a["start_ns"] < b["end_ns"] and b["start_ns"] < a["end_ns"]


def test_one_checkout_is_one_trace_across_the_shop(shop: Shop, receiver: Receiver, faults) -> None:
    resp, trace_id, parent_id = checkout(shop)
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "paid"
    spans = wait_for_trace(receiver, trace_id, shop)
    port = {m.name: m.port for m in shop.members}

    front = one(spans, service="storefront", kind="SERVER", name="POST /checkout")
    assert front["parent_span_id"] == parent_id  # our traceparent was honoured
    front_call = client_to(spans, front, port["checkout"])
    orders = one(spans, service="checkout", kind="SERVER", name="POST /orders")
    assert orders["parent_span_id"] == front_call["span_id"]

    to_inventory = client_to(spans, orders, port["inventory"])
    to_pricing = client_to(spans, orders, port["pricing"])
    to_payments = client_to(spans, orders, port["payments"])
    reserve = one(spans, service="inventory", kind="SERVER", name="POST /reserve")
    quote = one(spans, service="pricing", kind="SERVER", name="GET /quote")
    charge = one(spans, service="payments", kind="SERVER", name="POST /charge")
    assert reserve["parent_span_id"] == to_inventory["span_id"]
    assert quote["parent_span_id"] == to_pricing["span_id"]
    assert charge["parent_span_id"] == to_payments["span_id"]
    # stock and price are asked for at the same time, the payment only after both answered
    assert overlap(to_inventory, to_pricing)
    assert to_payments["start_ns"] >= max(to_inventory["end_ns"], to_pricing["end_ns"])

    # the third-party gateway: a CLIENT span that names it, and nothing from its side
    gateway = shop.member(GATEWAY)
    to_gateway = client_to(spans, charge, gateway.port)
    assert to_gateway["attributes"]["server.address"] == shop.spec.external[0].host
    assert to_gateway["scope"] == "opentelemetry.instrumentation.requests"
    assert not [s for s in spans if s["parent_span_id"] == to_gateway["span_id"]]
    assert {s["service"] for s in spans} == {
        "storefront",
        "checkout",
        "inventory",
        "pricing",
        "payments",
    }

    # database spans under the reservation, with the statements that ran
    queries = [s for s in spans if s["parent_span_id"] == reserve["span_id"]]
    assert {s["attributes"].get("db.system") for s in queries} == {"sqlite"}
    statements = [s["attributes"]["db.statement"] for s in queries]
    assert "SELECT quantity FROM stock WHERE sku = ?" in statements
    assert "UPDATE stock SET quantity = quantity - ? WHERE sku = ?" in statements
    assert any(st.startswith("INSERT INTO reservation") for st in statements)

    http = [s for s in spans if "http.response.status_code" in s["attributes"]]
    assert len(http) == 10  # 5 server spans and 5 client spans, all answered 200
    assert {s["attributes"]["http.response.status_code"] for s in http} == {200}
    assert {s["status"] for s in spans} == {"UNSET"}
    # stable HTTP semantic conventions, and the resource from the spec
    assert front["attributes"]["http.request.method"] == "POST"
    assert front["attributes"]["http.route"] == "/checkout"
    assert front["resource"]["service.namespace"] == "shop"
    assert front["resource"]["deployment.environment"] == "demo"
    assert front["resource"]["deployment.environment.name"] == "demo"
    assert front["resource"]["service.version"] == "0.0.0"


def test_gateway_errors_mark_the_path_to_the_user(shop: Shop, receiver: Receiver, faults) -> None:
    faults.gateway(error_rate=1)
    resp, trace_id, _ = checkout(shop)
    assert resp.status_code == 502
    assert resp.json()["error"] == "payment failed"
    spans = wait_for_trace(receiver, trace_id, shop)
    charge = one(spans, service="payments", kind="SERVER", name="POST /charge")
    to_gateway = client_to(spans, charge, shop.member(GATEWAY).port)
    assert to_gateway["attributes"]["http.response.status_code"] == 503
    assert to_gateway["status"] == "ERROR"
    for service, name in (("payments", "POST /charge"), ("checkout", "POST /orders"),
                          ("storefront", "POST /checkout")):  # fmt: skip
        server = one(spans, service=service, kind="SERVER", name=name)
        assert server["attributes"]["http.response.status_code"] == 502
        assert server["status"] == "ERROR"
    # the parallel half succeeded
    assert one(spans, service="inventory", kind="SERVER")["status"] == "UNSET"


def test_slow_inventory_query_shows_in_its_database_span(
    shop: Shop, receiver: Receiver, faults
) -> None:
    faults.inventory(slow_query_ms=250)
    resp, trace_id, _ = checkout(shop)
    assert resp.status_code == 200
    spans = wait_for_trace(receiver, trace_id, shop)
    lookup = one(spans, service="inventory", kind="CLIENT", name="SELECT")
    assert "demo_delay" in lookup["attributes"]["db.statement"]
    assert lookup["end_ns"] - lookup["start_ns"] >= 250e6


def test_gateway_latency_knob_is_seen_in_the_client_span(
    shop: Shop, receiver: Receiver, faults
) -> None:
    faults.gateway(latency_ms=400, jitter_ms=0)
    resp, trace_id, _ = checkout(shop)
    assert resp.status_code == 200
    spans = wait_for_trace(receiver, trace_id, shop)
    charge = one(spans, service="payments", kind="SERVER", name="POST /charge")
    to_gateway = client_to(spans, charge, shop.member(GATEWAY).port)
    assert to_gateway["end_ns"] - to_gateway["start_ns"] >= 400e6


def test_fault_admin_rejects_bad_values(shop: Shop, faults) -> None:
    url = f"{shop.member(GATEWAY).url}/admin/faults"
    resp = requests.post(url, json={"error_rate": 2}, timeout=5)
    assert resp.status_code == 400
    assert resp.json() == {"error": "error_rate must be from 0 to 1"}
    resp = requests.post(url, json={"latency": 5}, timeout=5)
    assert resp.json() == {
        "error": "unknown fault 'latency' (known: extra_latency_ms, latency_ms, jitter_ms, "
        "error_rate)"
    }
    assert requests.get(url, timeout=5).json() == {
        "extra_latency_ms": 0,
        "latency_ms": 50,
        "jitter_ms": 10,
        "error_rate": 0,
    }
