"""How fast can any Python OTLP receiver ingest on this machine? `bench/peers.py`'s load against
servers that do less and less, beside `obskit serve` and Jaeger v2, in one run.

    .venv/bin/python bench/ingest_floor.py [--spans 50000] [--rounds 3] [--senders 8]
                                           [--protocols grpc,http]
                                           [--backends noop,parse,log,obskit,jaeger-memory,jaeger-badger]

The floors are Python servers in grpcio (as `obskit serve` is) and waitress (its HTTP server),
each a step short of a real store:

- ``noop``: acknowledges every export without reading it;
- ``parse``: parses the request (upb, C), the least a receiver that validates must do;
- ``log``: parses it, notes its trace ids, appends it to a log and acknowledges after the
  log's fdatasync (group commit), the least a durable receiver must do.

The client is the one `bench/peers.py` uses (SENDERS threads sending pre-built 100-span
requests) and shares the machine's cores with the server, as it does there. Each backend gets
a warm-up, then ROUNDS rounds of SPANS spans per protocol; the figure is the median round.
Ratios are to Jaeger's memory storage and to the ``noop`` floor, both measured in this run.
Spans lost are not checked here (the floors keep nothing to query): `bench/peers.py` checks them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import (
    SPANS_PER_TRACE,
    Backend,
    Requests,
    _stop,
    _wait,
    free_port,
    ingest,
    jaeger,
    jaeger_binary,
    obskit_serve,
)

FLOORS = ("noop", "parse", "log")
SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"
THREADS = 4  # obskit serve's default for each of its servers


# -- the floor servers (run in a child process: `ingest_floor.py --serve MODE GRPC HTTP LOG`) --


class Log:
    """Records appended to one file; ``append`` returns once an fdatasync covers them. The
    first writer to find no sync in flight syncs for everyone queued behind it (group commit
    without a thread of its own)."""

    def __init__(self, path: Path) -> None:
        self.file = path.open("ab")
        self.lock = threading.Lock()
        self.sync_lock = threading.Lock()
        self.written = self.synced = 0
        self.trace_offsets: dict[bytes, list[int]] = {}

    def append(self, record: bytes, trace_ids: set[bytes]) -> None:
        with self.lock:
            offset = self.file.tell()
            self.file.write(len(record).to_bytes(4, "little") + record)
            for trace_id in trace_ids:
                self.trace_offsets.setdefault(trace_id, []).append(offset)
            self.written += 1
            mine = self.written
        with self.sync_lock:
            if self.synced >= mine:
                return  # a sync that started after our write covered it
            with self.lock:
                target = self.written
                self.file.flush()
            os.fdatasync(self.file.fileno())
            self.synced = target


def floor_handler(mode: str, log: Log) -> Callable[[bytes], None]:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    def export(body: bytes) -> None:
        if mode == "noop":
            return
        request = ExportTraceServiceRequest.FromString(body)
        if mode == "parse":
            return
        trace_ids = {
            span.trace_id
            for resource in request.resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        }
        log.append(body, trace_ids)

    return export


def serve_floor(mode: str, grpc_port: int, http_port: int, log_path: Path) -> None:
    import grpc
    from waitress import serve

    export = floor_handler(mode, Log(log_path))

    def grpc_export(body: bytes, context: object) -> bytes:
        export(body)
        return b""

    def wsgi(environ: dict, start_response: Callable[..., object]) -> list[bytes]:
        if environ["REQUEST_METHOD"] == "POST":  # a GET is the readiness probe
            export(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
        start_response("200 OK", [("Content-Type", "application/x-protobuf")])
        return [b""]

    server = grpc.server(
        ThreadPoolExecutor(max_workers=THREADS),
        handlers=[
            grpc.method_handlers_generic_handler(
                SERVICE, {"Export": grpc.unary_unary_rpc_method_handler(grpc_export)}
            )
        ],
        options=[("grpc.so_reuseport", 0)],
    )
    server.add_insecure_port(f"127.0.0.1:{grpc_port}")
    server.start()
    serve(wsgi, host="127.0.0.1", port=http_port, threads=THREADS, _quiet=True)


@contextmanager
def floor(workdir: Path, mode: str) -> Iterator[Backend]:
    grpc_port, http_port = free_port(), free_port()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", mode, str(grpc_port), str(http_port),
         str(workdir / f"{mode}.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    http = f"http://127.0.0.1:{http_port}"
    try:
        _wait(f"{http}/ready", proc)
        yield Backend(mode, proc, f"127.0.0.1:{grpc_port}", http, http, workdir)
    finally:
        _stop(proc)


# -- the run ----------------------------------------------------------------------------------


def measure(backend: Backend, args: argparse.Namespace, requests_: Requests) -> dict:
    row: dict = {"name": backend.name}
    for protocol in args.protocols.split(","):
        ingest(backend, protocol, requests_.bodies(50), args.senders)  # warm up
        rounds = []
        for _ in range(args.rounds):
            result = ingest(
                backend, protocol, requests_.bodies(args.spans // SPANS_PER_TRACE), args.senders
            )
            rounds.append((result.spans_per_s, result.p99_ms, result.refused))
        rounds.sort()
        row[protocol] = rounds[len(rounds) // 2]
        print(
            f"  {backend.name} {protocol}: "
            + ", ".join(f"{r[0]:,.0f}" for r in rounds)
            + f" spans/s; median round's export p99 {row[protocol][1]:.1f} ms",
            flush=True,
        )
    return row


def report(rows: list[dict], args: argparse.Namespace) -> None:
    by_name = {row["name"]: row for row in rows}
    for protocol in args.protocols.split(","):
        print(f"\n{protocol}: spans/s (median of {args.rounds} rounds), export p99")
        print(f"  {'':15}{'spans/s':>10}{'p99 ms':>9}{'× jaeger-memory':>17}{'× noop':>9}")
        for row in rows:
            spans_per_s, p99, refused = row[protocol]
            ratios = []
            for base in ("jaeger-memory", "noop"):
                peer = by_name.get(base)
                ratios.append(f"{spans_per_s / peer[protocol][0]:.2f}" if peer else "-")
            note = f"  ({refused} refused, retried)" if refused else ""
            print(
                f"  {row['name']:15}{spans_per_s:>10,.0f}{p99:>9.1f}"
                f"{ratios[0]:>17}{ratios[1]:>9}{note}"
            )


def main() -> None:
    if sys.argv[1:2] == ["--serve"]:
        mode, grpc_port, http_port, log_path = sys.argv[2:6]
        serve_floor(mode, int(grpc_port), int(http_port), Path(log_path))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=50_000, help="per round and protocol")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--protocols", default="grpc,http")
    parser.add_argument("--backends", default="noop,parse,log,obskit,jaeger-memory,jaeger-badger")
    args = parser.parse_args()
    wanted = args.backends.split(",")
    unknown = set(wanted) - {*FLOORS, "obskit", "jaeger-memory", "jaeger-badger"}
    if unknown:
        parser.error(f"unknown backends: {', '.join(sorted(unknown))}")
    if jaeger_binary() is None and any(w.startswith("jaeger") for w in wanted):
        print("jaeger not built (tests/stack/peers/build jaeger): leaving it out", file=sys.stderr)
        wanted = [w for w in wanted if not w.startswith("jaeger")]
    requests_ = Requests()
    rows = []
    with tempfile.TemporaryDirectory(prefix="obskit-floor-") as tmp:
        for turn, name in enumerate(wanted):
            workdir = Path(tmp) / f"{turn}-{name}"  # a backend may be asked for twice
            workdir.mkdir()
            if name in FLOORS:
                starter = floor(workdir, name)
            elif name == "obskit":
                starter = obskit_serve(workdir)
            else:
                starter = jaeger(workdir, name.removeprefix("jaeger-"))
            print(f"{name}:", flush=True)
            with starter as backend:
                rows.append(measure(backend, args, requests_))
    report(rows, args)


if __name__ == "__main__":
    main()
