"""Small hand-built traces for renderer tests (times in ms, converted to ns)."""

from __future__ import annotations

from obskit.model import Reference, RefType, Span, SpanKind, StatusCode, Trace

__all__ = ["Trace", "checkout", "fan_out", "hostile", "span"]

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
MS = 1_000_000
T0 = 1_700_000_000_000 * MS


def span(
    span_id: int,
    parent: int | None,
    service: str,
    name: str,
    start_ms: float,
    end_ms: float,
    kind: SpanKind = SpanKind.INTERNAL,
    error: bool = False,
    **attributes: object,
) -> Span:
    refs = (Reference(RefType.CHILD_OF, TRACE_ID, f"{parent:016x}"),) if parent is not None else ()
    return Span(
        trace_id=TRACE_ID,
        span_id=f"{span_id:016x}",
        name=name,
        service=service,
        start_ns=T0 + int(start_ms * MS),
        end_ns=T0 + int(end_ms * MS),
        kind=kind,
        status=StatusCode.ERROR if error else StatusCode.UNSET,
        references=refs,
        attributes={k.replace("_", "."): v for k, v in attributes.items()},
    )


def checkout() -> Trace:
    """critical-path.md case 16, with services (ms):

    checkout   POST /checkout  [0, 1000]  SERVER
    ├─ inventory  GET /stock      [20, 120]   CLIENT → inventory SERVER [25, 115]
    ├─ pricing    GET /price      [30, 90]    CLIENT → pricing SERVER [35, 85]
    └─ payments   POST /charge    [150, 980]  CLIENT → the gateway (external, 127.0.0.1:8006)
    """
    c, s = SpanKind.CLIENT, SpanKind.SERVER
    return Trace(
        TRACE_ID,
        (
            span(1, None, "checkout", "POST /checkout", 0, 1000, s),
            span(2, 1, "checkout", "GET /stock", 20, 120, c),
            span(3, 2, "inventory", "GET /stock", 25, 115, s),
            span(4, 1, "checkout", "GET /price", 30, 90, c),
            span(5, 4, "pricing", "GET /price", 35, 85, s),
            span(
                6,
                1,
                "checkout",
                "POST /charge",
                150,
                980,
                c,
                server_address="127.0.0.1",
                server_port=8006,
            ),
        ),
    )


HOSTILE = "<script>alert(1)</script>\"'&"


def hostile() -> Trace:
    """Names an attacker controls: markup, quotes, Markdown/DOT/Mermaid syntax, an ANSI escape."""
    c, s = SpanKind.CLIENT, SpanKind.SERVER
    return Trace(
        TRACE_ID,
        (
            span(1, None, HOSTILE, f"GET /{HOSTILE}", 0, 100, s),
            span(2, 1, HOSTILE, "call |b| [x](y) `z`", 10, 90, c),
            span(3, 2, 'svc "two" \\ #1 \x1b[2J', f"{HOSTILE} op", 12, 88, s, error=True),
        ),
    )


def fan_out(width: int) -> Trace:
    """One root calling the same Redis operation ``width`` times in a row (ms each)."""
    spans = [span(1, None, "driver", "FindNearest", 0, width + 1, SpanKind.SERVER)]
    spans += [
        span(2 + i, 1, "redis", "GetDriver", i + 0.5, i + 1.5, SpanKind.CLIENT)
        for i in range(width)
    ]
    return Trace(TRACE_ID, tuple(spans))
