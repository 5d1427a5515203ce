"""What the hostile fuzzers share: how many examples, and the values an attacker (or an
unlucky exporter) puts where a trace expects ids, times, names and attributes.

The example counts are small by default, to keep the suite fast. The big run asks for more:

    OBSKIT_FUZZ_EXAMPLES=1000 .venv/bin/python -m pytest tests/hostile -k fuzz

gives every reader 2,000 generated inputs (1,000 structured, 1,000 byte-level) and every
endpoint 1,000 (tests/hostile/fuzz_big.sh runs it and prints the time it took).
"""

from __future__ import annotations

import copy
import os
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

CI_EXAMPLES = 25


def fuzz_settings(examples: int | None = None) -> settings:
    count = int(os.environ.get("OBSKIT_FUZZ_EXAMPLES", examples or CI_EXAMPLES))
    return settings(
        max_examples=count,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,  # every run generates afresh: the corpus keeps what was found
        # no shrinking: a hostile example can take minutes to shrink; the failing input is
        # printed as found, and a minimal copy goes into the corpus by hand
        phases=[Phase.explicit, Phase.generate],
    )


INT64 = 2**63
# numbers at the edges of what the wire formats and the model hold
edge_ints = st.sampled_from(
    [0, 1, -1, INT64 - 1, INT64, INT64 + 1, 2**64 - 1, 2**64, -(INT64), -(INT64) - 1, 10**19]
) | st.integers(min_value=-(2**70), max_value=2**70)
digit_strings = st.one_of(
    edge_ints.map(str),
    st.integers(min_value=1, max_value=30).map(lambda n: "9" * n),
    st.sampled_from(["9" * 4301, "1" + "0" * 4300, "", "-", "1e3", "0x10", "١٢٣", " 1", "+1"]),
)
hostile_text = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "pay\u202eFDP.exe",
            "\u2066x\u2069",
            "\u200f\u200e",
            "\x1b[2J\x1b]0;pwned\x07",
            "a\x00b",
            "line\nbreak\r\n",
            "\ud800",
            "A" * 300,
            "<script>alert(1)</script>",
            "'; DROP TABLE spans; --",
        ]
    ),
)


def deep_any_value(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"stringValue": "x"}
    for _ in range(depth):
        value = {"arrayValue": {"values": [value]}}
    return value


hostile_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        edge_ints,
        st.floats(allow_nan=True, allow_infinity=True),
        digit_strings,
        hostile_text,
        st.integers(min_value=1, max_value=400).map(deep_any_value),
    ),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                ["stringValue", "intValue", "arrayValue", "values", "kvlistValue", "key", "value"]
            )
            | hostile_text,
            children,
            max_size=3,
        )
    ),
    max_leaves=8,
)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += paths(value, (*prefix, i))
    return found


def mutate(data: st.DataObject, doc: Any, rounds: int = 3) -> Any:
    """``doc`` with up to ``rounds`` values replaced by hostile ones, or removed."""
    doc = copy.deepcopy(doc)
    targets = paths(doc)[1:]
    for _ in range(data.draw(st.integers(1, rounds))):
        path = data.draw(st.sampled_from(targets))
        parent = doc
        try:
            for step in path[:-1]:
                parent = parent[step]
            if data.draw(st.booleans()):
                parent[path[-1]] = data.draw(hostile_values)
            else:
                del parent[path[-1]]
        except (KeyError, IndexError, TypeError):
            continue
    return doc


def mutate_bytes(data: st.DataObject, raw: bytes) -> bytes:
    cut = data.draw(st.integers(0, max(len(raw) - 1, 0)))
    kind = data.draw(st.sampled_from(["truncate", "delete", "flip", "insert", "repeat"]))
    if kind == "truncate":
        return raw[:cut]
    if kind == "delete":
        return raw[:cut] + raw[cut + data.draw(st.integers(1, 16)) :]
    if kind == "flip":
        return raw[:cut] + bytes([raw[cut] ^ data.draw(st.integers(1, 255))]) + raw[cut + 1 :]
    if kind == "insert":
        return raw[:cut] + data.draw(st.binary(min_size=1, max_size=16)) + raw[cut:]
    return raw[:cut] + raw[cut : cut + 8] * data.draw(st.integers(2, 64)) + raw[cut:]


@st.composite
def otlp_proto_requests(draw: Any) -> bytes:
    """An ``ExportTraceServiceRequest`` built field by field from hostile values: any fixed64
    time, ids of any length, any enum number, deep and wide attribute values, names with
    controls and bidi marks."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue

    texts = hostile_text.filter(lambda t: "\ud800" not in t)  # protobuf strings are UTF-8
    request = ExportTraceServiceRequest()
    for _ in range(draw(st.integers(1, 2))):
        rs = request.resource_spans.add()
        rs.resource.attributes.add(key="service.name").value.string_value = draw(texts)
        ss = rs.scope_spans.add()
        ss.scope.name = draw(texts)
        for _ in range(draw(st.integers(0, 4))):
            span = ss.spans.add()
            span.trace_id = draw(st.sampled_from([b"\x01" * 16, b"", b"\x00" * 16]) | st.binary())
            span.span_id = draw(st.binary(min_size=8, max_size=8) | st.binary(max_size=10))
            span.parent_span_id = draw(st.binary(max_size=9))
            span.name = draw(texts)
            span.kind = draw(st.integers(-(2**31), 2**31 - 1) | st.integers(0, 5))
            times = st.integers(0, 2**64 - 1) | st.sampled_from([0, INT64 - 1, INT64, 2**64 - 1])
            span.start_time_unix_nano = draw(times)
            span.end_time_unix_nano = draw(times | st.just(span.start_time_unix_nano))
            span.status.code = draw(st.integers(-(2**31), 2**31 - 1) | st.integers(0, 2))
            for _ in range(draw(st.integers(0, 2))):
                attribute = span.attributes.add(key=draw(texts))
                value: Any = attribute.value
                for _ in range(draw(st.integers(0, 120))):  # nesting
                    value = value.array_value.values.add()
                kind = draw(st.sampled_from(["s", "i", "d", "b", "kv"]))
                if kind == "s":
                    value.string_value = draw(texts)
                elif kind == "i":
                    value.int_value = draw(st.integers(-(2**63), 2**63 - 1))
                elif kind == "d":
                    value.double_value = draw(st.floats())
                elif kind == "b":
                    value.bytes_value = draw(st.binary(max_size=8))
                else:
                    value.kvlist_value.values.add(key="k", value=AnyValue(string_value="v"))
            for _ in range(draw(st.integers(0, 1))):
                event = span.events.add()
                event.time_unix_nano = draw(times)
                event.name = draw(texts)
    return bytes(request.SerializeToString())
