"""storefront: the shop's entry. ``GET /`` lists products with stock and prices (prices from
pricing's cache), ``POST /cart`` adds an item (priced by pricing), ``POST /checkout`` buys."""

from __future__ import annotations

from typing import Any

from flask import request

from demo_services.common import call, create_app, serve

NAME = "storefront"
app = create_app(NAME)


@app.get("/")
def index() -> Any:
    stock = call("GET", "inventory", "/stock")
    if stock.status_code != 200:
        return stock.json(), stock.status_code
    prices = call("GET", "pricing", "/prices")
    listed = prices.json().get("prices", {}) if prices.status_code == 200 else {}
    items = [{**item, "price": listed.get(item["sku"])} for item in stock.json().get("items", [])]
    return {"shop": "obskit demo", "products": items}


@app.post("/cart")
def add_to_cart() -> Any:
    item = request.get_json(silent=True) or {}
    quote = call("GET", "pricing", "/quote", params={
        "sku": str(item.get("sku", "tea")), "qty": str(item.get("qty", 1)),
    })  # fmt: skip
    if quote.status_code != 200:
        return quote.json(), quote.status_code
    return {"added": quote.json()}


@app.post("/checkout")
def checkout() -> Any:
    order = request.get_json(silent=True) or {}
    resp = call("POST", "checkout", "/orders", json={
        "sku": order.get("sku", "tea"), "qty": order.get("qty", 1),
    })  # fmt: skip
    return resp.json(), resp.status_code


if __name__ == "__main__":
    serve(app, NAME)
