"""Collecting converted spans into traces.

Readers add spans to a :class:`TraceSet`, which groups them by trace id in arrival order. Spans
are never dropped or de-duplicated here: a duplicate span id stays in the trace, and the
analysis keeps the first and warns (critical-path.md §1).
"""

from __future__ import annotations

from collections.abc import Iterator
from operator import attrgetter

from obskit.errors import InputError
from obskit.model import Span, Trace, TraceWarning
from obskit.model.columns import ColumnChunk, SpanColumns

_TRACE_ID = attrgetter("trace_id")

# Jaeger on Elasticsearch/OpenSearch returns at most this many spans per trace by default.
JAEGER_ES_MAX_DOC_COUNT = 10_000


class TraceSet:
    """Spans grouped by trace id, plus per-trace warnings, in first-seen order.

    ``only`` keeps just one trace's spans (other ids are still counted, for messages).
    """

    def __init__(self, only: str | None = None) -> None:
        self.only = only
        self.spans: dict[str, list[Span]] = {}
        # each trace's spans as columns, while every one of them came with its columns
        self.columns: dict[str, list[ColumnChunk] | None] = {}
        self.warnings: dict[str, list[TraceWarning]] = {}
        self.seen: dict[str, None] = {}  # every trace id met, in order

    def add(self, span: Span) -> None:
        tid = span.trace_id
        bucket = self.spans.get(tid)
        if bucket is None:
            self.seen[tid] = None
            if self.only is not None and tid != self.only:
                return
            bucket = self.spans[tid] = []
        bucket.append(span)
        self.columns[tid] = None

    def add_many(self, spans: list[Span], columns: ColumnChunk | None = None) -> dict[str, None]:
        """Add spans (usually all of one trace), with their ``columns`` if the reader has them;
        returns their trace ids, in order."""
        tids = dict.fromkeys(map(_TRACE_ID, spans))
        if len(tids) != 1:
            for span in spans:
                self.add(span)
            return tids
        tid = next(iter(tids))
        if tid not in self.spans:
            self.seen[tid] = None
            if self.only is not None and tid != self.only:
                return tids
        self._follow_columns(tid, None if columns is None else [columns])
        self.spans.setdefault(tid, []).extend(spans)
        return tids

    def absorb(self, other: TraceSet) -> None:
        """Take over everything ``other`` collected (a reader's trial run into a scratch set)."""
        for tid in other.seen:
            self.seen[tid] = None
        for tid, spans in other.spans.items():
            self._follow_columns(tid, other.columns.get(tid))
            self.spans.setdefault(tid, []).extend(spans)
        for tid, warnings in other.warnings.items():
            self.warnings.setdefault(tid, []).extend(warnings)

    def _follow_columns(self, tid: str, chunks: list[ColumnChunk] | None) -> None:
        """Before spans of ``tid`` are added with these columns (None: without any): a trace
        keeps columns only while every run of its spans came with them."""
        if tid not in self.spans:
            self.columns[tid] = None if chunks is None else list(chunks)
        elif chunks is None or self.columns.get(tid) is None:
            self.columns[tid] = None
        else:
            kept = self.columns[tid]
            assert kept is not None  # the branch above took the None case
            kept += chunks

    def warn(self, trace_id: str, warning: TraceWarning) -> None:
        if self.only is not None and trace_id != self.only:
            return
        self.warnings.setdefault(trace_id, []).append(warning)

    def pop(self, trace_id: str) -> Trace:
        spans = self.spans.pop(trace_id, [])
        warnings = self.warnings.pop(trace_id, [])
        return build_trace(trace_id, spans, warnings, self.columns.pop(trace_id, None))

    def traces(self) -> Iterator[Trace]:
        for tid in list(self.spans):
            yield self.pop(tid)


class TouchedTraceSet(TraceSet):
    """A view of a TraceSet that also notes which trace ids one document touched."""

    @classmethod
    def track(cls, base: TraceSet) -> TouchedTraceSet:
        view = cls.__new__(cls)
        view.only, view.spans, view.warnings, view.seen, view.columns = (
            base.only,
            base.spans,
            base.warnings,
            base.seen,
            base.columns,
        )
        view.touched = {}
        return view

    touched: dict[str, None]

    def add(self, span: Span) -> None:
        super().add(span)
        self.touched[span.trace_id] = None

    def add_many(self, spans: list[Span], columns: ColumnChunk | None = None) -> dict[str, None]:
        tids = super().add_many(spans, columns)
        self.touched.update(tids)
        return tids

    def absorb(self, other: TraceSet) -> None:
        super().absorb(other)
        self.touched.update(other.seen)


def build_trace(
    trace_id: str,
    spans: list[Span],
    warnings: list[TraceWarning],
    columns: list[ColumnChunk] | None = None,
) -> Trace:
    if len(spans) == JAEGER_ES_MAX_DOC_COUNT:
        warnings.append(
            TraceWarning(
                "truncated",
                f"the trace has exactly {JAEGER_ES_MAX_DOC_COUNT:,} spans, the default "
                "max_doc_count of Jaeger on Elasticsearch/OpenSearch: it is probably cut off",
            )
        )
    records = tuple(spans)
    joined = SpanColumns(records, columns) if columns else None
    return Trace(trace_id, records, tuple(warnings), joined)


def pick_trace(traces: list[Trace], trace_id: str | None, total_ids: list[str]) -> Trace:
    """The one trace ``read_trace`` returns, or a clear InputError."""
    if trace_id is not None:
        for trace in traces:
            if trace.trace_id == trace_id:
                return trace
        raise InputError(
            f"trace {trace_id} is not in the input ({_count(total_ids)}: {_first(total_ids)})"
        )
    if not traces:
        raise InputError("the input holds no spans")
    if len(traces) > 1:
        raise InputError(
            f"the input holds {len(total_ids)} traces ({_first(total_ids)}); "
            "pass --trace-id to pick one"
        )
    return traces[0]


def _count(ids: list[str]) -> str:
    return "no traces" if not ids else ("1 trace" if len(ids) == 1 else f"{len(ids)} traces")


def _first(ids: list[str], n: int = 3) -> str:
    shown = ", ".join(ids[:n])
    return shown + (f", and {len(ids) - n} more" if len(ids) > n else "")
