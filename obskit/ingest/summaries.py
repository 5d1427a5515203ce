"""Search results → trace summaries (they name traces; they hold no spans).

* Tempo ``GET /api/search``: ``{"traces": [{traceID, rootServiceName, rootTraceName,
  startTimeUnixNano, durationMs}], "metrics": {...}}``; trace ids are hex with leading zeros
  stripped (padded here), durations are milliseconds;
* Jaeger ``GET /api/v3/trace-summaries`` (v2.19+): ``{"summaries": [{traceId, rootServiceName,
  rootOperationName, minStartTimeUnixNano, maxEndTimeUnixNano, spanCount, errorSpanCount,
  services}]}``;
* Jaeger v1 ``GET /api/traces?service=...`` and api_v3 ``GET /api/v3/traces?...`` return whole
  traces: :func:`summarize` turns read traces into the same summaries.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from obskit.errors import InputError
from obskit.ingest.values import (
    Bad,
    expect_dict,
    expect_list,
    expect_str,
    to_int,
    trace_id,
)
from obskit.model import Trace

# Tempo's placeholder while the root span has not arrived.
TEMPO_NO_ROOT = "<root span not yet received>"


@dataclass(frozen=True, slots=True)
class TraceSummary:
    trace_id: str
    root_service: str | None  # None: the root span is not known (yet)
    root_name: str | None
    start_ns: int
    duration_ns: int
    span_count: int | None = None  # None: the backend did not say
    error_count: int | None = None
    services: tuple[str, ...] = ()


def read_search(data: bytes | str | Path | BinaryIO) -> list[TraceSummary]:
    """Parse a Tempo search response or Jaeger trace summaries (InputError otherwise)."""
    from obskit.ingest.payload import InputReader, load_json

    payload = InputReader(data)
    try:
        doc = load_json(payload.read_all())
    finally:
        payload.close()
    try:
        if isinstance(doc, dict) and "traces" in doc:
            return _tempo(doc)
        if isinstance(doc, dict) and "summaries" in doc:
            return _jaeger(doc)
    except Bad as err:
        raise InputError(str(err)) from None
    raise InputError(
        'not a search result: expected Tempo\'s {"traces": [...]} or Jaeger\'s {"summaries": [...]}'
    )


def _root(value: Any, field: str) -> str | None:
    text = expect_str(value, field)
    return None if not text or text == TEMPO_NO_ROOT else text


def _tempo(doc: dict[str, Any]) -> list[TraceSummary]:
    out = []
    for i, item in enumerate(expect_list(doc.get("traces"), "traces")):
        where = f"traces[{i}]"
        item = expect_dict(item, where)
        duration_ms = item.get("durationMs")
        services = item.get("serviceStats")
        out.append(
            TraceSummary(
                trace_id=trace_id(item.get("traceID"), f"{where}.traceID"),
                root_service=_root(item.get("rootServiceName"), f"{where}.rootServiceName"),
                root_name=_root(item.get("rootTraceName"), f"{where}.rootTraceName"),
                start_ns=to_int(item.get("startTimeUnixNano", 0), f"{where}.startTimeUnixNano"),
                # absent when 0 (protobuf JSON omits defaults); milliseconds
                duration_ns=to_int(duration_ms or 0, f"{where}.durationMs") * 1_000_000,
                services=tuple(sorted(services)) if isinstance(services, dict) else (),
            )
        )
    return out


def _jaeger(doc: dict[str, Any]) -> list[TraceSummary]:
    out = []
    for i, item in enumerate(expect_list(doc.get("summaries"), "summaries")):
        where = f"summaries[{i}]"
        item = expect_dict(item, where)
        start = to_int(item.get("minStartTimeUnixNano", 0), f"{where}.minStartTimeUnixNano")
        end = to_int(item.get("maxEndTimeUnixNano", 0), f"{where}.maxEndTimeUnixNano")
        if end < start:
            raise Bad(f"{where}.maxEndTimeUnixNano", f"{end} is before the start {start}")
        services = []
        for j, svc in enumerate(expect_list(item.get("services"), f"{where}.services")):
            svc = expect_dict(svc, f"{where}.services[{j}]")
            services.append(expect_str(svc.get("name"), f"{where}.services[{j}].name"))
        out.append(
            TraceSummary(
                trace_id=trace_id(item.get("traceId"), f"{where}.traceId"),
                root_service=_root(item.get("rootServiceName"), f"{where}.rootServiceName"),
                root_name=_root(item.get("rootOperationName"), f"{where}.rootOperationName"),
                start_ns=start,
                duration_ns=end - start,
                span_count=to_int(item.get("spanCount", 0), f"{where}.spanCount"),
                error_count=to_int(item.get("errorSpanCount", 0), f"{where}.errorSpanCount"),
                services=tuple(sorted(services)),
            )
        )
    return out


def summarize(traces: Iterable[Trace]) -> list[TraceSummary]:
    """Summaries of whole traces (from a Jaeger search that returns traces)."""
    out = []
    for trace in traces:
        if not trace.spans:
            continue
        ids = {span.span_id for span in trace.spans}
        roots = [s for s in trace.spans if not any(r.span_id in ids for r in s.references)] or list(
            trace.spans
        )
        root = min(roots, key=lambda s: (s.start_ns, -s.duration_ns, s.span_id))
        start = min(s.start_ns for s in trace.spans)
        end = max(s.end_ns for s in trace.spans)
        out.append(
            TraceSummary(
                trace_id=trace.trace_id,
                root_service=root.service,
                root_name=root.name,
                start_ns=start,
                duration_ns=end - start,
                span_count=len(trace.spans),
                error_count=sum(1 for s in trace.spans if s.is_error),
                services=tuple(trace.services),
            )
        )
    return out
