"""pricing: quotes a price for some quantity of a product.

With PostgreSQL, a quote is computed in the database (the list price less the best offer for
the quantity: an aggregation over the product's offers) and Redis is its read-through cache:
``GET`` the quote, and on a miss compute it and ``SET`` it with a TTL. When Redis cannot be
reached (the ``cache-down`` fault) every quote falls through to PostgreSQL. Without
PostgreSQL, prices come from memory and a rules engine's time is simulated.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from typing import Any

from flask import abort, request

from demo_services import store
from demo_services.backends import REDIS_ENV
from demo_services.common import create_app, serve

NAME = "pricing"
app = create_app(NAME)
log = logging.getLogger(NAME)
PRICES_CENTS = {sku: cents for sku, _, cents in store.PRODUCTS}
# without a database: the time a real rules engine takes to price an order
RULES_MS = float(os.environ.get("DEMO_PRICING_RULES_MS", "15"))
CACHE_TTL_S = 300
CACHE = "quotes"

DB_URL = store.database_url()
pool = store.Pool(DB_URL, NAME, size=8) if DB_URL else None
cache: Any = None
if os.environ.get(REDIS_ENV):
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # Fail fast: a cache that does not answer must cost little before the fall-through
    # (redis-py retries a refused connection three times with backoff by default).
    cache = redis.Redis.from_url(os.environ[REDIS_ENV], socket_connect_timeout=0.1,
                                 socket_timeout=0.25, retry=Retry(NoBackoff(), 0))  # fmt: skip


def unit_price_cents(sku: str, qty: int) -> int | None:
    """The price of one item when buying ``qty``; None for an unknown product."""
    if pool is None:
        if RULES_MS > 0:  # sleep(0) would still give up the GIL and wait for it
            time.sleep(RULES_MS / 1000)
        return PRICES_CENTS.get(sku)
    key = f"quote:{sku}:{qty}"
    cached = _cache_get(key)
    if cached is not None:
        return int(cached)
    with pool.connection() as conn:
        row = conn.execute(store.QUOTE, (qty, sku)).fetchone()
    if row is None:
        return None
    price = int(row[0]) - int(row[1])
    _cache_set(key, price)
    return price


# After a failed look-up the cache is left alone this long (a circuit breaker): every read goes
# to the database meanwhile, without paying for a refused connection first.
CACHE_RETRY_S = 1.0
_cache_down_until = 0.0


def _cache_get(key: str) -> bytes | None:
    global _cache_down_until
    if cache is None:
        return None
    if time.monotonic() < _cache_down_until:
        _count("error")
        return None
    try:
        value = cache.get(key)
    except redis.RedisError as err:  # unreachable: the database answers instead
        _cache_down_until = time.monotonic() + CACHE_RETRY_S
        _count("error")
        log.debug("cache unreachable: %s", err)
        return None
    _count("hit" if value is not None else "miss")
    return value  # type: ignore[no-any-return]


def _count(result: str) -> None:
    """In the metrics, and on the request's span (``cache.result``), so a trace says whether
    its quote came from the cache."""
    from demo_services.metrics import CACHE_REQUESTS

    CACHE_REQUESTS.labels(CACHE, result).inc()
    try:
        from opentelemetry import trace
    except ImportError:
        return
    trace.get_current_span().set_attribute("cache.result", result)


def _cache_set(key: str, price: int) -> None:
    if cache is None or time.monotonic() < _cache_down_until:
        return
    with contextlib.suppress(redis.RedisError):  # counted by the look-up that missed
        cache.set(key, price, ex=CACHE_TTL_S)


@app.get("/quote")
def quote() -> Any:
    sku = request.args.get("sku", "")
    qty = request.args.get("qty", "1")
    if not qty.isdigit() or not 1 <= int(qty) <= 100:
        abort(400, "qty must be a whole number from 1 to 100")
    price = unit_price_cents(sku, int(qty))
    if price is None:
        abort(404, f"no price for {sku!r}")
    return {"sku": sku, "qty": int(qty), "amount": price * int(qty) / 100}


@app.get("/prices")
def prices() -> Any:
    found = {sku: unit_price_cents(sku, 1) for sku in PRICES_CENTS}
    return {"prices": {sku: cents / 100 for sku, cents in found.items() if cents is not None}}


if __name__ == "__main__":
    serve(app, NAME)
