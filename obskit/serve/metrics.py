"""The embedded backend's own metrics, on ``/metrics`` of the query port."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class ServeMetrics:
    def __init__(self, store_bytes: Callable[[], float], pending: Callable[[], float]) -> None:
        self.registry = CollectorRegistry()
        self.received = Counter(
            "obskit_serve_spans_received",
            "Spans received over OTLP.",
            registry=self.registry,
        )
        self.stored = Counter(
            "obskit_serve_spans_stored", "Spans committed to the store.", registry=self.registry
        )
        self.refused = Counter(
            "obskit_serve_spans_refused",
            "Export requests refused, by HTTP status.",
            ["status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "obskit_serve_request_duration_seconds",
            "Time to answer an HTTP request.",
            ["route"],
            registry=self.registry,
        )
        Gauge(
            "obskit_serve_store_bytes", "Bytes used by the span store.", registry=self.registry
        ).set_function(store_bytes)
        Gauge(
            "obskit_serve_pending_spans",
            "Spans waiting to be committed.",
            registry=self.registry,
        ).set_function(pending)

    def exposition(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)
