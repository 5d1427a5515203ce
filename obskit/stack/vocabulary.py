"""One metric vocabulary for the whole stack: the names rules, dashboards and cross-checks use.

* Services expose the OpenTelemetry HTTP semantic-convention histograms through OTel's
  Prometheus exporter (``obskit instrument`` turns on ``OTEL_SEMCONV_STABILITY_OPT_IN=http``):
  dots become underscores and the unit becomes a suffix.
* The Collector derives span metrics and service-graph metrics from the traces (connectors,
  exported on the collector's Prometheus exporter) and reports on itself (``otelcol_*``).

Every metric a generated rule or dashboard queries must be listed in :data:`PRODUCED`.
"""

from __future__ import annotations

# --- service metrics (OTel Prometheus exporter, stable HTTP semconv) ----------------------
HTTP_SERVER_DURATION = "http_server_request_duration_seconds"
HTTP_CLIENT_DURATION = "http_client_request_duration_seconds"
TARGET_INFO = "target_info"

ROUTE = "http_route"
METHOD = "http_request_method"
STATUS = "http_response_status_code"
SERVER_ADDRESS = "server_address"
SERVER_PORT = "server_port"

# --- collector connectors (prometheus exporter) -------------------------------------------
# The span_metrics connector prefixes its `calls` and `duration` metrics with this namespace
# (its default since contrib 0.109, set explicitly in the generated config); with the
# histogram unit `s` the Prometheus exporter adds `_seconds`, and `_total` to the counter.
SPAN_METRICS_NAMESPACE = "traces.span.metrics"
# Labels of the span metrics: `service.name`, `span.name`, `span.kind`, `status.code` and the
# configured dimensions, with dots as underscores.
SPAN_SERVICE = "service_name"
SPAN_NAME = "span_name"
SPAN_KIND = "span_kind"
SPAN_STATUS = "status_code"
# Span attributes the connector adds as dimensions (stable HTTP semconv).
SPAN_DIMENSIONS: tuple[str, ...] = (
    "http.request.method",
    "http.response.status_code",
    "http.route",
    "server.address",
)
# The service_graph connector's names are fixed (no namespace option): client, server,
# connection_type and failed are its labels.
GRAPH_CLIENT = "client"
GRAPH_SERVER = "server"
SPAN_CALLS = "traces_span_metrics_calls_total"
SPAN_DURATION = "traces_span_metrics_duration_seconds"
GRAPH_REQUESTS = "traces_service_graph_request_total"
GRAPH_FAILED = "traces_service_graph_request_failed_total"
GRAPH_SERVER_SECONDS = "traces_service_graph_request_server_seconds"
GRAPH_CLIENT_SECONDS = "traces_service_graph_request_client_seconds"

# --- collector self-telemetry -------------------------------------------------------------
COLLECTOR_ACCEPTED_SPANS = "otelcol_receiver_accepted_spans_total"
COLLECTOR_REFUSED_SPANS = "otelcol_receiver_refused_spans_total"
COLLECTOR_SENT_SPANS = "otelcol_exporter_sent_spans_total"
COLLECTOR_SEND_FAILED_SPANS = "otelcol_exporter_send_failed_spans_total"
COLLECTOR_ENQUEUE_FAILED_SPANS = "otelcol_exporter_enqueue_failed_spans_total"

# The OpenTelemetry default HTTP duration buckets, in seconds.
DEFAULT_BUCKETS_S: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip


def histogram_buckets_s(thresholds_ms: list[int] | tuple[int, ...] = ()) -> tuple[float, ...]:
    """The default buckets plus every latency threshold (in seconds), sorted: a latency SLO
    can only be measured exactly at a bucket boundary."""
    bounds = {round(b * 1000) for b in DEFAULT_BUCKETS_S} | set(thresholds_ms)
    return tuple(ms / 1000 for ms in sorted(bounds))


def histogram_series(name: str) -> set[str]:
    return {f"{name}_bucket", f"{name}_sum", f"{name}_count"}


# Every series name something in the generated stack produces.
PRODUCED: frozenset[str] = frozenset(
    {
        "up",
        "scrape_duration_seconds",
        TARGET_INFO,
        *histogram_series(HTTP_SERVER_DURATION),
        *histogram_series(HTTP_CLIENT_DURATION),
        SPAN_CALLS,
        *histogram_series(SPAN_DURATION),
        GRAPH_REQUESTS,
        GRAPH_FAILED,
        *histogram_series(GRAPH_SERVER_SECONDS),
        *histogram_series(GRAPH_CLIENT_SECONDS),
        COLLECTOR_ACCEPTED_SPANS,
        COLLECTOR_REFUSED_SPANS,
        COLLECTOR_SENT_SPANS,
        COLLECTOR_SEND_FAILED_SPANS,
        COLLECTOR_ENQUEUE_FAILED_SPANS,
        "prometheus_rule_evaluation_failures_total",
        "prometheus_notifications_dropped_total",
        "alertmanager_notifications_failed_total",
        "alertmanager_notifications_total",
    }
)

# --- the data tier (obskit/stack/dependencies.py): OTel semconv names in Prometheus form ----
POOL_COUNT = "db_client_connection_count"
POOL_MAX = "db_client_connection_max"
POOL_PENDING = "db_client_connection_pending_requests"
POOL_WAIT = "db_client_connection_wait_time_seconds"
POOL_NAME = "db_client_connection_pool_name"
POOL_STATE = "db_client_connection_state"
CACHE_REQUESTS = "cache_requests"  # a counter: cache_requests_total{cache, result}
CACHE_NAME = "cache"
QUEUE_DEPTH = "messaging_queue_depth"
QUEUE_LAG = "messaging_consumer_lag_seconds"
QUEUE_NAME = "messaging_destination_name"
PRODUCED = PRODUCED | {
    POOL_COUNT, POOL_MAX, POOL_PENDING, *histogram_series(POOL_WAIT),
    f"{CACHE_REQUESTS}_total", QUEUE_DEPTH, QUEUE_LAG,
}  # fmt: skip
