"""obskit: a production-grade observability stack for Python microservices, and the answer
to "why was this request slow?".

The public API is imported lazily so that ``import obskit`` (and ``obskit --help``) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "Trace": "obskit.model",
    "Span": "obskit.model",
    "SpanKind": "obskit.model",
    "StatusCode": "obskit.model",
    "read_trace": "obskit.ingest",
    "read_traces": "obskit.ingest",
    "analyze_trace": "obskit.analysis",
    "critical_path": "obskit.analysis",
    "aggregate_traces": "obskit.aggregate",
    "AggregateReport": "obskit.aggregate",
    "load_spec": "obskit.stack.spec",
    "generate_stack": "obskit.stack",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'obskit' has no attribute {name!r}")
