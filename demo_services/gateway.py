"""payments-gateway: a simulated third-party card processor. Deliberately NOT instrumented
(someone else's service): it appears in traces only as the payments service's CLIENT span,
named by ``server.address``/``server.port``.

Faults: ``DEMO_GATEWAY_LATENCY_MS`` (default 50), ``DEMO_GATEWAY_JITTER_MS`` (default 10,
uniform ±), ``DEMO_GATEWAY_ERROR_RATE`` (0..1, answered with 503), or at run time:
``curl -X POST localhost:8006/admin/faults -H 'content-type: application/json'
-d '{"latency_ms": 800}'``.
"""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

from demo_services.common import Faults, create_app, serve

NAME = "payments-gateway"
app = create_app(NAME, {
    "latency_ms": ("DEMO_GATEWAY_LATENCY_MS", 50, 0, 60_000),
    "jitter_ms": ("DEMO_GATEWAY_JITTER_MS", 10, 0, 60_000),
    "error_rate": ("DEMO_GATEWAY_ERROR_RATE", 0, 0, 1),
})  # fmt: skip
faults: Faults = app.extensions["faults"]


@app.post("/v1/charges")
def charge() -> Any:
    latency, jitter = faults["latency_ms"], faults["jitter_ms"]
    time.sleep(max(0.0, latency + random.uniform(-jitter, jitter)) / 1000)
    if random.random() < faults["error_rate"]:
        return {"error": "upstream processor unavailable"}, 503
    return {"id": f"ch_{uuid.uuid4().hex[:16]}", "status": "succeeded"}


if __name__ == "__main__":
    serve(app, NAME)
