"""Findings about a trace that are worth telling the user, from readers and analyses alike."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TraceWarning:
    """``code`` is stable and machine-readable (``orphan``, ``clipped``, ``dropped``,
    ``several-roots``, ``duplicate-id``, ``skew``, ``truncated``, ``cycle``, ...)."""

    code: str
    message: str
    span_ids: tuple[str, ...] = ()
