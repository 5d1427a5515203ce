"""The shop's own Prometheus metrics, for what the OpenTelemetry instrumentations do not
measure: connection pools, the cache's hits and misses, the queue's depth and the consumer's
lag. Names follow OpenTelemetry's semantic conventions where one exists
(``db.client.connection.*``, ``messaging.*``), in Prometheus form.

They live in prometheus-client's default registry, which ``obskit instrument`` serves on the
service's metrics port next to the OpenTelemetry metrics.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import Any

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

# a wait for a connection: from none (a free one) to the pool's timeout
POOL_WAIT = Histogram(
    "db_client_connection_wait_time_seconds",
    "Time to obtain a connection from the pool.",
    ["db_client_connection_pool_name"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
CACHE_REQUESTS = Counter(
    "cache_requests_total",
    "Cache look-ups by result: hit, miss (read from the database) or error (cache unreachable).",
    ["cache", "result"],
)
QUEUE_DEPTH = Gauge(
    "messaging_queue_depth",
    "Messages ready in the queue, not yet consumed.",
    ["messaging_destination_name"],
)
CONSUMER_LAG = Gauge(
    "messaging_consumer_lag_seconds",
    "Age of the last consumed message when its handling finished.",
    ["messaging_destination_name"],
)
CONSUMED = Counter(
    "messaging_client_consumed_messages",
    "Messages handled by the consumer.",
    ["messaging_destination_name"],
)
PUBLISHED = Counter(
    "messaging_client_sent_messages", "Messages published.", ["messaging_destination_name"]
)


class _PoolCollector(Collector):
    """``db_client_connection_count{state=idle|used}``, ``..._max`` and
    ``..._pending_requests`` of every live pool, read when Prometheus scrapes."""

    def __init__(self) -> None:
        self.pools: weakref.WeakSet[Any] = weakref.WeakSet()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        count = GaugeMetricFamily(
            "db_client_connection_count",
            "Connections by state.",
            labels=["db_client_connection_pool_name", "db_client_connection_state"],
        )
        most = GaugeMetricFamily(
            "db_client_connection_max",
            "Most connections the pool opens.",
            labels=["db_client_connection_pool_name"],
        )
        pending = GaugeMetricFamily(
            "db_client_connection_pending_requests",
            "Requests waiting for a connection.",
            labels=["db_client_connection_pool_name"],
        )
        for pool in list(self.pools):
            stats = pool.stats()
            count.add_metric([pool.name, "idle"], stats["idle"])
            count.add_metric([pool.name, "used"], max(0, stats["size"] - stats["idle"]))
            most.add_metric([pool.name], stats["max"])
            pending.add_metric([pool.name], stats["waiting"])
        yield from (count, most, pending)


_POOLS = _PoolCollector()
REGISTRY.register(_POOLS)


def watch_pool(pool: Any) -> None:
    _POOLS.pools.add(pool)
