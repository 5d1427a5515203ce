"""`obskit serve` against Jaeger v2 (memory and Badger storage), the same load, in one run.

    .venv/bin/python bench/peers.py [--load-spans 100000] [--search-spans 1000000]
                                    [--senders 8] [--backends obskit,jaeger-memory,jaeger-badger]

Jaeger is the pinned all-in-one from ``${OBSKIT_SERVERS_CACHE:-~/.cache/obskit/servers}``
(built by tests/stack/peers/build), or its stand-in where the pinned version cannot be built
here (the run says which); without it only obskit runs. Every
backend gets the same pre-built OTLP requests (one 100-span trace per request, 5 services,
each trace 1 ms after the one before), sent as raw bytes by SENDERS threads, so the client
costs the same for each. Per backend:

1. ingest over OTLP/gRPC, then OTLP/HTTP, after a warm-up of WARM_UP traces over each:
   LOAD_SPANS spans each, as fast as it answers; sustained spans/s, export p50/p99, and spans
   lost (acknowledged but not returned by GET /api/traces/{id} afterwards: every trace is
   checked);
2. fill to SEARCH_SPANS stored spans (over gRPC), and the spans/s of that fill;
3. get-trace latency of a 1,000- and a 10,000-span trace (GET /api/traces/{id});
4. search latency over everything stored: service; service + operation; service + tag;
5. RSS of the server's processes (idle, loaded, growth per million stored spans) and its data
   on disk per million stored spans.

Ratios are obskit / Jaeger, on memory storage and on Badger storage: below 1 means obskit is
faster or smaller for latencies and sizes; above 1 means obskit ingests more for spans/s.
Medians of several runs for latencies. Note the promise differs: obskit acknowledges an export
once it is committed to disk; Jaeger acknowledges once its pipeline took it (memory storage
keeps nothing across a restart). `bench/ingest_floor.py` shows how fast any Python receiver can
ingest here.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SPANS_PER_TRACE = 100
WARM_UP = 20  # traces per protocol, sent before anything is measured
SERVICES = 5
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
PROTO = {"Content-Type": "application/x-protobuf"}


def jaeger_binary() -> Path | None:
    from obskit.stack.servers import cached_binary

    return cached_binary("jaeger", stand_in=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- requests ---------------------------------------------------------------------------------


def trace_request(
    trace_id: bytes,
    service: int,
    spans: int = SPANS_PER_TRACE,
    first: int = 0,
    base: int | None = None,
) -> bytes:
    """One trace (or a part of one: span ids from ``first``) as an ExportTraceServiceRequest:
    a SERVER root in svc-N and CLIENT/SERVER/INTERNAL children, attributes like the SDK's."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
    from opentelemetry.proto.trace.v1.trace_pb2 import Span

    def kv(key: str, value: str | int) -> KeyValue:
        if isinstance(value, int):
            return KeyValue(key=key, value=AnyValue(int_value=value))
        return KeyValue(key=key, value=AnyValue(string_value=value))

    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend(
        [kv("service.name", f"svc-{service}"), kv("service.version", "1.4.2"),
         kv("telemetry.sdk.language", "python"), kv("host.name", f"node-{service % 2}")]
    )  # fmt: skip
    scope = resource_spans.scope_spans.add()
    scope.scope.name = "opentelemetry.instrumentation.flask"
    base = time.time_ns() - 60 * 10**9 if base is None else base
    for k in range(first, first + spans):
        span = scope.spans.add()
        span.trace_id = trace_id
        span.span_id = (k + 1).to_bytes(8, "big")
        if k:
            span.parent_span_id = (1 + (k - 1) // 4).to_bytes(8, "big")
        span.name = "GET /checkout" if k == 0 else f"call-{k % 7}"
        span.kind = (Span.SPAN_KIND_SERVER, Span.SPAN_KIND_CLIENT, Span.SPAN_KIND_INTERNAL)[
            0 if k == 0 else 1 + k % 2
        ]
        span.start_time_unix_nano = base + k * 1000
        span.end_time_unix_nano = base + k * 1000 + 500_000
        span.attributes.extend(
            [kv("http.request.method", "GET"), kv("http.route", f"/items/{k % 5}"),
             kv("http.response.status_code", 200), kv("url.path", f"/items/{k}")]
        )  # fmt: skip
    return request.SerializeToString()


class Requests:
    """Pre-built bodies: one template per service, each trace a copy with its own id, its
    spans 1 ms later than the previous trace's, as a service's traffic comes in. (Traces
    sharing their timestamps would make every store insert into the middle of its time
    indexes, which real traffic never does.)"""

    TEMPLATE_ID = b"\xab" * 16
    TRACE_INTERVAL_NS = 1_000_000

    def __init__(self) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        # the first trace an hour ago: every trace sent stays inside the searched window
        base = time.time_ns() - 3600 * 10**9
        self.templates = [
            ExportTraceServiceRequest.FromString(trace_request(self.TEMPLATE_ID, s, base=base))
            for s in range(SERVICES)
        ]
        self.serial = 0

    def bodies(self, count: int) -> list[tuple[str, bytes]]:
        out = []
        for _ in range(count):
            self.serial += 1
            trace_id = os.urandom(8) + self.serial.to_bytes(8, "big")
            request = type(self.templates[0])()
            request.CopyFrom(self.templates[self.serial % SERVICES])
            shift = self.serial * self.TRACE_INTERVAL_NS
            for span in request.resource_spans[0].scope_spans[0].spans:
                span.trace_id = trace_id
                span.start_time_unix_nano += shift
                span.end_time_unix_nano += shift
            out.append((trace_id.hex(), request.SerializeToString()))
        return out


# -- backends ---------------------------------------------------------------------------------


@dataclass
class Backend:
    name: str
    proc: subprocess.Popen[bytes]
    grpc: str
    http: str
    query: str
    data_dir: Path | None

    def rss_mb(self) -> float:
        return sum(_rss_kb(pid) for pid in _tree(self.proc.pid)) / 1024

    def disk_mb(self) -> float | None:
        if self.data_dir is None:
            return None
        total = sum(p.stat().st_size for p in self.data_dir.rglob("*") if p.is_file())
        return total / 1e6


def _tree(pid: int) -> list[int]:
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            pids += _tree(int(child))
    return pids


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _wait(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} not ready after {timeout}s")


@contextmanager
def obskit_serve(workdir: Path) -> Iterator[Backend]:
    grpc, http, query = free_port(), free_port(), free_port()
    data = workdir / "obskit-data"
    proc = subprocess.Popen(
        [sys.executable, "-m", "obskit", "serve", "--grpc-port", str(grpc),
         "--otlp-port", str(http), "--query-port", str(query), "--data-dir", str(data),
         "--max-size", "0", "--retention", "0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    backend = Backend(
        "obskit", proc, f"127.0.0.1:{grpc}", f"http://127.0.0.1:{http}",
        f"http://127.0.0.1:{query}", data,
    )  # fmt: skip
    try:
        _wait(f"{backend.query}/health", proc)
        yield backend
    finally:
        _stop(proc)


def jaeger_config(storage: str, grpc: int, http: int, query: int, data: Path) -> dict:
    """Jaeger v2's all-in-one, reduced to what the bench needs: OTLP in, the query API out,
    one storage, every other port moved off its default (nothing else may be listening)."""
    if storage == "memory":
        backend = {"memory": {"max_traces": 10_000_000}}
    else:
        backend = {
            "badger": {
                "directories": {"keys": str(data / "keys"), "values": str(data / "values")},
                "ephemeral": False,
            }
        }
    return {
        "service": {
            "extensions": ["jaeger_storage", "jaeger_query"],
            "pipelines": {
                "traces": {"receivers": ["otlp"], "exporters": ["jaeger_storage_exporter"]}
            },
            "telemetry": {"metrics": {"level": "none"}, "logs": {"level": "warn"}},
        },
        "extensions": {
            "jaeger_query": {
                "storage": {"traces": "store"},
                "http": {"endpoint": f"127.0.0.1:{query}"},
                "grpc": {"endpoint": f"127.0.0.1:{free_port()}"},
            },
            "jaeger_storage": {"backends": {"store": backend}},
        },
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {"endpoint": f"127.0.0.1:{grpc}"},
                    "http": {"endpoint": f"127.0.0.1:{http}"},
                }
            }
        },
        "exporters": {"jaeger_storage_exporter": {"trace_storage": "store"}},
    }


@contextmanager
def jaeger(workdir: Path, storage: str) -> Iterator[Backend]:
    import yaml

    grpc, http, query = free_port(), free_port(), free_port()
    data = workdir / f"jaeger-{storage}"
    data.mkdir()
    config = workdir / f"jaeger-{storage}.yaml"
    config.write_text(yaml.safe_dump(jaeger_config(storage, grpc, http, query, data)))
    log = (workdir / f"jaeger-{storage}.log").open("wb")
    proc = subprocess.Popen(
        [str(jaeger_binary()), "--config", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    backend = Backend(
        f"jaeger-{storage}", proc, f"127.0.0.1:{grpc}", f"http://127.0.0.1:{http}",
        f"http://127.0.0.1:{query}", data if storage == "badger" else None,
    )  # fmt: skip
    try:
        _wait(f"{backend.query}/api/services", proc)
        yield backend
    finally:
        _stop(proc)
        log.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


# -- load ---------------------------------------------------------------------------------------


@dataclass
class Ingest:
    spans_per_s: float
    p50_ms: float
    p99_ms: float
    acknowledged: list[str]
    refused: int


def ingest(
    backend: Backend, protocol: str, bodies: list[tuple[str, bytes]], senders: int
) -> Ingest:
    """Send every body once (a refused one is retried after a pause, as the SDKs do); the
    spans/s are acknowledged spans over the wall time of the whole send."""
    import grpc

    queue = iter(bodies)
    lock = threading.Lock()
    latencies: list[float] = []
    acknowledged: list[str] = []
    refused = [0]

    def sender() -> None:
        if protocol == "grpc":
            channel = grpc.insecure_channel(backend.grpc)
            call = channel.unary_unary(EXPORT)

            def send(body: bytes) -> bool:
                try:
                    call(body, timeout=30)
                    return True
                except grpc.RpcError:
                    return False
        else:
            session = requests.Session()
            url = f"{backend.http}/v1/traces"

            def send(body: bytes) -> bool:
                try:
                    return session.post(url, data=body, headers=PROTO, timeout=30).ok
                except requests.RequestException:
                    return False

        while True:
            with lock:
                item = next(queue, None)
            if item is None:
                break
            trace_id, body = item
            for _attempt in range(20):
                started = time.perf_counter()
                ok = send(body)
                elapsed = time.perf_counter() - started
                if ok:
                    with lock:
                        latencies.append(elapsed)
                        acknowledged.append(trace_id)
                    break
                with lock:
                    refused[0] += 1
                time.sleep(0.5)

    threads = [threading.Thread(target=sender) for _ in range(senders)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    return Ingest(
        len(acknowledged) * SPANS_PER_TRACE / wall,
        statistics.median(latencies) * 1e3,
        cuts[98] * 1e3,
        acknowledged,
        refused[0],
    )


def stored_spans(backend: Backend, trace_id: str, session: requests.Session) -> int:
    response = session.get(f"{backend.query}/api/traces/{trace_id}", timeout=60)
    if response.status_code != 200:
        return 0
    data = response.json().get("data") or []
    return len(data[0]["spans"]) if data else 0


def lost_spans(backend: Backend, trace_ids: list[str], expected: int = SPANS_PER_TRACE) -> int:
    """Acknowledged spans the query API does not return (waits a little for Jaeger's
    pipeline, which acknowledges before it stores)."""
    lost = 0
    session = requests.Session()
    for trace_id in trace_ids:
        deadline = time.monotonic() + 10
        while True:
            found = stored_spans(backend, trace_id, session)
            if found >= expected or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        lost += max(expected - found, 0)
    return lost


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    """Median and worst of ``runs`` calls, in ms."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1e3)
    return statistics.median(times), max(times)


def big_trace(backend: Backend, spans: int) -> str:
    """Send one trace of ``spans`` spans (in requests of 1,000) and wait until it is whole."""
    import grpc

    trace_id = os.urandom(16)
    with grpc.insecure_channel(backend.grpc) as channel:
        call = channel.unary_unary(EXPORT)
        for first in range(0, spans, 1000):
            call(trace_request(trace_id, 0, min(1000, spans - first), first), timeout=60)
    if lost_spans(backend, [trace_id.hex()], spans):
        raise RuntimeError(f"{backend.name}: the {spans}-span trace is not whole")
    return trace_id.hex()


def measure(backend: Backend, args: argparse.Namespace, requests_: Requests) -> dict:
    row: dict = {"name": backend.name, "rss_idle_mb": backend.rss_mb()}
    traces = args.load_spans // SPANS_PER_TRACE
    warm = 0
    for protocol in ("grpc", "http"):
        # steady state: a server's first requests start its workers, load its code
        warm += len(ingest(backend, protocol, requests_.bodies(WARM_UP), args.senders).acknowledged)
    for protocol in ("grpc", "http"):
        result = ingest(backend, protocol, requests_.bodies(traces), args.senders)
        lost = lost_spans(backend, result.acknowledged)
        row[protocol] = (result.spans_per_s, result.p50_ms, result.p99_ms, lost, result.refused)
        print(
            f"  {backend.name} {protocol}: {result.spans_per_s:,.0f} spans/s, export p50 "
            f"{result.p50_ms:.1f} ms p99 {result.p99_ms:.1f} ms, lost {lost}, "
            f"refused {result.refused}",
            flush=True,
        )
    stored = (2 * traces + warm) * SPANS_PER_TRACE
    fill = max(args.search_spans - stored, 0) // SPANS_PER_TRACE
    started = time.perf_counter()
    for at in range(0, fill, 2000):
        ingest(backend, "grpc", requests_.bodies(min(2000, fill - at)), args.senders)
    took = time.perf_counter() - started
    stored += fill * SPANS_PER_TRACE
    row["fill"] = fill * SPANS_PER_TRACE / took if fill else None
    print(f"  {backend.name}: filled to {stored:,} spans in {took:.0f} s")
    session = requests.Session()
    for size in (1000, 10000):
        trace_id = big_trace(backend, size)
        stored += size
        row[f"get_{size}"] = timed(lambda t=trace_id: stored_spans(backend, t, session), args.runs)
    end_us = time.time_ns() // 1000
    base = {"lookback": "custom", "start": str(end_us - 3 * 3600 * 10**6), "end": str(end_us)}
    searches = {
        "service": {"service": "svc-1", "limit": "20"},
        "operation": {"service": "svc-2", "operation": "call-3", "limit": "20"},
        "tag": {"service": "svc-3", "tags": '{"http.route":"/items/4"}', "limit": "20"},
    }
    for label, params in searches.items():

        def search(params: dict = params) -> None:
            response = session.get(
                f"{backend.query}/api/traces", params={**base, **params}, timeout=120
            )
            response.raise_for_status()
            if not response.json()["data"]:
                raise RuntimeError(f"{backend.name}: search {params} found nothing")

        row[f"search_{label}"] = timed(search, args.runs)
    row["stored"] = stored
    row["rss_mb"] = backend.rss_mb()
    row["disk_mb"] = backend.disk_mb()
    return row


# -- report -------------------------------------------------------------------------------------


def report(rows: list[dict], args: argparse.Namespace) -> None:
    names = [r["name"] for r in rows]
    # obskit against each Jaeger store: memory (the fastest) and Badger (durable, as obskit is)
    bases = [n for n in ("jaeger-memory", "jaeger-badger") if n in names and "obskit" in names]
    print()
    print(
        f"{'':34}"
        + "".join(f"{n:>16}" for n in names)
        + "".join(f"  {'obskit/' + b.removeprefix('jaeger-'):>24}" for b in bases)
    )

    def line(label: str, values: list[float | None], fmt: str, higher_better: bool) -> None:
        cells = "".join(f"{'-' if v is None else format(v, fmt):>16}" for v in values)
        ratios = ""
        mine = values[names.index("obskit")] if bases else None
        for base in bases:
            theirs = values[names.index(base)]
            if mine is None or not theirs:
                ratios += f"  {'-':>24}"
                continue
            r = mine / theirs
            better = r > 1 if higher_better else r < 1
            verdict = "(on a par)" if r == 1 else "(obskit ahead)" if better else "(obskit behind)"
            ratios += f"  {r:>8.2f} {verdict:>15}"
        print(f"{label:34}{cells}{ratios}")

    for protocol in ("grpc", "http"):
        line(f"ingest {protocol} spans/s", [r[protocol][0] for r in rows], ",.0f", True)
        line(f"  export p50 ms ({protocol})", [r[protocol][1] for r in rows], ".1f", False)
        line(f"  export p99 ms ({protocol})", [r[protocol][2] for r in rows], ".1f", False)
        line(f"  spans lost ({protocol})", [r[protocol][3] for r in rows], "d", False)
        line(f"  exports refused, retried ({protocol})", [r[protocol][4] for r in rows], "d", False)
    line("fill to SEARCH_SPANS, gRPC spans/s", [r["fill"] for r in rows], ",.0f", True)
    for size in (1000, 10000):
        line(
            f"get-trace {size:,} spans, median ms",
            [r[f"get_{size}"][0] for r in rows],
            ".1f",
            False,
        )
    for label in ("service", "operation", "tag"):
        line(f"search by {label}, median ms", [r[f"search_{label}"][0] for r in rows], ".1f", False)
    line("stored spans", [r["stored"] for r in rows], ",d", True)
    line("RSS MB, idle", [r["rss_idle_mb"] for r in rows], ".0f", False)
    line("RSS MB, loaded", [r["rss_mb"] for r in rows], ".0f", False)
    line(
        "RSS MB growth per million spans",
        [(r["rss_mb"] - r["rss_idle_mb"]) / (r["stored"] / 1e6) for r in rows],
        ".0f",
        False,
    )
    line(
        "disk MB per million spans",
        [None if r["disk_mb"] is None else r["disk_mb"] / (r["stored"] / 1e6) for r in rows],
        ".0f",
        False,
    )
    print(
        f"\n{args.runs} runs per latency (median); load {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} cores; obskit acknowledges after its commit to disk, Jaeger when its "
        "pipeline took the spans."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--load-spans", type=int, default=100_000, help="per protocol")
    parser.add_argument("--search-spans", type=int, default=1_000_000)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--backends", default="obskit,jaeger-memory,jaeger-badger")
    args = parser.parse_args()
    wanted = args.backends.split(",")
    binary = jaeger_binary()
    if any(w.startswith("jaeger") for w in wanted):
        if binary is None:
            print(
                "jaeger not built (tests/stack/peers/build jaeger): measuring obskit alone",
                file=sys.stderr,
            )
            wanted = [w for w in wanted if not w.startswith("jaeger")]
        else:
            print(f"jaeger: {binary}", flush=True)
    bodies = Requests()
    rows = []
    with tempfile.TemporaryDirectory(prefix="obskit-peers-") as tmp:
        for name in wanted:
            workdir = Path(tmp) / name
            workdir.mkdir()
            starter = obskit_serve(workdir) if name == "obskit" else jaeger(workdir, name[7:])
            print(f"{name}:", flush=True)
            with starter as backend:
                rows.append(measure(backend, args, bodies))
            shutil.rmtree(workdir, ignore_errors=True)
    report(rows, args)


if __name__ == "__main__":
    main()
