"""A trace: its spans as the source gave them, plus what the reader noticed."""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter

from obskit.model.columns import SpanColumns
from obskit.model.span import Span
from obskit.model.warning import TraceWarning

_SERVICE = attrgetter("service")


@dataclass(frozen=True, slots=True)
class Trace:
    trace_id: str
    spans: tuple[Span, ...]
    warnings: tuple[TraceWarning, ...] = ()
    # what the reader already had of the spans, a column at a time (see obskit.model.columns)
    columns: SpanColumns | None = field(default=None, compare=False, repr=False)

    @property
    def own_columns(self) -> SpanColumns | None:
        """``columns``, if they describe these spans: a trace made from another with other
        spans (``dataclasses.replace``) still carries the other's."""
        columns = self.columns
        return columns if columns is not None and columns.describes(self.spans) else None

    @property
    def services(self) -> list[str]:
        """Service names, sorted."""
        return sorted(set(map(_SERVICE, self.spans)))

    def __len__(self) -> int:
        return len(self.spans)
