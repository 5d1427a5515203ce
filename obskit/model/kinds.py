"""Span kinds, status codes and reference types, with OpenTelemetry's numbering."""

from __future__ import annotations

from enum import Enum, IntEnum


class SpanKind(IntEnum):
    """OTLP ``Span.SpanKind``: the numbers are the OTLP/JSON integers."""

    UNSPECIFIED = 0
    INTERNAL = 1
    SERVER = 2
    CLIENT = 3
    PRODUCER = 4
    CONSUMER = 5


class StatusCode(IntEnum):
    """OTLP ``Status.StatusCode``."""

    UNSET = 0
    OK = 1
    ERROR = 2


class RefType(Enum):
    """How a span hangs on another one (OpenTracing references; OTLP parents are CHILD_OF)."""

    CHILD_OF = "CHILD_OF"
    FOLLOWS_FROM = "FOLLOWS_FROM"
