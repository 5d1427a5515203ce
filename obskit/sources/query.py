"""A search for many traces (:class:`Query`) and what it found (:class:`Found`).

Every backend search is a **sample**: Jaeger's search depth and Tempo's ``limit`` cap how many
traces come back, with no paging (trace-backends.md §5.5); the report says how many traces it
is based on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from obskit.ingest.summaries import TraceSummary
from obskit.model import Trace

# Answers from a server without this route: try the next API.
ROUTE_MISSING = (404, 405, 501)
DEFAULT_LIMIT = 100


@dataclass(frozen=True, slots=True)
class Query:
    """A search for the traces of ``service`` (and ``operation``) started in [start, end)."""

    service: str
    operation: str | None
    start_ns: int
    end_ns: int
    limit: int | None  # None: no limit (files only; a backend search gets DEFAULT_LIMIT)


@dataclass(slots=True)
class Found:
    """What a search returned: trace summaries, and the traces it sent whole (Jaeger v1 and
    v3 ``/traces`` searches do), which then need no second request."""

    summaries: list[TraceSummary]
    api: str  # the endpoint that answered, for messages
    traces: dict[str, Trace] = field(default_factory=dict)

    @property
    def trace_ids(self) -> list[str]:
        return [s.trace_id for s in self.summaries]


def rfc3339(ns: int) -> str:
    seconds, fraction = divmod(ns, 10**9)
    stamp = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{fraction:09d}Z"
