"""Jaeger UI's own critical-path test cases, transcribed as data.

Origin: https://github.com/jaegertracing/jaeger-ui (Apache-2.0, Copyright The Jaeger Authors),
``packages/jaeger-ui/src/components/TracePage/CriticalPath/testCases/test1.js`` … ``test9.js``,
read at commit ``20ab1e45c8099332c20b74d89af332548f2d9143`` (test1, 3, 4, 6, 7, 8, 9; test3's
trace is ``TraceStatistics/tableValuesTestTrace/
traceWithSingleChildLongerThanParentAndStartsAfterParent.json`` at ``46023704b07b4fe8``),
``d8fdf3e95597ce03f985cd148a648c46c56b79e7`` (test2) and the SPDX-headed revision of test5
(three spans, expects ``span-A [1, 31]``). Only span ids, times (µs), references, kinds and
the expected sections were taken; Jaeger lists sections newest first, as here.

Test 5's expectation predates Jaeger UI's January 2026 change (``isBlockingSpan``: only
PRODUCER → CONSUMER is non-blocking). It is what obskit's *default* semantics give (a
``FOLLOWS_FROM`` child does not block); in ``--jaeger-compat`` mode the contract
(critical-path.md case 9) makes ``FOLLOWS_FROM`` children block, which ``COMPAT_TEST5`` records.
"""

from __future__ import annotations

from dataclasses import dataclass

# (spanID, startTime µs, duration µs, [(refType, spanID)], span.kind or "")
SpanRow = tuple[str, int, int, list[tuple[str, str]], str]
# (spanID, sectionStart µs, sectionEnd µs)
SectionRow = tuple[str, int, int]


@dataclass(frozen=True)
class JaegerCase:
    name: str
    spans: list[SpanRow]
    expected: list[SectionRow]  # newest first, as in jaeger-ui


CASES = [
    JaegerCase(
        "test1",
        [
            ("span-E", 50, 10, [("CHILD_OF", "span-C")], ""),
            ("span-C", 1, 100, [], ""),
            ("span-D", 20, 20, [("CHILD_OF", "span-C")], ""),
        ],
        [
            ("span-C", 60, 101),
            ("span-E", 50, 60),
            ("span-C", 40, 50),
            ("span-D", 20, 40),
            ("span-C", 1, 20),
        ],
    ),
    JaegerCase(
        "test2",
        [
            ("span-X", 1, 100, [], ""),
            ("span-A", 10, 40, [("CHILD_OF", "span-X")], ""),
            ("span-C", 20, 40, [("CHILD_OF", "span-X")], ""),
        ],
        [("span-X", 60, 101), ("span-C", 20, 60), ("span-X", 1, 20)],
    ),
    JaegerCase(
        "test3",
        [
            ("006c3cf93508f205", 100, 40, [], "producer"),
            ("2dc4b796e2127e32", 200, 300, [("CHILD_OF", "006c3cf93508f205")], "client"),
        ],
        [("006c3cf93508f205", 100, 140)],
    ),
    JaegerCase(
        "test4",
        [
            ("span-A", 1, 30, [], ""),
            ("span-B", 40, 40, [("CHILD_OF", "span-A")], ""),
            ("span-c", 50, 10, [("CHILD_OF", "span-B")], ""),
        ],
        [("span-A", 1, 31)],
    ),
    JaegerCase(
        "test5",
        [
            ("span-A", 1, 30, [], ""),
            ("span-B", 10, 10, [("FOLLOWS_FROM", "span-A")], ""),
            ("span-C", 12, 2, [("CHILD_OF", "span-B")], ""),
        ],
        [("span-A", 1, 31)],
    ),
    JaegerCase(
        "test6",
        [
            ("span-A", 1, 29, [], ""),
            ("span-B", 15, 20, [("CHILD_OF", "span-A")], ""),
            ("span-C", 10, 15, [("CHILD_OF", "span-B")], ""),
        ],
        [("span-B", 25, 30), ("span-C", 15, 25), ("span-A", 1, 15)],
    ),
    JaegerCase(
        "test7",
        [
            ("span-A", 1, 29, [], ""),
            ("span-B", 15, 20, [("CHILD_OF", "span-A")], ""),
            ("span-C", 20, 20, [("CHILD_OF", "span-B")], ""),
        ],
        [("span-C", 20, 30), ("span-B", 15, 20), ("span-A", 1, 15)],
    ),
    JaegerCase(
        "test8",
        [
            ("span-A", 10, 20, [], ""),
            ("span-B", 5, 30, [("CHILD_OF", "span-A")], ""),
        ],
        [("span-B", 10, 30)],
    ),
    JaegerCase(
        "test9",
        [
            ("span-A", 10, 20, [], ""),
            ("span-B", 1, 4, [("CHILD_OF", "span-A")], ""),
        ],
        [("span-A", 10, 30)],
    ),
]

# test5 under the January 2026 rule (FOLLOWS_FROM blocks), newest first
COMPAT_TEST5: list[SectionRow] = [
    ("span-A", 20, 31),
    ("span-B", 14, 20),
    ("span-C", 12, 14),
    ("span-B", 10, 12),
    ("span-A", 1, 10),
]
