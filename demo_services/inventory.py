"""inventory: stock levels and reservations, in PostgreSQL when the shop runs it (traces show
each statement; the ``db-missing-index`` fault drops the index a reservation's look-up by SKU
uses), else in SQLite.

SQLite fault: ``DEMO_INVENTORY_SLOW_MS`` (default 0) makes the stock lookup of a reservation
that many milliseconds slower, inside the query (as a missing index would); at run time:
``POST /admin/faults {"slow_query_ms": 300}``.
"""

from __future__ import annotations

import atexit
import shutil
import sqlite3
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from flask import abort, request

from demo_services import store
from demo_services.common import Faults, create_app, serve

NAME = "inventory"
app = create_app(NAME, {"slow_query_ms": ("DEMO_INVENTORY_SLOW_MS", 0, 0, 60_000)})
faults: Faults = app.extensions["faults"]

PRODUCTS = [(sku, name) for sku, name, _ in store.PRODUCTS]
SKUS = [sku for sku, _ in PRODUCTS]
STOCK = store.STOCK
DB_URL = store.database_url()
pool = store.Pool(DB_URL, NAME, size=8) if DB_URL else None
LOOKUP = "SELECT quantity FROM stock WHERE sku = ?"
SLOW_LOOKUP = "SELECT quantity FROM stock WHERE sku = ? AND demo_delay(?) = 0"

_dir = Path(tempfile.mkdtemp(prefix="obskit-inventory-"))
atexit.register(shutil.rmtree, _dir, ignore_errors=True)
DB = _dir / "inventory.db"


_local = threading.local()


def connect() -> sqlite3.Connection:
    conn = sqlite3.connect(DB, timeout=5, isolation_level=None)
    conn.create_function("demo_delay", 1, _delay)
    return conn


def connection() -> sqlite3.Connection:
    """This worker thread's connection, opened once (a pool of one per thread)."""
    if not hasattr(_local, "conn"):
        _local.conn = connect()
    return _local.conn


def _delay(ms: float) -> int:
    time.sleep(ms / 1000)
    return 0


def setup() -> None:
    """Create and fill the database. One script: start-up work, not a request, so it should
    not show up as traces (the DB-API instrumentation traces execute(), not executescript())."""
    rows = ",".join(f"('{sku}', '{name}', {STOCK})" for sku, name in PRODUCTS)
    conn = connect()
    try:
        conn.cursor().executescript(
            "PRAGMA journal_mode=WAL;"
            "CREATE TABLE stock (sku TEXT PRIMARY KEY, name TEXT, quantity INTEGER);"
            "CREATE TABLE reservation (order_id TEXT PRIMARY KEY, sku TEXT, qty INTEGER, at REAL);"
            f"INSERT INTO stock VALUES {rows};"
        )
    finally:
        conn.close()


@app.get("/stock")
def stock() -> Any:
    if pool is not None:
        with pool.connection() as conn:
            rows = conn.execute(store.STOCK_LIST, (SKUS,)).fetchall()
        return {"items": [{"sku": s, "name": n, "in_stock": q} for s, n, q in rows]}
    cur = connection().cursor()  # cursors, not conn.execute: the DB-API instrumentation traces them
    cur.execute("SELECT sku, name, quantity FROM stock ORDER BY sku")
    rows = cur.fetchall()
    return {"items": [{"sku": s, "name": n, "in_stock": q} for s, n, q in rows]}


@app.post("/reserve")
def reserve() -> Any:
    body = request.get_json(silent=True) or {}
    sku, qty, order_id = body.get("sku"), body.get("qty"), body.get("order_id")
    if not isinstance(qty, int) or qty < 1 or not isinstance(order_id, str):
        abort(400, "give sku, a positive qty and an order_id")
    if pool is not None:
        return _reserve_in_postgres(sku, qty, order_id)
    slow_ms = faults["slow_query_ms"]
    cur = connection().cursor()
    cur.execute("BEGIN IMMEDIATE")
    try:
        query, args = (SLOW_LOOKUP, (sku, slow_ms)) if slow_ms else (LOOKUP, (sku,))
        cur.execute(query, args)
        row = cur.fetchone()
        if row is None:
            abort(404, f"unknown product {sku!r}")
        if row[0] < qty:
            return {"error": f"only {row[0]} of {sku} left"}, 409
        cur.execute("UPDATE stock SET quantity = quantity - ? WHERE sku = ?", (qty, sku))
        cur.execute(
            "INSERT INTO reservation VALUES (?, ?, ?, ?)", (order_id, sku, qty, time.time())
        )
        cur.execute("COMMIT")
    finally:
        if connection().in_transaction:
            cur.execute("ROLLBACK")
    return {"order_id": order_id, "sku": sku, "reserved": qty}


def _reserve_in_postgres(sku: Any, qty: int, order_id: str) -> Any:
    assert pool is not None
    with pool.connection() as conn, conn.transaction():
        row = conn.execute(store.RESERVE, (qty, sku, qty)).fetchone()
        if row is None:
            known = conn.execute("SELECT 1 FROM product WHERE sku = %s", (sku,)).fetchone()
            if known is None:
                abort(404, f"unknown product {sku!r}")
            return {"error": f"not enough {sku} left"}, 409
        conn.execute("INSERT INTO reservation (order_id, sku, qty) VALUES (%s, %s, %s)",
                     (order_id, sku, qty))  # fmt: skip
    return {"order_id": order_id, "sku": sku, "reserved": qty}


if __name__ == "__main__":
    if pool is None:
        setup()
    serve(app, NAME)
