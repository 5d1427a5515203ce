"""The shop's PostgreSQL database: the schema, the catalogue it starts with, and the
connection pools the services share their code for.

The tables are big enough for the story: ``stock`` holds the whole warehouse catalogue
(``CATALOGUE_ROWS`` items, of which the storefront sells four), so a look-up by SKU without
``stock_sku_idx`` scans hundreds of thousands of rows (the ``db-missing-index`` fault); ``offer``
holds the price rules a quote is computed from, an aggregation over ``OFFERS_PER_SKU`` rows:
work worth caching in Redis.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

from demo_services.backends import POSTGRES_ENV

PRODUCTS = [("tea", "Green tea, 100 g", 450), ("coffee", "Coffee beans, 250 g", 900),
            ("mug", "Mug", 1200), ("teapot", "Teapot", 3500)]  # fmt: skip
STOCK = 1_000_000_000  # the demo never sells out under load
CATALOGUE_ROWS = int(os.environ.get("DEMO_CATALOGUE_ROWS", "600000"))
OFFERS_PER_SKU = int(os.environ.get("DEMO_OFFERS_PER_SKU", "60000"))
STOCK_INDEX = "stock_sku_idx"
CREATE_STOCK_INDEX = f"CREATE INDEX IF NOT EXISTS {STOCK_INDEX} ON stock (sku)"
DROP_STOCK_INDEX = f"DROP INDEX IF EXISTS {STOCK_INDEX}"

TABLES = [
    "CREATE TABLE product (sku text PRIMARY KEY, name text NOT NULL, price_cents int NOT NULL)",
    # Room on every page for the new versions of a row (HOT updates): the four products on sale
    # are updated by every reservation, and without it each update adds index entries, so
    # look-ups by SKU slow down minute by minute until a vacuum.
    "CREATE TABLE stock (id bigserial PRIMARY KEY, sku text NOT NULL, warehouse int NOT NULL, "
    "quantity bigint NOT NULL) WITH (fillfactor = 50)",
    "CREATE TABLE offer (id bigserial PRIMARY KEY, sku text NOT NULL, min_qty int NOT NULL, "
    "discount_cents int NOT NULL)",
    "CREATE TABLE reservation (order_id text PRIMARY KEY, sku text NOT NULL, qty int NOT NULL, "
    "at timestamptz NOT NULL DEFAULT now())",
    "CREATE TABLE orders (order_id text PRIMARY KEY, sku text NOT NULL, qty int NOT NULL, "
    "amount numeric NOT NULL, status text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())",
    "CREATE TABLE payment (order_id text PRIMARY KEY, amount numeric NOT NULL, "
    "status text NOT NULL, charge_id text, created_at timestamptz NOT NULL DEFAULT now())",
    "CREATE TABLE sent_email (order_id text PRIMARY KEY, sent_at timestamptz NOT NULL "
    "DEFAULT now())",
]
FILL = [
    "INSERT INTO stock (sku, warehouse, quantity) SELECT sku, 0, %(stock)s FROM product",
    "INSERT INTO stock (sku, warehouse, quantity) SELECT 'item-' || lpad(i::text, 7, '0'), "
    "i %% 12, 100 FROM generate_series(1, %(rows)s) i",
    "INSERT INTO offer (sku, min_qty, discount_cents) SELECT p.sku, 1 + i %% 3, i %% 7 "
    "FROM product p, generate_series(1, %(offers)s) i",
    CREATE_STOCK_INDEX,
    "CREATE INDEX offer_sku_idx ON offer (sku)",
    "ANALYZE",
]

# reads and writes of the services
STOCK_LIST = ("SELECT s.sku, p.name, s.quantity FROM stock s JOIN product p ON p.sku = s.sku "
              "WHERE s.sku = ANY(%s) ORDER BY s.sku")  # fmt: skip
RESERVE = ("UPDATE stock SET quantity = quantity - %s WHERE sku = %s AND quantity >= %s "
           "RETURNING quantity")  # fmt: skip
# a quote: the list price less the best discount that applies to the quantity (an aggregation
# over the product's offers, which is why quotes are cached)
QUOTE = ("SELECT p.price_cents, coalesce(max(o.discount_cents), 0) FROM product p "
         "LEFT JOIN offer o ON o.sku = p.sku AND o.min_qty <= %s WHERE p.sku = %s "
         "GROUP BY p.price_cents")  # fmt: skip


def database_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


def create(url: str) -> None:
    """The schema and the starting catalogue (a few seconds: hundreds of thousands of rows)."""
    import psycopg

    figures = {"stock": STOCK, "rows": CATALOGUE_ROWS, "offers": OFFERS_PER_SKU}
    with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cur:
        for statement in TABLES:
            cur.execute(statement)  # type: ignore[arg-type]
        cur.executemany("INSERT INTO product VALUES (%s, %s, %s)", PRODUCTS)
        for statement in FILL:
            cur.execute(statement, figures if "%(" in statement else None)  # type: ignore[arg-type]


def set_stock_index(url: str, present: bool) -> None:
    """Drop the index on ``stock.sku`` (look-ups by SKU scan the table) or build it again."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(CREATE_STOCK_INDEX if present else DROP_STOCK_INDEX)  # type: ignore[arg-type]


class Pool:
    """A psycopg connection pool whose waits are visible: every wait for a connection longer
    than ``WAIT_SPAN_MS`` becomes a CLIENT span named after the pool (``peer.service``
    ``<name>-pool``), so the analysis ranks it as a hop like any slow dependency, and every
    wait is observed in ``db_client_connection_wait_time_seconds``. Its size can change at run
    time (the ``db-pool=N`` fault)."""

    WAIT_SPAN_MS = 1.0

    def __init__(self, url: str, name: str, size: int) -> None:
        from psycopg_pool import ConnectionPool

        from demo_services import metrics

        self.name = name
        self.pool = ConnectionPool(
            url, min_size=size, max_size=size, name=name, timeout=30, open=True,
            kwargs={"autocommit": True},
        )  # fmt: skip
        # psycopg_pool keeps connections it already lent past a shrink; the limit on the
        # connections in use is enforced here, so a smaller pool makes requests queue at once
        self._free = threading.Condition()
        self._limit = size
        self._in_use = 0
        self._waiting = 0
        metrics.watch_pool(self)

    @property
    def size(self) -> int:
        return self._limit

    def resize(self, size: int) -> None:
        with self._free:
            self._limit = size
            self._free.notify_all()
        self.pool.resize(min_size=size, max_size=size)

    def stats(self) -> dict[str, int]:
        with self._free:
            used, limit, waiting = self._in_use, self._limit, self._waiting
        return {"size": max(used, limit), "idle": max(0, limit - used), "max": limit,
                "waiting": waiting}  # fmt: skip

    def _take(self) -> None:
        with self._free:
            self._waiting += 1
            try:
                while self._in_use >= self._limit:
                    self._free.wait()
            finally:
                self._waiting -= 1
            self._in_use += 1

    def _give_back(self) -> None:
        with self._free:
            self._in_use -= 1
            self._free.notify()

    @contextlib.contextmanager
    def connection(self) -> Iterator[Any]:
        from demo_services import metrics

        started_ns = time.time_ns()
        started = time.perf_counter()
        self._take()
        try:
            conn = self.pool.getconn()
        except BaseException:
            self._give_back()
            raise
        waited = time.perf_counter() - started
        metrics.POOL_WAIT.labels(self.name).observe(waited)
        if waited * 1000 >= self.WAIT_SPAN_MS:
            _wait_span(self.name, started_ns, started_ns + int(waited * 1e9))
        try:
            yield conn
        finally:
            self.pool.putconn(conn)
            self._give_back()


def _wait_span(pool: str, start_ns: int, end_ns: int) -> None:
    """The wait for a connection, after the fact (only long waits are worth a span)."""
    try:
        from opentelemetry import trace
    except ImportError:  # the shop runs without OpenTelemetry too
        return
    span = trace.get_tracer("demo_services.store").start_span(
        "wait for a connection",
        kind=trace.SpanKind.CLIENT,
        start_time=start_ns,
        attributes={
            "peer.service": f"{pool}-pool",
            "db.system": "postgresql",
            "db.client.connection.pool.name": pool,
        },
    )
    span.end(end_time=end_ns)
