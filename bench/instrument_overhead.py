"""What `obskit instrument` costs a demo service: throughput and latency with and without
instrumentation, under the same load, in the same run, for three cases:

* pricing ``GET /quote`` as the demo runs it: its simulated rules engine waits 15 ms, as a
  service waiting on its own work or I/O does;
* the same endpoint with the rules engine set to 0 ms: an empty handler, the worst case (all
  the cost is the request path the instrumentation wraps: about 0.8 ms of CPU per request in
  OpenTelemetry's Flask/WSGI instrumentation, span export and metrics);
* inventory ``GET /stock``: a SQLite query per request (one more span, for the database);
* a FastAPI app on uvicorn (tests/instrument/stacks/fastapi/fa.py): ``GET /hello``, an empty
  async handler, and ``GET /chain``, which calls ``/hello`` of the same app with httpx (two
  server spans and a client span per request, context propagated).

* throughput: CONCURRENCY keep-alive clients send requests back to back for SECONDS;
* latency: one client, requests one after another (no queueing), p50 and p99.

Instrumented means: spans exported over OTLP/HTTP (gzip) to a sink on loopback that accepts
and drops them, metrics on the Prometheus endpoint, log correlation, the stable HTTP semconv;
exactly what `python -m demo_services` runs. Runs alternate between the two variants and the
script prints medians over RUNS runs. Targets: throughput >= 85 % of uninstrumented, added
p50 <= 1 ms.

    .venv/bin/python bench/instrument_overhead.py [RUNS] [SECONDS] [TARGET-SUBSTRING]
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FASTAPI_DIR = REPO / "tests" / "instrument" / "stacks" / "fastapi"
DEMO = ("-m", "demo_services.{module}")
UVICORN = ("-m", "uvicorn", "fa:app", "--host", "127.0.0.1", "--port", "{port}",
           "--log-level", "warning")  # fmt: skip
# label -> (service, python arguments, working directory, path, extra environment)
TARGETS = {
    "pricing as the demo runs it (15 ms rules engine)": (
        "pricing", DEMO, REPO, "/quote?sku=tea&qty=2", {},
    ),
    "pricing with an empty handler (worst case)": (
        "pricing", DEMO, REPO, "/quote?sku=tea&qty=2", {"DEMO_PRICING_RULES_MS": "0"},
    ),
    "inventory (a SQLite query)": ("inventory", DEMO, REPO, "/stock", {}),
    "FastAPI on uvicorn, empty async handler": ("fa", UVICORN, FASTAPI_DIR, "/hello", {}),
    "FastAPI on uvicorn calling itself with httpx": ("fa", UVICORN, FASTAPI_DIR, "/chain", {}),
}  # fmt: skip
CONCURRENCY = 8
LATENCY_REQUESTS = 1500


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Sink(BaseHTTPRequestHandler):
    """An OTLP/HTTP endpoint that accepts everything and keeps nothing."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def start_service(
    name: str, instrumented: bool, sink: str
) -> tuple[subprocess.Popen[bytes], int, str]:
    service, arguments, cwd, path, extra_env = TARGETS[name]
    port = free_port()
    app = [sys.executable, *(a.format(module=service, port=port) for a in arguments)]
    cmd = app
    if instrumented:
        cmd = [sys.executable, "-m", "obskit", "instrument", "--service-name", service,
               "--endpoint", sink, "--metrics-port", str(free_port()), "--", *app]  # fmt: skip
    env = {**os.environ, "DEMO_PORT": str(port), "APP_PORT": str(port), "OBSKIT_SPEC": "",
           **extra_env}  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    health = "/hello" if cwd == FASTAPI_DIR else "/healthz"
    deadline = time.monotonic() + 180  # a loaded machine: importing FastAPI alone takes seconds
    while True:
        try:
            one_request(http.client.HTTPConnection("127.0.0.1", port, timeout=5), health)
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit(f"the {name} service did not start") from None
            time.sleep(0.1)
    for _ in range(200):  # warm up: first requests import and compile lazily
        one_request(http.client.HTTPConnection("127.0.0.1", port, timeout=5), path)
    return proc, port, path


def one_request(conn: http.client.HTTPConnection, path: str) -> None:
    conn.request("GET", path)
    resp = conn.getresponse()
    resp.read()
    if resp.status != 200:
        raise OSError(f"status {resp.status}")


def throughput(port: int, path: str, seconds: float) -> float:
    counts = [0] * CONCURRENCY
    stop = time.monotonic() + seconds

    def client(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.monotonic() < stop:
            one_request(conn, path)
            counts[i] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CONCURRENCY)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.monotonic() - start)


def latency(port: int, path: str) -> tuple[float, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    samples = []
    for _ in range(LATENCY_REQUESTS):
        t0 = time.perf_counter()
        one_request(conn, path)
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return samples[len(samples) // 2], samples[int(len(samples) * 0.99)]


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def measure(name: str, runs: int, seconds: float, sink_url: str) -> None:
    results: dict[bool, dict[str, list[float]]] = {
        v: {"rps": [], "p50": [], "p99": []} for v in (False, True)
    }
    print(f"{name}, GET {TARGETS[name][3]}: {runs} runs, {seconds:g} s at concurrency "
          f"{CONCURRENCY}, {LATENCY_REQUESTS} sequential requests for latency")  # fmt: skip
    for run in range(runs):
        for instrumented in (False, True) if run % 2 == 0 else (True, False):
            proc, port, path = start_service(name, instrumented, sink_url)
            try:
                rps = throughput(port, path, seconds)
                p50, p99 = latency(port, path)
            finally:
                stop(proc)
            figures = results[instrumented]
            figures["rps"].append(rps)
            figures["p50"].append(p50)
            figures["p99"].append(p99)
            label = "instrumented  " if instrumented else "uninstrumented"
            print(f"  run {run + 1} {label} {rps:7.0f} req/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms")
    med = {v: {k: statistics.median(xs) for k, xs in figs.items()} for v, figs in results.items()}
    base, inst = med[False], med[True]
    ratio = inst["rps"] / base["rps"]
    added = inst["p50"] - base["p50"]
    print(f"  {'':16}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}   (medians of {runs})")
    print(f"  {'uninstrumented':16}{base['rps']:9.0f}{base['p50']:9.2f}{base['p99']:9.2f}")
    print(f"  {'instrumented':16}{inst['rps']:9.0f}{inst['p50']:9.2f}{inst['p99']:9.2f}")
    print(f"  throughput ratio {ratio:.1%} (target >= 85 %): {'ok' if ratio >= 0.85 else 'MISSED'}")
    print(f"  added p50 {added:.2f} ms (target <= 1 ms): {'ok' if added <= 1 else 'MISSED'}")
    print()


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 4.0
    wanted = sys.argv[3] if len(sys.argv) > 3 else ""
    sink = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    sink_url = f"http://127.0.0.1:{sink.server_address[1]}"
    try:
        for name in TARGETS:
            if wanted in name:
                measure(name, runs, seconds, sink_url)
    finally:
        sink.shutdown()


if __name__ == "__main__":
    main()
