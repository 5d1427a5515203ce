"""`obskit.instrument.configure()`: the same setup from inside a service's code. Each case
runs in its own interpreter: OpenTelemetry's providers are process-wide."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

from tests.conftest import REPO, free_port
from tests.instrument.otlp_receiver import Receiver

SCRIPT = """
    import json, sys, urllib.request, warnings
    from obskit.instrument import configure

    endpoint, metrics_port = sys.argv[1], int(sys.argv[2])
    first = configure("orders", endpoint=endpoint, metrics_port=metrics_port)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        second = configure("other")

    from flask import Flask  # after configure(): the Flask instrumentation patches the class
    app = Flask(__name__)

    @app.get("/orders/<int:n>")
    def order(n):
        return {"n": n}

    assert app.test_client().get("/orders/7").status_code == 200
    metrics = ""
    if first.meter_provider is not None:
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics") as resp:
            metrics = resp.read().decode()
    first.shutdown()
    print(json.dumps({
        "same": second is first,
        "warnings": [str(w.message) for w in caught],
        "problems": first.problems,
        "instrumented": first.instrumented,
        "metrics": [l for l in metrics.splitlines() if l.startswith("http_server_request_duration_seconds_count")],
    }))
"""


def run(endpoint: str, metrics_port: int, cwd) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT), endpoint, str(metrics_port)],
        capture_output=True, text=True, timeout=180, cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO), "OBSKIT_SPEC": ""},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_configure_traces_and_serves_metrics_and_a_second_call_is_harmless(tmp_path) -> None:
    with Receiver() as receiver:
        result = run(receiver.endpoint, free_port(), tmp_path)
        spans = receiver.wait_for(lambda s: s, timeout=10)
    assert result["same"] is True
    assert result["warnings"] == [
        "obskit.instrument.configure() was already called; keeping the first setup"
    ]
    assert result["problems"] == []
    assert {"flask", "requests", "sqlite3", "threading", "logging"} <= set(result["instrumented"])
    assert len(result["metrics"]) == 1 and 'http_route="/orders/<int:n>"' in result["metrics"][0]
    # (with obskit[instrument-all], the urllib call for /metrics is traced too: a CLIENT span)
    served = [(s["service"], s["name"]) for s in spans if s["kind"] == "SERVER"]
    assert served == [("orders", "GET /orders/<int:n>")]


def test_a_busy_metrics_port_does_not_take_the_service_down(tmp_path) -> None:
    with Receiver() as receiver, socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run(receiver.endpoint, port, tmp_path)
        spans = receiver.wait_for(lambda s: s, timeout=10)
    assert result["problems"] == [
        f"metrics are off: metrics port {port} is already in use on 127.0.0.1 "
        "(stop what listens there or pass --metrics-port with a free port)"
    ]
    assert result["metrics"] == []
    assert [s["kind"] for s in spans if s["kind"] == "SERVER"] == ["SERVER"]  # traces still work
