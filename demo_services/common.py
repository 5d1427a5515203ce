"""What every demo service shares: configuration from the environment, a production WSGI
server (waitress), JSON errors, calls to the other services.

The services know nothing about OpenTelemetry: ``obskit instrument`` adds it from outside,
as it would for any team's service.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from typing import Any

import requests
from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

# Default ports are the ones in demo_services/obskit.yaml; the runner passes the spec's.
DEFAULT_PORTS = {
    "storefront": 8001,
    "checkout": 8002,
    "inventory": 8003,
    "pricing": 8004,
    "payments": 8005,
    "payments-gateway": 8006,
    "mailer": 8007,
}
PORT_ENV = "DEMO_PORT"
THREADS_ENV = "DEMO_THREADS"
TIMEOUT_S = 10.0  # for calls between services


def url_env(name: str) -> str:
    """``payments-gateway`` -> ``DEMO_PAYMENTS_GATEWAY_URL``."""
    return f"DEMO_{name.upper().replace('-', '_')}_URL"


def service_url(name: str) -> str:
    return os.environ.get(url_env(name)) or f"http://127.0.0.1:{DEFAULT_PORTS[name]}"


def env_number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not a number") from None


# every service: ``service-latency=SVC:MS`` (the service itself is slow: a bad deploy, a hot
# loop, a noisy neighbour), before the request is handled
SERVICE_LATENCY = "extra_latency_ms"


def create_app(name: str, knobs: dict[str, tuple[str, float, float, float]] | None = None) -> Flask:
    """A Flask app with ``/healthz`` and ``/admin/faults`` (``knobs`` plus the
    ``extra_latency_ms`` every service has); the faults are ``app.extensions["faults"]``."""
    app = Flask(name)
    env = f"DEMO_{name.upper().replace('-', '_')}_EXTRA_LATENCY_MS"
    faults = Faults({SERVICE_LATENCY: (env, 0, 0, 60_000), **(knobs or {})})
    faults.register(app)
    app.extensions["faults"] = faults

    @app.before_request
    def slow_down() -> None:
        from flask import request

        extra = faults[SERVICE_LATENCY]
        if extra > 0 and not request.path.startswith(("/admin/", "/healthz")):
            time.sleep(extra / 1000)

    @app.get("/healthz")
    def healthz() -> Any:
        return {"status": "ok", "service": name}

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException) -> Any:
        return jsonify(error=err.description), err.code

    return app


_local = threading.local()


def session() -> requests.Session:
    """One keep-alive session per thread (requests' Session is not documented thread-safe)."""
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    return _local.session


def call(method: str, service: str, path: str, **kwargs: Any) -> requests.Response:
    kwargs.setdefault("timeout", TIMEOUT_S)
    return session().request(method, service_url(service) + path, **kwargs)


def serve(app: Flask, name: str) -> None:
    """Serve on loopback until SIGINT; return normally so exit hooks (span flush) run."""
    from waitress import serve as waitress_serve

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    port = int(os.environ.get(PORT_ENV, DEFAULT_PORTS[name]))
    threads = int(os.environ.get(THREADS_ENV, "16"))
    with contextlib.suppress(KeyboardInterrupt):
        waitress_serve(app, host="127.0.0.1", port=port, threads=threads, ident=name)
    logging.getLogger(name).info("%s stopped", name)


class Faults:
    """Fault knobs of one service: start values from the environment, changed at run time with
    ``POST /admin/faults`` (JSON, any subset of the knobs); ``GET /admin/faults`` shows them."""

    def __init__(self, knobs: dict[str, tuple[str, float, float, float]]) -> None:
        # knob -> (environment variable, default, lowest, highest)
        self._limits = {k: (low, high) for k, (_, _, low, high) in knobs.items()}
        self._values = {k: env_number(var, default) for k, (var, default, _, _) in knobs.items()}
        self._lock = threading.Lock()

    def __getitem__(self, knob: str) -> float:
        with self._lock:
            return self._values[knob]

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            return dict(self._values)

    def update(self, changes: Any) -> str | None:
        """Apply all changes or none; the problem, if any, as one line."""
        if not isinstance(changes, dict) or not changes:
            return f"send a JSON object with any of: {', '.join(self._limits)}"
        for knob, value in changes.items():
            if knob not in self._limits:
                return f"unknown fault {knob!r} (known: {', '.join(self._limits)})"
            low, high = self._limits[knob]
            if isinstance(value, bool) or not isinstance(value, int | float):
                return f"{knob} must be a number"
            if not low <= value <= high:
                return f"{knob} must be from {low:g} to {high:g}"
        with self._lock:
            self._values.update({k: float(v) for k, v in changes.items()})
        return None

    def register(self, app: Flask) -> None:
        from flask import request

        @app.get("/admin/faults")
        def get_faults() -> Any:
            return self.snapshot()

        @app.post("/admin/faults")
        def set_faults() -> Any:
            problem = self.update(request.get_json(silent=True))
            if problem:
                return {"error": problem}, 400
            return self.snapshot()
