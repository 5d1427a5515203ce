"""checkout: reserves stock and gets a quote in parallel, then charges the payment; with
PostgreSQL it records the order, and with RabbitMQ it queues the order's e-mail for the
mailer (the request does not wait for the e-mail)."""

from __future__ import annotations

import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import abort, request

from demo_services import queue, store
from demo_services.common import call, create_app, serve

NAME = "checkout"
app = create_app(NAME)
log = logging.getLogger(NAME)
# Both downstream calls of one order run at once. Trace context crosses into the pool's
# threads through OTel's threading instrumentation: the client spans keep their parent.
pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="checkout-call")
RECORD_ORDER = ("INSERT INTO orders (order_id, sku, qty, amount, status) "
                "VALUES (%s, %s, %s, %s, 'paid')")  # fmt: skip
DB_URL = store.database_url()
AMQP_URL = queue.amqp_url()
db = store.Pool(DB_URL, NAME, size=8) if DB_URL else None


@app.post("/orders")
def create_order() -> Any:
    body = request.get_json(silent=True) or {}
    sku, qty = str(body.get("sku", "tea")), body.get("qty", 1)
    if not isinstance(qty, int) or not 1 <= qty <= 100:
        abort(400, "qty must be a whole number from 1 to 100")
    order_id = uuid.uuid4().hex[:12]
    reserved = pool.submit(call, "POST", "inventory", "/reserve",
                           json={"sku": sku, "qty": qty, "order_id": order_id})  # fmt: skip
    quoted = pool.submit(call, "GET", "pricing", "/quote", params={"sku": sku, "qty": qty})
    reservation, quote = reserved.result(), quoted.result()
    if reservation.status_code != 200:
        return reservation.json(), reservation.status_code
    if quote.status_code != 200:
        return {"error": "pricing failed"}, 502
    amount = quote.json()["amount"]
    payment = call("POST", "payments", "/charge",
                   json={"order_id": order_id, "amount": amount, "currency": "EUR"})  # fmt: skip
    if payment.status_code != 200:
        log.warning("order %s: payment failed with %s", order_id, payment.status_code)
        return {"order_id": order_id, "error": "payment failed"}, 502
    if db is not None:
        with db.connection() as conn:
            conn.execute(RECORD_ORDER, (order_id, sku, qty, amount))
    if AMQP_URL:
        queue.publish(AMQP_URL, {"order_id": order_id, "sku": sku, "qty": qty, "amount": amount})
    return {"order_id": order_id, "amount": amount, "status": "paid"}


if __name__ == "__main__":
    serve(app, NAME)
