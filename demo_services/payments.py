"""payments: charges a card through the third-party payment gateway."""

from __future__ import annotations

import logging
from typing import Any

import requests
from flask import abort, request

from demo_services.common import call, create_app, serve

NAME = "payments"
app = create_app(NAME)
log = logging.getLogger(NAME)


@app.post("/charge")
def charge() -> Any:
    body = request.get_json(silent=True) or {}
    amount = body.get("amount")
    if not isinstance(amount, int | float) or amount <= 0:
        abort(400, "amount must be a positive number")
    try:
        resp = call("POST", "payments-gateway", "/v1/charges",
                    json={"amount": amount, "currency": body.get("currency", "EUR")})  # fmt: skip
    except requests.RequestException as err:
        log.warning("gateway unreachable: %s", err)
        return {"error": "payment gateway unreachable"}, 502
    if resp.status_code != 200:
        log.warning("gateway answered %s", resp.status_code)
        return {"error": f"payment gateway answered {resp.status_code}"}, 502
    return {"charge": resp.json()["id"], "status": "paid"}


if __name__ == "__main__":
    serve(app, NAME)
