"""pricing: quotes a price for some quantity of a product."""

from __future__ import annotations

import os
import time
from typing import Any

from flask import abort, request

from demo_services.common import create_app, serve

NAME = "pricing"
app = create_app(NAME)
PRICES_CENTS = {"tea": 450, "coffee": 900, "mug": 1200, "teapot": 3500}
# the time a real rules engine takes to price an order (discounts, taxes)
RULES_MS = float(os.environ.get("DEMO_PRICING_RULES_MS", "15"))


@app.get("/quote")
def quote() -> Any:
    sku = request.args.get("sku", "")
    qty = request.args.get("qty", "1")
    if sku not in PRICES_CENTS or not qty.isdigit():
        abort(404, f"no price for {sku!r}")
    if RULES_MS > 0:  # sleep(0) would still give up the GIL and wait for it
        time.sleep(RULES_MS / 1000)
    return {"sku": sku, "qty": int(qty), "amount": PRICES_CENTS[sku] * int(qty) / 100}


@app.get("/prices")
def prices() -> Any:
    return {"prices": {sku: cents / 100 for sku, cents in PRICES_CENTS.items()}}


if __name__ == "__main__":
    serve(app, NAME)
