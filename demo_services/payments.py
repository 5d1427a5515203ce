"""payments: charges a card through the third-party payment gateway.

With PostgreSQL, each charge is recorded in ``payment``: the row is written as pending, the
gateway is called and the row marked paid, all on one pooled connection, which is held for
the gateway's whole answer (as much real code does). The pool's size is the ``db-pool=N``
fault (``POST /admin/faults {"pool_size": N}``): when it is smaller than the charges in
flight, requests queue for a connection, and each wait shows as a
``payments → payments-pool`` CLIENT span.
"""

from __future__ import annotations

import logging
from typing import Any

import requests
from flask import abort, request

from demo_services import store
from demo_services.common import Faults, call, create_app, serve

NAME = "payments"
POOL_SIZE = 10
app = create_app(NAME, {"pool_size": ("DEMO_PAYMENTS_POOL_SIZE", POOL_SIZE, 1, 100)})
faults: Faults = app.extensions["faults"]
log = logging.getLogger(NAME)
DB_URL = store.database_url()
pool = store.Pool(DB_URL, NAME, size=int(faults["pool_size"])) if DB_URL else None


@app.post("/charge")
def charge() -> Any:
    body = request.get_json(silent=True) or {}
    amount = body.get("amount")
    order_id = str(body.get("order_id", ""))
    if not isinstance(amount, int | float) or amount <= 0:
        abort(400, "amount must be a positive number")
    if pool is None:
        return _charge(amount, body.get("currency", "EUR"))
    if pool.size != int(faults["pool_size"]):
        pool.resize(int(faults["pool_size"]))
    with pool.connection() as conn:
        conn.execute("INSERT INTO payment (order_id, amount, status) VALUES (%s, %s, 'pending') "
                     "ON CONFLICT (order_id) DO NOTHING", (order_id, amount))  # fmt: skip
        answer, status = _charge(amount, body.get("currency", "EUR"))
        outcome = "paid" if status == 200 else "failed"
        conn.execute("UPDATE payment SET status = %s, charge_id = %s WHERE order_id = %s",
                     (outcome, answer.get("charge"), order_id))  # fmt: skip
    return answer, status


def _charge(amount: float, currency: str) -> tuple[dict[str, Any], int]:
    try:
        resp = call("POST", "payments-gateway", "/v1/charges",
                    json={"amount": amount, "currency": currency})  # fmt: skip
    except requests.RequestException as err:
        log.warning("gateway unreachable: %s", err)
        return {"error": "payment gateway unreachable"}, 502
    if resp.status_code != 200:
        log.warning("gateway answered %s", resp.status_code)
        return {"error": f"payment gateway answered {resp.status_code}"}, 502
    return {"charge": resp.json()["id"], "status": "paid"}, 200


if __name__ == "__main__":
    serve(app, NAME)
