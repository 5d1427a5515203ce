"""A generated corpus of the demo shop's traces, built directly as model objects (fast).

    storefront  GET /checkout                       SERVER  (root)
    ├─ storefront → checkout   POST /checkout       CLIENT → checkout SERVER
    │  ├─ checkout → inventory GET /stock           CLIENT → inventory SERVER   ┐ in parallel
    │  ├─ checkout → pricing   GET /price           CLIENT → pricing SERVER     ┘
    │  ├─ checkout → fraud     POST /score          CLIENT → fraud SERVER: long, starts with
    │  │                                            inventory, ends before payments does
    │  └─ checkout → payments  POST /charge         CLIENT → payments SERVER
    │     └─ payments → payments-gateway POST /v1/charges  CLIENT, external (peer.service)
    └─ storefront → order-events  PRODUCER → notifier CONSUMER: asynchronous, 3 s

Each hop has a base latency with log-normal jitter (p50: inventory 60 ms, pricing 35 ms in
parallel, payments 25 ms, the gateway 70 ms, checkout 25 ms); ``slow`` adds about ``extra_ms``
(jittered too) to one hop's callee work in every trace. Times are computed in ms first, then
the spans are built in one go.
"""

from __future__ import annotations

import random
from types import MappingProxyType

from obskit.model import Reference, RefType, Span, SpanKind, StatusCode, Trace

BASE = 1_700_000_000_000_000_000
MS = 1_000_000
CHILD = RefType.CHILD_OF
CLIENT, SERVER = SpanKind.CLIENT, SpanKind.SERVER
PRODUCER, CONSUMER = SpanKind.PRODUCER, SpanKind.CONSUMER
GATEWAY_ATTRS = MappingProxyType({"peer.service": "payments-gateway"})
EMPTY = MappingProxyType({})
UNSET = StatusCode.UNSET

# the hops a run may slow: (caller, callee)
SLOWABLE = (
    ("storefront", "checkout"),
    ("checkout", "inventory"),
    ("checkout", "pricing"),
    ("checkout", "payments"),
    ("payments", "payments-gateway"),
)
# the long span that is off the critical path
OFF_PATH = ("checkout", "fraud")

# (span number, parent number or 0, service, name, kind, attributes); times come per trace
SHAPE = (
    (1, 0, "storefront", "GET /checkout", SERVER, EMPTY),
    (2, 1, "storefront", "POST /checkout", CLIENT, EMPTY),
    (3, 2, "checkout", "POST /checkout", SERVER, EMPTY),
    (4, 3, "checkout", "GET /stock", CLIENT, EMPTY),
    (5, 4, "inventory", "GET /stock", SERVER, EMPTY),
    (6, 3, "checkout", "GET /price", CLIENT, EMPTY),
    (7, 6, "pricing", "GET /price", SERVER, EMPTY),
    (8, 3, "checkout", "POST /score", CLIENT, EMPTY),
    (9, 8, "fraud", "POST /score", SERVER, EMPTY),
    (10, 3, "checkout", "POST /charge", CLIENT, EMPTY),
    (11, 10, "payments", "POST /charge", SERVER, EMPTY),
    (12, 11, "payments", "POST /v1/charges", CLIENT, GATEWAY_ATTRS),
    (13, 1, "storefront", "order-events publish", PRODUCER, EMPTY),
    (14, 13, "notifier", "order-events process", CONSUMER, EMPTY),
)
SPAN_IDS = tuple(f"{n:016x}" for n in range(len(SHAPE) + 1))


def jitter(rng: random.Random, ms: float) -> float:
    return ms * rng.lognormvariate(0, 0.25)


def times(rng: random.Random, slow: tuple[str, str] | None, extra_ms: float) -> list[tuple]:
    """(start, end) in ms per span of SHAPE."""

    def extra(hop: tuple[str, str]) -> float:
        return jitter(rng, extra_ms) if slow == hop else 0.0

    inv = jitter(rng, 60) + extra(("checkout", "inventory"))
    pri = jitter(rng, 35) + extra(("checkout", "pricing"))
    pay_own = jitter(rng, 25) + extra(("checkout", "payments"))
    gw = jitter(rng, 70) + extra(("payments", "payments-gateway"))
    co_before = jitter(rng, 10)
    co_after = jitter(rng, 15) + extra(("storefront", "checkout"))
    net = [jitter(rng, 1.0) for _ in range(5)]

    c_start = jitter(rng, 5)
    co_start = c_start + net[0]
    t = co_start + co_before
    inv_end = t + 2 * net[1] + inv
    pri_end = t + 2 * net[2] + pri
    pay_start = max(inv_end, pri_end) + jitter(rng, 2)
    g_start = pay_start + net[3] + pay_own * 0.6
    pay_end = g_start + gw + pay_own * 0.4
    pay_client_end = pay_end + net[3]
    fraud_end = t + (pay_client_end - t) * 0.9  # long, yet it finishes before the payment
    co_end = pay_client_end + co_after
    c_end = co_end + net[0]
    root_end = c_end + jitter(rng, 3)
    return [
        (0.0, root_end),
        (c_start, c_end),
        (co_start, co_end),
        (t, inv_end),
        (t + net[1], inv_end - net[1]),
        (t, pri_end),
        (t + net[2], pri_end - net[2]),
        (t, fraud_end),
        (t + net[4], fraud_end - net[4]),
        (pay_start, pay_client_end),
        (pay_start + net[3], pay_end),
        (g_start, g_start + gw),
        (c_end, c_end + 0.5),
        (c_end + 1, c_end + 3000),  # the notifier: far longer than the request
    ]


def demo_trace(
    rng: random.Random, n: int, slow: tuple[str, str] | None = None, extra_ms: float = 0.0
) -> Trace:
    trace_id = f"{n + 1:032x}"
    t0 = BASE + n * 10_000 * MS
    spans = []
    for (number, parent, service, name, kind, attrs), (start, end) in zip(
        SHAPE, times(rng, slow, extra_ms), strict=True
    ):
        refs = (Reference(CHILD, trace_id, SPAN_IDS[parent]),) if parent else ()
        spans.append(
            Span(
                trace_id,
                SPAN_IDS[number],
                name,
                service,
                t0 + round(start * MS),
                t0 + round(end * MS),
                kind,
                UNSET,
                "",
                refs,
                attrs,
                EMPTY,
                (),
                (),
                "",
            )
        )
    return Trace(trace_id, tuple(spans))


def corpus(
    seed: int, count: int, slow: tuple[str, str] | None = None, extra_ms: float = 0.0
) -> list[Trace]:
    rng = random.Random(seed)
    return [demo_trace(rng, n, slow, extra_ms) for n in range(count)]
