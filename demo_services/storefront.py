"""storefront: the shop's entry. ``GET /`` lists products with stock, ``POST /checkout`` buys."""

from __future__ import annotations

from typing import Any

from flask import request

from demo_services.common import call, create_app, serve

NAME = "storefront"
app = create_app(NAME)


@app.get("/")
def index() -> Any:
    stock = call("GET", "inventory", "/stock")
    return {"shop": "obskit demo", "products": stock.json().get("items", [])}, stock.status_code


@app.post("/checkout")
def checkout() -> Any:
    order = request.get_json(silent=True) or {}
    resp = call("POST", "checkout", "/orders", json={
        "sku": order.get("sku", "tea"), "qty": order.get("qty", 1),
    })  # fmt: skip
    return resp.json(), resp.status_code


if __name__ == "__main__":
    serve(app, NAME)
