"""What-if projections re-time the trace and walk it again (obskit/aggregate/whatif.py).

In the pictures, ``+`` marks the critical path. The first timeline is the trace as recorded,
the second the re-timed one; times are the builder's units (1 unit = 1 ms).
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from obskit.aggregate.sample import Endpoint, sample_trace, what_if_path
from obskit.aggregate.whatif import parse_what_if, spread
from obskit.errors import InputError
from tests.builders import BASE, CLIENT, MS, SERVER, build, case_16_trace, named, span

GATEWAY = {"peer.service": "payments-gateway"}


def projected(trace, spec, endpoint=None):
    """(the re-walked path in builder units, projected duration in units)."""
    what = parse_what_if(spec)
    path = named(what_if_path(trace, what, endpoint), trace)
    sample = sample_trace(trace, endpoint or Endpoint(), what_ifs=[what])
    duration, _, _, _ = sample.projected[0]
    return path, duration // MS


def test_sequential_sibling_moves_up_with_the_span_it_waited_for():
    """
    0    10        30 35        50 55       70    80    90    100
    |------------------------------P------------------------------|
         |---------A-------------|  |----B-----------|
    +++++ +++++++++++++++++++++++++ ++ +++++++++++++++++ +++++++++++   as recorded: 100
    A=-20ms: A ends at 30; B started 5 after A ended, so it starts at 35
    |------------------P--------------------|
         |----A----|  |-------B-------|
    +++++ +++++++++++ ++ +++++++++++++++++ +++                         projected: 80
    """
    trace = build(span("P", 0, 100, [span("A", 10, 50), span("B", 55, 90)]))
    path, duration = projected(trace, "A=-20ms")
    assert path == [("P", 0, 10), ("A", 10, 30), ("P", 30, 35), ("B", 35, 70), ("P", 70, 80)]
    assert duration == 80


def test_a_parallel_call_caps_the_saving():
    """
    0    10            50 60 65        90   100
    |------------------P-------------------|
         |------I-----------|                   inventory
         |------R--------|                      pricing, in parallel
                              |---Pay--|        waited for both
    +++++ ++++++++++++++++++ +++ +++++++++ ++++   as recorded: 100 (I holds 50 of it)
    I=-30ms: I ends at 30, but Pay still waits for R until 50, then 5 more
    |--------------P----------------|
         |--I--|
         |------R--------|
                            |--Pay---|
    +++++ +++++++++++++++++ +++ +++++++ ++++     projected: 90; saves 10, not min(30, 50)
    """
    trace = build(span("P", 0, 100, [span("I", 10, 60), span("R", 10, 50), span("Pay", 65, 90)]))
    path, duration = projected(trace, "I=-30ms")
    assert path == [("P", 0, 10), ("R", 10, 50), ("P", 50, 55), ("Pay", 55, 80), ("P", 80, 90)]
    assert duration == 90


def test_shortening_a_span_off_the_critical_path_saves_nothing():
    """
    0    10            50 60 65        90   100
    |------------------P-------------------|
         |------I-----------|
         |------R--------|                  R=-20ms: R ends at 30, nothing waited on it
                              |---Pay--|
    +++++ ++++++++++++++++++ +++ +++++++++ ++++   as recorded = projected: 100
    """
    trace = build(span("P", 0, 100, [span("I", 10, 60), span("R", 10, 50), span("Pay", 65, 90)]))
    path, duration = projected(trace, "R=-20ms")
    assert path == [("P", 0, 10), ("I", 10, 60), ("P", 60, 65), ("Pay", 65, 90), ("P", 90, 100)]
    assert duration == 100


@pytest.mark.parametrize(
    ("spec", "gateway_end", "end"),
    [
        ("gateway=-300ms", 660, 700),  # exactly 300 saved: all of it was on the path
        ("gateway=-50%", 560, 600),  # half of its 800
        ("gateway=-2s", 160, 200),  # more than it takes: it shrinks to nothing, saves 800
    ],
)
def test_case_16_gateway_faster(spec, gateway_end, end):
    """
    0  20      120  150 160                                960 980 1000
    |--------------------------checkout-------------------------|
       |-inventory-|
        |-pricing-|
                    |----------------pay-----------------------|
                        |----------------gateway-------------|
    ++++ +++++++++++ +++++ ++ ++++++++++++++++++++++++++++++++++ +++ ++++
    gateway=-Δ: it ends Δ earlier; pay and checkout end the same 20 after it
    |----------------checkout---------------|
       |-inventory-|
        |-pricing-|
                    |---------pay----------|
                        |-----gateway----|
    """
    path, duration = projected(case_16_trace(), spec)
    if gateway_end > 160:
        middle = [
            ("pay", 150, 160),
            ("gateway", 160, gateway_end),
            ("pay", gateway_end, gateway_end + 20),
        ]
    else:  # a zero-length gateway leaves pay as one section
        middle = [("pay", 150, 180)]
    expected = [
        ("checkout", 0, 20),
        ("inventory", 20, 120),
        ("checkout", 120, 150),
        *middle,
        ("checkout", gateway_end + 20, end),
    ]
    assert path == expected
    assert duration == end


def test_percent_of_a_span_with_children_cuts_its_own_time_only():
    """
    0    20                 80   100
    |----------payments---------|      own time: 20 before the call + 20 after it = 40
         |-----gateway------|
    ++++++ +++++++++++++++++++ +++++
    payments=-50%: 20 of its own 40 go, spread over both gaps; the gateway keeps its 60
    |--------payments--------|
      |-----gateway------|
    +++ +++++++++++++++++++ +++          projected: 80
    """
    trace = build(
        span(
            "payments",
            0,
            100,
            [span("charge", 20, 80, kind=CLIENT, service="payments", attributes=GATEWAY)],
            kind=SERVER,
            service="payments",
        )
    )
    path, duration = projected(trace, "payments=-50%")
    assert path == [("payments", 0, 10), ("charge", 10, 70), ("payments", 70, 80)]
    assert duration == 80
    # the external callee by its peer.service name: the client span is what shrinks
    path, duration = projected(trace, "payments-gateway=-15ms")
    assert path == [("payments", 0, 20), ("charge", 20, 65), ("payments", 65, 85)]
    assert duration == 85


def test_a_faster_grandchild_moves_its_parent_and_the_parents_later_sibling():
    """
    0    10  20        50  60  70      90   100
    |-----------------P--------------------|
         |------A------|
              |--A1--|
                          |---B---|
    +++++ +++++ +++++++ ++++ ++++++++++ ++++   as recorded: 100
    A1=-20ms: A1 ends at 30, A 10 later at 40, B 10 after that at 50
    |-------------P------------|
         |---A---|
              |A1|
                    |---B---|
    +++++ +++++ ++ +++ +++ +++++++ ++++          projected: 80
    """
    trace = build(span("P", 0, 100, [span("A", 10, 60, [span("A1", 20, 50)]), span("B", 70, 90)]))
    path, duration = projected(trace, "A1=-20ms")
    assert path == [
        ("P", 0, 10),
        ("A", 10, 20),
        ("A1", 20, 30),
        ("A", 30, 40),
        ("P", 40, 50),
        ("B", 50, 70),
        ("P", 70, 80),
    ]
    assert duration == 80


def test_endpoint_below_the_root_projects_that_services_latency():
    """The endpoint is checkout's SERVER span, not the storefront root around it."""
    trace = build(
        span(
            "front",
            0,
            1100,
            [
                span("call", 40, 1060, [case_16_checkout(50)], kind=CLIENT, service="storefront"),
            ],
            kind=SERVER,
            service="storefront",
        )
    )
    sample = sample_trace(trace, Endpoint("checkout"), what_ifs=[parse_what_if("gateway=-300ms")])
    assert sample.duration_ns == 1000 * MS
    assert sample.projected[0][0] == 700 * MS
    assert sample.start_ns == BASE + 50 * MS


def case_16_checkout(at):
    return span(
        "checkout",
        at,
        at + 1000,
        [
            span(
                "pay",
                at + 150,
                at + 980,
                [span("gateway", at + 160, at + 960, kind=SERVER, service="gateway")],
                kind=CLIENT,
                service="checkout",
            )
        ],
        kind=SERVER,
        service="checkout",
    )


def test_spread_is_exact_and_never_cuts_more_than_a_gap():
    assert spread([20, 20], 20) == [10, 10]
    assert spread([7, 0, 3], 10) == [0, 0, 0]
    assert spread([1, 1, 1], 2) == [1, 0, 0]
    out = spread([33, 17, 50, 1], 37)
    assert sum(out) == 101 - 37 and all(
        0 <= o <= g for o, g in zip(out, [33, 17, 50, 1], strict=False)
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "payments-gateway",
            "--what-if 'payments-gateway': expected NAME=-DURATION or "
            "NAME=-PERCENT% (e.g. --what-if 'payments-gateway=-300ms' or --what-if 'payments=-50%')",
        ),
        (
            "gw=+300ms",
            "--what-if 'gw=+300ms': expected NAME=-DURATION or NAME=-PERCENT% "
            "(e.g. --what-if 'payments-gateway=-300ms' or --what-if 'payments=-50%')",
        ),
        ("gw=-150%", "--what-if 'gw=-150%': a span cannot get more than 100% faster"),
    ],
)
def test_bad_what_if_is_one_clear_line(spec, message):
    with pytest.raises(InputError) as err:
        parse_what_if(spec)
    assert str(err.value) == message


def test_what_if_units():
    assert parse_what_if("a b=-1.5s").cut_ns == 1_500_000_000
    assert parse_what_if("x=-250us").cut_ns == 250_000
    assert parse_what_if("GET /pay=-10%").target == "GET /pay"


# -- property: the projection never saves more than the critical-path time it cut -------------

NAMES = [f"s{i}" for i in range(12)]


@st.composite
def trees(draw):
    """A random trace: each span inside its parent mostly, some skewed past its end."""
    count = draw(st.integers(2, 12))
    nodes = [span(NAMES[0], 0, draw(st.integers(1, 200)))]
    for i in range(1, count):
        parent = nodes[draw(st.integers(0, i - 1))]
        start = draw(st.integers(parent.start, parent.end))
        end = draw(st.integers(start, parent.end + draw(st.sampled_from([0, 0, 0, 15]))))
        node = span(NAMES[i], start, end)
        parent.children.append(node)
        nodes.append(node)
    return build(nodes[0])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trace=trees(), target=st.sampled_from(NAMES), cut=st.integers(0, 250), percent=st.booleans())
def test_saving_is_between_zero_and_the_cut_critical_time(trace, target, cut, percent):
    spec = f"{target}=-{min(cut, 100)}%" if percent else f"{target}=-{cut}ms"
    what = parse_what_if(spec)
    sample = sample_trace(trace, Endpoint(), what_ifs=[what])
    duration, _spans, _cut, bound = sample.projected[0]
    saved = sample.duration_ns - duration
    assert 0 <= saved <= bound
    # the re-walked path tiles the re-timed root exactly
    sections = what_if_path(trace, what)
    if duration == 0:  # the whole request was cut away
        assert sections == []
        return
    assert sections[0].start_ns == BASE
    assert all(a.end_ns == b.start_ns for a, b in itertools.pairwise(sections))
    assert sections[-1].end_ns - BASE == duration
