"""inventory: stock levels and reservations in SQLite (so traces show database spans).

Fault: ``DEMO_INVENTORY_SLOW_MS`` (default 0) makes the stock lookup of a reservation that many
milliseconds slower, inside the query (as a missing index would); at run time:
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

from demo_services.common import Faults, create_app, serve

NAME = "inventory"
app = create_app(NAME)
faults = Faults({"slow_query_ms": ("DEMO_INVENTORY_SLOW_MS", 0, 0, 60_000)})
faults.register(app)

PRODUCTS = [("tea", "Green tea, 100 g"), ("coffee", "Coffee beans, 250 g"),
            ("mug", "Mug"), ("teapot", "Teapot")]  # fmt: skip
STOCK = 1_000_000_000  # the demo never sells out under load
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


if __name__ == "__main__":
    setup()
    serve(app, NAME)
