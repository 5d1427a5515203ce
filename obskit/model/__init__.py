"""The one internal trace model. Frozen records, no I/O."""

from obskit.model.kinds import RefType, SpanKind, StatusCode
from obskit.model.span import Event, Link, Reference, Span
from obskit.model.trace import Trace
from obskit.model.warning import TraceWarning

__all__ = [
    "Event",
    "Link",
    "RefType",
    "Reference",
    "Span",
    "SpanKind",
    "StatusCode",
    "Trace",
    "TraceWarning",
]
