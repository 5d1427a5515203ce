"""Collecting converted spans into traces, and building spans fast.

Readers call :func:`make_span` (a positional, validation-free constructor for the frozen
:class:`~obskit.model.Span`) and add spans to a :class:`TraceSet`, which groups them by trace id
in arrival order. Spans are never dropped or de-duplicated here: a duplicate span id stays in the
trace, and the analysis keeps the first and warns (critical-path.md §1).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

from obskit.errors import InputError
from obskit.model import Reference, RefType, Span, Trace, TraceWarning

# Positional order of make_span's arguments: the dataclass field order.
SPAN_FIELDS = tuple(f.name for f in dataclasses.fields(Span))

# Jaeger on Elasticsearch/OpenSearch returns at most this many spans per trace by default.
JAEGER_ES_MAX_DOC_COUNT = 10_000


def _build_fast_constructor(cls: type, fields: tuple[str, ...]) -> Callable[..., Any]:
    """A positional constructor for a frozen slots dataclass. ``Span(...)`` costs ~3 µs: a
    frozen dataclass sets each of its 15 fields through ``object.__setattr__``. Setting the
    slots through their descriptors builds the identical object in a third of the time, which
    matters at a million spans. Falls back to the real constructor if the model ever grows
    validation (``__post_init__``)."""
    if hasattr(cls, "__post_init__") or not hasattr(cls, "__slots__"):
        return cls
    args = ", ".join(fields)
    body = "".join(f"    _set_{name}(obj, {name})\n" for name in fields)
    source = f"def make({args}):\n    obj = _new(_cls)\n{body}    return obj\n"
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    for name in fields:
        namespace[f"_set_{name}"] = getattr(cls, name).__set__
    exec(source, namespace)  # generated from the dataclass fields above, no outside input
    return namespace["make"]  # type: ignore[no-any-return]


make_span: Callable[..., Span] = _build_fast_constructor(Span, SPAN_FIELDS)
make_reference: Callable[[RefType, str, str], Reference] = _build_fast_constructor(
    Reference, tuple(f.name for f in dataclasses.fields(Reference))
)

_set_service = Span.service.__set__  # type: ignore[attr-defined]
_set_resource = Span.resource.__set__  # type: ignore[attr-defined]
_set_scope = Span.scope.__set__  # type: ignore[attr-defined]


def set_context(spans: list[Span], service: str, resource: Any, scope: str) -> None:
    """Finish spans built before their resource and scope were known (the sliced OTLP reader
    converts a document's spans before it has parsed the objects around them). Only for spans
    just built with :func:`make_span` that nobody else has seen yet."""
    for span in spans:
        _set_service(span, service)
        _set_resource(span, resource)
        _set_scope(span, scope)


class TraceSet:
    """Spans grouped by trace id, plus per-trace warnings, in first-seen order.

    ``only`` keeps just one trace's spans (other ids are still counted, for messages).
    """

    def __init__(self, only: str | None = None) -> None:
        self.only = only
        self.spans: dict[str, list[Span]] = {}
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

    def add_many(self, spans: list[Span]) -> dict[str, None]:
        """Add spans (usually all of one trace); returns their trace ids, in order."""
        tids = dict.fromkeys([span.trace_id for span in spans])
        if len(tids) != 1:
            for span in spans:
                self.add(span)
            return tids
        tid = next(iter(tids))
        bucket = self.spans.get(tid)
        if bucket is None:
            self.seen[tid] = None
            if self.only is not None and tid != self.only:
                return tids
            bucket = self.spans[tid] = []
        bucket.extend(spans)
        return tids

    def absorb(self, other: TraceSet) -> None:
        """Take over everything ``other`` collected (a reader's trial run into a scratch set)."""
        for tid in other.seen:
            self.seen[tid] = None
        for tid, spans in other.spans.items():
            self.spans.setdefault(tid, []).extend(spans)
        for tid, warnings in other.warnings.items():
            self.warnings.setdefault(tid, []).extend(warnings)

    def warn(self, trace_id: str, warning: TraceWarning) -> None:
        if self.only is not None and trace_id != self.only:
            return
        self.warnings.setdefault(trace_id, []).append(warning)

    def pop(self, trace_id: str) -> Trace:
        spans = self.spans.pop(trace_id, [])
        warnings = self.warnings.pop(trace_id, [])
        return build_trace(trace_id, spans, warnings)

    def traces(self) -> Iterator[Trace]:
        for tid in list(self.spans):
            yield self.pop(tid)


class TouchedTraceSet(TraceSet):
    """A view of a TraceSet that also notes which trace ids one document touched."""

    @classmethod
    def track(cls, base: TraceSet) -> TouchedTraceSet:
        view = cls.__new__(cls)
        view.only, view.spans, view.warnings, view.seen = (
            base.only,
            base.spans,
            base.warnings,
            base.seen,
        )
        view.touched = {}
        return view

    touched: dict[str, None]

    def add(self, span: Span) -> None:
        super().add(span)
        self.touched[span.trace_id] = None

    def add_many(self, spans: list[Span]) -> dict[str, None]:
        tids = super().add_many(spans)
        self.touched.update(tids)
        return tids


def build_trace(trace_id: str, spans: list[Span], warnings: list[TraceWarning]) -> Trace:
    if len(spans) == JAEGER_ES_MAX_DOC_COUNT:
        warnings.append(
            TraceWarning(
                "truncated",
                f"the trace has exactly {JAEGER_ES_MAX_DOC_COUNT:,} spans, the default "
                "max_doc_count of Jaeger on Elasticsearch/OpenSearch: it is probably cut off",
            )
        )
    return Trace(trace_id, tuple(spans), tuple(warnings))


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
