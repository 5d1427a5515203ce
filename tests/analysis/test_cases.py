"""Every case of critical-path.md §5, in both modes, with its picture drawn above it.

In the pictures ``+`` marks the expected critical sections: the ``obskit`` line is the default
semantics, the ``jaeger`` line is ``--jaeger-compat`` (what Jaeger UI shows). Times are the
builder's relative units (1 unit = 1 ms, after an absolute epoch base unless stated).
"""

from __future__ import annotations

from obskit.analysis import analyze_trace, critical_path, critical_paths
from tests.builders import (
    CONSUMER,
    FOLLOWS_FROM,
    PRODUCER,
    build,
    case_16_trace,
    child_of,
    follows_from,
    named,
    span,
    span_id,
)


def paths(trace):
    """(obskit, jaeger-compat) critical paths as (name, start, end) in builder units."""
    return (
        named(critical_path(trace), trace),
        named(critical_path(trace, jaeger_compat=True), trace),
    )


def codes(trace, **kwargs):
    return [w.code for w in analyze_trace(trace, **kwargs).warnings]


def test_case_01_back_to_back_children():
    """
    0    10                  50             80        100
    |-------------------------P----------------------|
         |--------B----------||------C-----|
    +++++ +++++++++++++++++++ ++++++++++++++ ++++++++++   obskit
    +++++++++++++++++++++++++ ++++++++++++++ ++++++++++   jaeger: B is lost (end 50 is
                                                           not < boundary 50)
    """
    trace = build(span("P", 0, 100, [span("B", 10, 50), span("C", 50, 80)]))
    obskit, jaeger = paths(trace)
    assert obskit == [("P", 0, 10), ("B", 10, 50), ("C", 50, 80), ("P", 80, 100)]
    assert jaeger == [("P", 0, 50), ("C", 50, 80), ("P", 80, 100)]


def test_case_02_two_children_with_gaps():
    """
    1        20    40    50 60                    101
    |--------------------C-------------------------|
             |--D--|     |E|
    ++++++++++ +++++ +++++ + ++++++++++++++++++++++   obskit = jaeger
    """
    trace = build(span("C", 1, 101, [span("D", 20, 40), span("E", 50, 60)]))
    expected = [("C", 1, 20), ("D", 20, 40), ("C", 40, 50), ("E", 50, 60), ("C", 60, 101)]
    assert paths(trace) == (expected, expected)


def test_case_03_overlapping_children():
    """
    1      10   20          50   60                  101
    |-----------------------X-------------------------|
           |------A---------|                              A ends after C starts:
                |-------C--------|                         only C is waited for
    ++++++++++++ ++++++++++++++++ ++++++++++++++++++++++   obskit = jaeger
    """
    trace = build(span("X", 1, 101, [span("A", 10, 50), span("C", 20, 60)]))
    expected = [("X", 1, 20), ("C", 20, 60), ("X", 60, 101)]
    assert paths(trace) == (expected, expected)


def test_case_04_children_end_late_and_are_clipped():
    """
    1             15   20        30   35   40
    |------A-----------------------|                   A
                  |-------B-------(+++++|              └ B   (clipped to 30)
                       |------C---(++++++++++|           └ C (clipped to 30)
    +++++++++++++++ ++++ ++++++++++                    obskit = jaeger
    """
    trace = build(span("A", 1, 30, [span("B", 15, 35, [span("C", 20, 40)])]))
    expected = [("A", 1, 15), ("B", 15, 20), ("C", 20, 30)]
    assert paths(trace) == (expected, expected)
    assert codes(trace) == ["clipped"]


def test_case_05_child_encloses_parent_is_skew():
    """
    5   10                  30   35
        |--------A----------|                       A
    |---(-------B-----------)---|                   └ B starts before A: clock skew
        +++++++++++++++++++++                       obskit = jaeger: B[10,30]
    """
    trace = build(span("A", 10, 30, [span("B", 5, 35)]))
    assert paths(trace) == ([("B", 10, 30)], [("B", 10, 30)])
    report = analyze_trace(trace)
    assert [(w.code, w.span_ids) for w in report.warnings] == [("skew", (span_id("B"),))]


def test_case_06_child_after_parent_end_is_dropped():
    """
    1                 31    40        50  60        80
    |--------A--------|                                  A
                            |-----------B-----------|    └ B   dropped
                                      |-G-|                └ G dropped with it
    ++++++++++++++++++++                                 obskit = jaeger: A[1,31]
    """
    trace = build(span("A", 1, 31, [span("B", 40, 80, [span("G", 50, 60)])]))
    assert paths(trace) == ([("A", 1, 31)], [("A", 1, 31)])
    dropped = [w for w in analyze_trace(trace).warnings if w.code == "dropped"]
    assert len(dropped) == 1
    assert dropped[0].message.startswith("2 span(s) dropped")
    assert dropped[0].span_ids == (span_id("B"), span_id("G"))


def test_case_07_child_starts_before_parent():
    """
    80       100        140  150  170         200
             |--------------P-----------------|
    |------C-(---------)|     |-D-|                   C moved to start at 100
             +++++++++++ +++++ +++ +++++++++++        obskit = jaeger
    """
    trace = build(span("P", 100, 200, [span("C", 80, 140), span("D", 150, 170)]))
    expected = [("C", 100, 140), ("P", 140, 150), ("D", 150, 170), ("P", 170, 200)]
    assert paths(trace) == (expected, expected)
    assert codes(trace) == ["skew"]


def test_case_08_producer_does_not_wait_for_consumer():
    """
    1       10      20              31
    |-----------P (PRODUCER)--------|
            |-Q (CONSUMER)-|                         not blocking: skipped
    +++++++++++++++++++++++++++++++++                obskit = jaeger: P[1,31]
    """
    trace = build(
        span("P", 1, 31, [span("Q", 10, 20, kind=CONSUMER, service="worker")], kind=PRODUCER)
    )
    assert paths(trace) == ([("P", 1, 31)], [("P", 1, 31)])


def test_case_09_follows_from_child_does_not_block():
    """
    0    10       30  40                       90   100
    |--------------------P-------------------------|
         |---A----|   |-----------F-------------|       F: FOLLOWS_FROM P
    +++++ ++++++++ +++++++++++++++++++++++++++++++++   obskit: F does not block
    +++++ ++++++++ ++++ +++++++++++++++++++++++++ ++++   jaeger: only producer/consumer
    """
    trace = build(
        span("P", 0, 100, [span("A", 10, 30), span("F", 40, 90, ref=FOLLOWS_FROM)]),
    )
    obskit, jaeger = paths(trace)
    assert obskit == [("P", 0, 10), ("A", 10, 30), ("P", 30, 100)]
    assert jaeger == [("P", 0, 10), ("A", 10, 30), ("P", 30, 40), ("F", 40, 90), ("P", 90, 100)]


def test_case_10_zero_length_child():
    """
    0                 40     60        80          100
    |--------------------P---------------------------|
                      Z      |----C----|                Z[40,40] has no length
    ++++++++++++++++++++++++++ +++++++++ ++++++++++++   obskit: P[0,60] in one piece
    ++++++++++++++++++ ++++++++ +++++++++ ++++++++++++   jaeger: P split at Z
    """
    trace = build(span("P", 0, 100, [span("Z", 40, 40), span("C", 60, 80)]))
    obskit, jaeger = paths(trace)
    assert obskit == [("P", 0, 60), ("C", 60, 80), ("P", 80, 100)]
    assert jaeger == [("P", 0, 40), ("P", 40, 60), ("C", 60, 80), ("P", 80, 100)]


def test_case_11_root_whose_parent_was_never_collected():
    """
    (lost)                                               parent never collected
    0    10                        60                100
    |-----------------R------------------------------|   R: orphan root
         |-------------C------------|
    +++++ +++++++++++++++++++++++++++ ++++++++++++++++   obskit + incomplete-trace warning
                                                         jaeger: no sections at all
    """
    trace = build(span("R", 0, 100, [span("C", 10, 60)], parent="lost"))
    obskit, jaeger = paths(trace)
    assert obskit == [("R", 0, 10), ("C", 10, 60), ("R", 60, 100)]
    assert jaeger == []
    report = analyze_trace(trace)
    assert [(w.code, w.message) for w in report.warnings] == [
        (
            "orphan",
            f"incomplete trace: parent {span_id('lost')} of {span_id('R')} was not collected",
        )
    ]


def test_case_12_absolute_time_zero():
    """
    0                40                               100     (absolute time 0)
    |---------------------P-----------------------------|
    |------C---------|
    ++++++++++++++++++ ++++++++++++++++++++++++++++++++++   obskit = jaeger (Jaeger UI
                                                            treats 0 as "no time" and
                                                            never stops)
    """
    trace = build(span("P", 0, 100, [span("C", 0, 40)]), base=0)
    expected = [("C", 0, 40), ("P", 40, 100)]
    assert named(critical_path(trace), trace, base=0) == expected
    assert named(critical_path(trace, jaeger_compat=True), trace, base=0) == expected


def test_case_13_first_reference_is_follows_from():
    """
    0    10       30  40  50  60             90   100
    |------------------------P---------------------|
         |---X----|   |----------Y-----------|          S refs: [FOLLOWS_FROM X,
                          |-S-|                                  CHILD_OF Y] → parent Y
    +++++ ++++++++ ++++ ++++ +++ +++++++++++++ +++++   obskit = jaeger mode (Jaeger UI
                                                        itself loops forever here)
    """
    trace = build(
        span(
            "P",
            0,
            100,
            [
                span("X", 10, 30),
                span("Y", 40, 90, [span("S", 50, 60, refs=[follows_from("X"), child_of("Y")])]),
            ],
        )
    )
    expected = [
        ("P", 0, 10),
        ("X", 10, 30),
        ("P", 30, 40),
        ("Y", 40, 50),
        ("S", 50, 60),
        ("Y", 60, 90),
        ("P", 90, 100),
    ]
    assert paths(trace) == (expected, expected)


def test_case_14_two_roots():
    """
    0   10    30              100          200 210 220      250
    |--------R1---------------|            |------R2--------|
        |-c1--|                                |c2|
    ++++ +++++ ++++++++++++++++                                obskit: R1 (primary)
                              .............                    untraced gap [100,200]
    ++++ +++++ ++++++++++++++++            ++++ +++ ++++++++   jaeger: both concatenated
    """
    trace = build(
        span("R1", 0, 100, [span("c1", 10, 30)]),
        span("R2", 200, 250, [span("c2", 210, 220)]),
    )
    obskit, jaeger = paths(trace)
    assert obskit == [("R1", 0, 10), ("c1", 10, 30), ("R1", 30, 100)]
    assert jaeger == [*obskit, ("R2", 200, 210), ("c2", 210, 220), ("R2", 220, 250)]
    per_root = critical_paths(trace)
    assert list(per_root) == [span_id("R1"), span_id("R2")]
    assert named(per_root[span_id("R2")], trace) == jaeger[3:]
    report = analyze_trace(trace)
    assert [r.operation for r in report.roots] == ["R1", "R2"]
    assert report.duration_ns == 100 * 1_000_000  # never added up across roots
    assert [(w.code, w.message, w.span_ids) for w in report.warnings] == [
        (
            "several-roots",
            f"2 roots: the report follows the longest, {span_id('R1')} (svc R1, 100ms); "
            "the other roots are listed separately; 100ms between them is untraced",
            (span_id("R1"), span_id("R2")),
        )
    ]


def test_case_15_long_child_hides_shorter_ones():
    """
    0    5   10        40  45              85        95   100
    |-----------------------P--------------------------------|
         |-------------------bg---------------------|
             |----a----|   |-------b--------|                   a, b: no CP time
    +++++ +++++++++++++++++++++++++++++++++++++++++++ ++++++   obskit = jaeger
    """
    trace = build(
        span("P", 0, 100, [span("bg", 5, 95), span("a", 10, 40), span("b", 45, 85)]),
    )
    expected = [("P", 0, 5), ("bg", 5, 95), ("P", 95, 100)]
    assert paths(trace) == (expected, expected)
    report = analyze_trace(trace)
    assert span_id("a") not in report.span_critical_ns
    assert span_id("b") not in report.span_critical_ns


def test_children_clipped_to_the_same_interval_tie_like_jaeger_ui_in_compat():
    """
    0       4       8 9
    |-------A-------|
            |---C---|        C first in the trace
            |---B---|-|      B ends late: clipped to [4,8], the same interval as C
    ++++++++ ++++++++        obskit: A[0,4] B[4,8] (tie: clipped start, then smaller span id)
    ++++++++ ++++++++        jaeger: A[0,4] C[4,8] (tie: unclipped start, then trace order)
    """
    trace = build(span("A", 0, 8, [span("C", 4, 8), span("B", 4, 9)]))
    assert span_id("B") < span_id("C")
    obskit, jaeger = paths(trace)
    assert obskit == [("A", 0, 4), ("B", 4, 8)]
    assert jaeger == [("A", 0, 4), ("C", 4, 8)]
    # With B first in the trace Jaeger UI keeps B: the order of the input decides, not the id.
    swapped = build(span("A", 0, 8, [span("B", 4, 9), span("C", 4, 8)]))
    assert paths(swapped) == ([("A", 0, 4), ("B", 4, 8)], [("A", 0, 4), ("B", 4, 8)])


def test_compat_ties_go_to_the_earlier_unclipped_start():
    """
    0   2   4       8 9
    |-------A-------|
            |---C---|        C first in the trace, starts at 4
        |-----B-----|        B starts at 2 and ends with C
    ++++ ++++++++++++        obskit = jaeger: A[0,2] B[2,8], the earlier start wins the tie
    """
    trace = build(span("A", 0, 8, [span("C", 4, 8), span("B", 2, 8)]))
    expected = [("A", 0, 2), ("B", 2, 8)]
    assert paths(trace) == (expected, expected)


def test_case_16_slow_gateway():
    """
    0   20  30     90 120   150 160                       960 980 1000
    |----------------------checkout (SERVER)----------------------|
        |---inventory---|                                              CLIENT, external
            |pricing|                                                  CLIENT, external
                            |-------------pay (CLIENT)-------------|
                                |---------gateway (SERVER)----|
    ++++ +++++++++++++++ +++++ +++ +++++++++++++++++++++++++++ +++ ++++   obskit = jaeger
    checkout 70, inventory 100, pay 30 (client gap), gateway 800, pricing 0
    """
    trace = case_16_trace()
    expected = [
        ("checkout", 0, 20),
        ("inventory", 20, 120),
        ("checkout", 120, 150),
        ("pay", 150, 160),
        ("gateway", 160, 960),
        ("pay", 960, 980),
        ("checkout", 980, 1000),
    ]
    assert paths(trace) == (expected, expected)

    for jaeger_compat in (False, True):
        report = analyze_trace(
            trace,
            jaeger_compat=jaeger_compat,
            external_names={"127.0.0.1:8006": "pricing-api"},
        )
        hops = [
            (h.caller, h.callee, h.external, h.critical_ns // 1_000_000, h.share, h.flagged)
            for h in report.hops
        ]
        assert hops == [
            ("checkout", "gateway", False, 830, 0.83, True),
            ("checkout", "inventory", True, 100, 0.1, False),
            ("checkout", "pricing-api", True, 0, 0.0, False),
        ]
        gateway = report.hops[0]
        assert gateway.client_gap_ns == 30_000_000
        assert gateway.critical_inclusive_ns == 830_000_000
        assert gateway.reason == (
            "checkout → gateway (an instrumented service) holds 830ms of the critical path: "
            "83% of the 1s request"
        )
        assert [h.reason for h in report.hops[1:]] == ["", ""]
        assert [(s.service, s.critical_ns, s.share) for s in report.by_service] == [
            ("gateway", 800_000_000, 0.8),
            ("checkout", 200_000_000, 0.2),
        ]
        assert [(o.operation, o.critical_ns // 1_000_000) for o in report.by_operation] == [
            ("gateway", 800),
            ("inventory", 100),
            ("checkout", 70),
            ("pay", 30),
        ]
        assert report.warnings == ()


def test_case_16_threshold_decides_the_flag():
    trace = case_16_trace()
    assert [h.flagged for h in analyze_trace(trace, threshold=0.9).hops] == [False] * 3
    assert [h.flagged for h in analyze_trace(trace, threshold=0.1).hops] == [True, True, False]


def test_case_17_five_thousand_sequential_siblings():
    """
    0  1  2  3          4999 5000
    |-----------P-----------|
    |c0|c1|c2| ...    |c4999|        back to back
    +++ ++ ++ ...      ++++++        obskit: every child, P has no time of its own
    ++++ +++  +++  ...  ++++++       jaeger: every other child is lost to `<`
    """
    n = 5000
    trace = build(span("P", 0, n, [span(f"c{k}", k, k + 1) for k in range(n)]))
    obskit, jaeger = paths(trace)
    assert obskit == [(f"c{k}", k, k + 1) for k in range(n)]
    assert sum(1 for name, _, _ in jaeger if name != "P") == n // 2
    assert _tiles(jaeger, 0, n)


def test_case_17_five_thousand_deep_chain():
    """
    0 1 2            n-1 n+1          2n-1 2n
    |-------------s0------------------------|
      |-----------s1----------------------|
            ...  |s(n-1)|                       deeper than Python's recursion limit
    + +   ...    +++++++    ...          + +    obskit = jaeger
    """
    n = 5000
    node = span(f"s{n - 1}", n - 1, n + 1)
    for k in range(n - 2, -1, -1):
        node = span(f"s{k}", k, 2 * n - k, [node])
    trace = build(node)
    obskit, jaeger = paths(trace)
    expected = (
        [(f"s{k}", k, k + 1) for k in range(n - 1)]
        + [(f"s{n - 1}", n - 1, n + 1)]
        + [(f"s{k}", 2 * n - k - 1, 2 * n - k) for k in range(n - 2, -1, -1)]
    )
    assert obskit == expected
    assert jaeger == expected
    report = analyze_trace(trace)
    assert report.span_count == n


def test_case_17_twenty_thousand_sibling_fan_out():
    n = 20_000
    trace = build(span("root", 0, 2 * n, [span(f"f{k}", k, k + n) for k in range(n)]))
    # the last one to finish hides all others
    assert paths(trace)[0] == [
        ("root", 0, n - 1),
        (f"f{n - 1}", n - 1, 2 * n - 1),
        ("root", 2 * n - 1, 2 * n),
    ]


def _tiles(sections, start, end):
    at = start
    for _, s, e in sections:
        if s != at or e <= s:
            return False
        at = e
    return at == end
