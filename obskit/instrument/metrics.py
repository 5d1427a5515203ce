"""The Prometheus endpoint of an instrumented service: OTel's Prometheus exporter, with every
latency threshold of the spec added to the HTTP duration histograms' buckets.

The generated SLO rules count "fast" requests with the bucket whose bound *is* the threshold
(``le="0.3"`` for 300 ms); OTel's default buckets (5 ms … 10 s) lack most thresholds. Bucket
bounds are a View's or a reader's business in the SDK, and auto-instrumentation builds the
MeterProvider from environment variables alone, so this reader (entry point
``obskit_prometheus`` in ``opentelemetry_metrics_exporter``; ``OTEL_METRICS_EXPORTER=
obskit_prometheus``) carries the buckets, read from ``OBSKIT_HISTOGRAM_BUCKETS``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics._internal.instrument import _Histogram
from opentelemetry.sdk.metrics.view import DefaultAggregation, ExplicitBucketHistogramAggregation

from obskit.instrument import settings as names

# The instruments whose buckets the rules and dashboards rely on (stable HTTP semconv).
DURATION_INSTRUMENTS = frozenset({"http.server.request.duration", "http.client.request.duration"})


def parse_buckets(text: str | None) -> tuple[float, ...] | None:
    if not text:
        return None
    try:
        found = tuple(sorted({float(part) for part in text.split(",") if part.strip()}))
    except ValueError:
        return None  # never take the service down over a bad variable: keep the defaults
    return found if found and all(b > 0 for b in found) else None


class _DurationBuckets(DefaultAggregation):
    """Explicit buckets for the HTTP duration histograms; the default for everything else."""

    def __init__(self, boundaries: Sequence[float]) -> None:
        self._explicit = ExplicitBucketHistogramAggregation(boundaries)

    def _create_aggregation(self, instrument: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(instrument, "name", None) in DURATION_INSTRUMENTS:
            return self._explicit._create_aggregation(instrument, *args, **kwargs)
        return super()._create_aggregation(instrument, *args, **kwargs)


class ObskitPrometheusReader(PrometheusMetricReader):
    """OTel's Prometheus reader with the spec's buckets; serves ``/metrics`` on the host and
    port of ``OTEL_EXPORTER_PROMETHEUS_HOST``/``_PORT`` unless ``serve=False``."""

    def __init__(
        self,
        boundaries: Sequence[float] | None = None,
        *,
        host: str | None = None,
        port: int | None = None,
        serve: bool = True,
    ) -> None:
        super().__init__()
        chosen = boundaries or parse_buckets(os.environ.get(names.OBSKIT_HISTOGRAM_BUCKETS))
        if chosen:
            # PrometheusMetricReader does not pass `preferred_aggregation` on to MetricReader.
            self._instrument_class_aggregation[_Histogram] = _DurationBuckets(chosen)
        if serve:
            from prometheus_client import start_http_server

            start_http_server(
                port=port or int(os.environ.get(names.OTEL_EXPORTER_PROMETHEUS_PORT, "9464")),
                addr=host or os.environ.get(names.OTEL_EXPORTER_PROMETHEUS_HOST, "localhost"),
            )
