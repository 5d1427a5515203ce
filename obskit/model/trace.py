"""A trace: its spans as the source gave them, plus what the reader noticed."""

from __future__ import annotations

from dataclasses import dataclass

from obskit.model.span import Span
from obskit.model.warning import TraceWarning


@dataclass(frozen=True, slots=True)
class Trace:
    trace_id: str
    spans: tuple[Span, ...]
    warnings: tuple[TraceWarning, ...] = ()

    @property
    def services(self) -> list[str]:
        """Service names, sorted."""
        return sorted({span.service for span in self.spans})

    def __len__(self) -> int:
        return len(self.spans)
