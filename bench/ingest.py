"""Benchmark `obskit serve`: ingest throughput from several exporting processes, export
latency, spans lost, then get-trace and search latency.

    .venv/bin/python bench/ingest.py [--seconds 10] [--processes 4] [--rate 20000]

Phases:
1. rated load: PROCESSES exporters share RATE spans/s (real OTel SDK exporter, batches of 512);
   prints sustained spans/s, p50/p99 export latency, spans lost (acknowledged but not stored).
2. overload: the same exporters unthrottled, with a small server queue; prints how many
   exports were shed with 503 and whether the SDK's retries delivered every span.
3. get-trace latency for a 10,000-span trace (target 200 ms), search latency over 1M stored
   spans (target 500 ms); medians of several runs, with the ratio to GET /health in the same
   run as a baseline.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.serve.conftest import start_serve

BATCH = 512


def make_batch(service: str) -> list:
    """BATCH finished SDK spans: one root and its children, like a busy service's batch."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
    from opentelemetry.trace import SpanKind

    collected: list = []

    class Collect(SpanExporter):
        def export(self, spans):  # type: ignore[no-untyped-def]  # the SDK's signature
            collected.extend(spans)
            return SpanExportResult.SUCCESS

    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(Collect()))
    tracer = provider.get_tracer("bench")
    while len(collected) < BATCH:
        with tracer.start_as_current_span("POST /checkout", kind=SpanKind.SERVER):
            for i in range(15):
                with tracer.start_as_current_span(f"call-{i}", kind=SpanKind.CLIENT) as span:
                    span.set_attribute("server.address", "inventory")
                    span.set_attribute("http.request.method", "GET")
    return collected[:BATCH]


class WireExporter:
    """Sends one SDK-encoded batch again and again as real OTLP/HTTP requests, with fresh trace
    ids and current timestamps each time, as a live service's exporter would (re-sending the
    same start times would pile every batch onto the same spots of the time indexes). The SDK
    spends ~30 µs of CPU per span encoding (measured below); on a 2-core machine that would
    compete with the server this phase measures, so it is done once."""

    def __init__(self, endpoint: str, batch: list) -> None:
        from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

        self.url = f"{endpoint}/v1/traces"
        self.request = encode_spans(batch)
        self.spans = [
            span
            for resource_spans in self.request.resource_spans
            for scope_spans in resource_spans.scope_spans
            for span in scope_spans.spans
        ]
        self.first_start = min(span.start_time_unix_nano for span in self.spans)
        self.session = requests.Session()

    def export(self) -> bool:
        fresh: dict[bytes, bytes] = {}
        shift = time.time_ns() - self.first_start
        self.first_start += shift
        for span in self.spans:
            span.trace_id = fresh.setdefault(span.trace_id, os.urandom(16))
            span.start_time_unix_nano += shift
            span.end_time_unix_nano += shift
        response = self.session.post(
            self.url,
            data=self.request.SerializeToString(),
            headers={"Content-Type": "application/x-protobuf"},
            timeout=30,
        )
        return response.status_code == 200


def exporter_process(endpoint: str, rate: float, seconds: float, wire: bool, out: mp.Queue) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SpanExportResult

    batch = make_batch(f"svc-{os.getpid()}")
    if wire:
        export = WireExporter(endpoint, batch).export
    else:
        sdk = OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces", timeout=30)

        def export() -> bool:
            return sdk.export(batch) is SpanExportResult.SUCCESS

    latencies, ok_spans, failed_spans = [], 0, 0
    interval = BATCH / rate if rate else 0.0
    start = time.perf_counter()
    next_send = start
    cpu = time.process_time()
    while time.perf_counter() - start < seconds:
        if interval:
            delay = next_send - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            next_send += interval
        t0 = time.perf_counter()
        delivered = export()
        latencies.append(time.perf_counter() - t0)
        if delivered:
            ok_spans += BATCH
        else:
            failed_spans += BATCH
    out.put((ok_spans, failed_spans, latencies, time.perf_counter() - start,
             time.process_time() - cpu))  # fmt: skip


def span_count(query: str) -> float:
    text = requests.get(f"{query}/metrics", timeout=10).text
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def run_load(
    endpoint: str, query: str, processes: int, rate: float, seconds: float, *, wire: bool = True
) -> dict:
    before = span_count(query)
    out: mp.Queue = mp.Queue()
    workers = [
        mp.Process(
            target=exporter_process,
            args=(endpoint, rate / processes if rate else 0, seconds, wire, out),
        )
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    results = [out.get() for _ in workers]
    for worker in workers:
        worker.join()
    after = span_count(query)
    ok = sum(r[0] for r in results)
    failed = sum(r[1] for r in results)
    latencies = sorted(lat for r in results for lat in r[2])
    elapsed = max(r[3] for r in results)
    stored = after["obskit_serve_spans_stored_total"] - before.get(
        "obskit_serve_spans_stored_total", 0
    )
    shed = sum(
        v for k, v in after.items() if k.startswith("obskit_serve_spans_refused_total")
    ) - sum(v for k, v in before.items() if k.startswith("obskit_serve_spans_refused_total"))
    return {
        "acknowledged": ok,
        "failed": failed,
        "stored": int(stored),
        "lost": int(ok - stored) if ok > stored else 0,
        "spans_per_s": stored / elapsed,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "shed_requests": int(shed),
        "client_cpu_s": sum(r[4] for r in results),
    }


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_pids(pid: int) -> list[int]:
    """The server's decode workers (and multiprocessing's helper), from /proc."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def sdk_encode_us() -> float:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    batch = make_batch("encode")
    samples = []
    for _ in range(5):
        t0 = time.process_time()
        encode_spans(batch).SerializeToString()
        samples.append((time.process_time() - t0) / len(batch) * 1e6)
    return statistics.median(samples)


def timed(url: str, params: dict | None = None, runs: int = 7) -> float:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        response = requests.get(url, params=params, timeout=60)
        samples.append(time.perf_counter() - t0)
        response.raise_for_status()
    return statistics.median(samples)


def load_million(data_dir: Path, total: int) -> None:
    """Fill the store directly (the HTTP path was measured above): `total` spans in traces of
    20 spans over 12 services and the last 24 hours."""
    from obskit.model import Reference, RefType, Span, SpanKind
    from obskit.serve.store import SpanStore

    store = SpanStore(data_dir, max_age_s=None, max_bytes=None, max_pending_spans=10**9)
    now = time.time_ns()
    chunk: list[Span] = []
    for t in range(total // 20):
        trace_id = f"{t:032x}"
        start = now - (total // 20 - t) * (86_400 * 10**9 // (total // 20))
        service = f"svc{t % 12:02d}"
        for i in range(20):
            chunk.append(
                Span(
                    trace_id=trace_id,
                    span_id=f"{i + 1:016x}",
                    name="GET /item" if i else "POST /checkout",
                    service=service if i < 10 else f"svc{(t + 1) % 12:02d}",
                    start_ns=start + i * 1000,
                    end_ns=start + i * 1000 + (i + 1) * 1_000_000,
                    kind=SpanKind.SERVER if i in (0, 10) else SpanKind.CLIENT,
                    references=()
                    if i == 0
                    else (Reference(RefType.CHILD_OF, trace_id, f"{1:016x}"),),
                    attributes={
                        "http.route": "/checkout",
                        "http.response.status_code": 200 + (t % 5 == 0) * 300,
                    },
                )
            )
        if len(chunk) >= 20_000:
            store.write(chunk)
            chunk = []
    store.write(chunk)
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--rate", type=float, default=20_000)
    parser.add_argument("--search-spans", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--decode-workers", default=None,
                        help="passed to obskit serve (default: its own default)")  # fmt: skip
    args = parser.parse_args()

    print(f"client side: the OTel SDK encodes a span in {sdk_encode_us():.0f} µs of CPU "
          "(done once per batch in the wire phases, every time in the SDK phase)")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        workers = () if args.decode_workers is None else ("--decode-workers", args.decode_workers)
        serve = start_serve(Path(tmp) / "rated", *workers)
        otlp, query = serve.otlp, serve.query
        try:
            runs = []
            for _ in range(args.runs):
                pids = [serve.proc.pid, *child_pids(serve.proc.pid)]
                cpu0 = [process_cpu_s(pid) for pid in pids]
                result = run_load(otlp, query, args.processes, args.rate, args.seconds)
                cpu = [process_cpu_s(pid) - before for pid, before in zip(pids, cpu0, strict=True)]
                stored = max(result["stored"], 1)
                result["server_us_per_span"] = 1e6 * cpu[0] / stored
                result["workers_us_per_span"] = 1e6 * sum(cpu[1:]) / stored
                result["clients_us_per_span"] = 1e6 * result["client_cpu_s"] / stored
                runs.append(result)
            rated = sorted(runs, key=lambda r: r["spans_per_s"])[len(runs) // 2]
            print(
                f"rated load ({args.rate:.0f} spans/s asked from {args.processes} processes, "
                f"{args.seconds:.0f} s, median of {args.runs} runs):"
            )
            print(
                f"  sustained {rated['spans_per_s']:.0f} spans/s stored "
                f"({rated['spans_per_s'] / args.rate:.2f} of the target); export p50 "
                f"{rated['p50_ms']:.1f} ms, p99 {rated['p99_ms']:.1f} ms; acknowledged "
                f"{rated['acknowledged']}, stored {rated['stored']}, lost {rated['lost']}, "
                f"failed exports {rated['failed']}, shed {rated['shed_requests']}"
            )
            print(f"  CPU per stored span: server {rated['server_us_per_span']:.1f} µs, "
                  f"its decode workers {rated['workers_us_per_span']:.1f} µs, exporting clients "
                  f"{rated['clients_us_per_span']:.1f} µs")  # fmt: skip
            flat = run_load(otlp, query, args.processes, 0, args.seconds)
            print(f"unthrottled ({args.processes} processes): {flat['spans_per_s']:.0f} spans/s "
                  f"stored; p99 {flat['p99_ms']:.1f} ms; lost {flat['lost']}; "
                  f"shed {flat['shed_requests']}")  # fmt: skip
        finally:
            serve.stop()

        # Overload: real SDK exporters, unthrottled, against a small queue: the server sheds
        # with 503 + Retry-After and the SDK's retries deliver.
        serve = start_serve(Path(tmp) / "overload", "--max-pending-spans", "600")
        otlp, query = serve.otlp, serve.query
        try:
            over = run_load(otlp, query, args.processes * 2, 0, args.seconds, wire=False)
            print(f"overload ({args.processes * 2} SDK exporters, unthrottled): "
                  f"{over['spans_per_s']:.0f} spans/s; shed {over['shed_requests']} requests with "
                  f"503; acknowledged {over['acknowledged']}, stored {over['stored']}, lost "
                  f"{over['lost']}, failed exports {over['failed']}")  # fmt: skip
        finally:
            serve.stop()

        # A 10,000-span trace.
        from tests.serve.payloads import export_request

        serve = start_serve(Path(tmp) / "big")
        otlp, query = serve.otlp, serve.query
        try:
            body, trace_id = export_request(spans=10_000)
            requests.post(
                f"{otlp}/v1/traces",
                data=body,
                headers={"Content-Type": "application/x-protobuf"},
                timeout=60,
            ).raise_for_status()
            base = timed(f"{query}/health")
            get = timed(f"{query}/api/traces/{trace_id}")
            print(
                f"get-trace, 10,000 spans: median {1000 * get:.0f} ms (target 200 ms); "
                f"GET /health {1000 * base:.2f} ms"
            )
        finally:
            serve.stop()

        # Search over 1M stored spans.
        data = Path(tmp) / "million"
        t0 = time.perf_counter()
        load_million(data, args.search_spans)
        load_s = time.perf_counter() - t0
        serve = start_serve(data, "--retention", "0", "--max-size", "0")
        otlp, query = serve.otlp, serve.query
        try:
            now_us = time.time_ns() // 1000
            searches = {
                "service, last 24h, limit 20": {
                    "service": "svc03",
                    "start": now_us - 86_400_000_000,
                    "limit": 20,
                },
                "service+operation+minDuration": {
                    "service": "svc05",
                    "operation": "POST /checkout",
                    "minDuration": "15ms",
                    "limit": 20,
                },
                "service+tag": {
                    "service": "svc07",
                    "tags": '{"http.response.status_code":"500"}',
                    "limit": 20,
                },
                "rare: tag that never matches": {
                    "service": "svc07",
                    "tags": '{"http.route":"/none"}',
                    "limit": 20,
                },
            }
            print(f"search over {args.search_spans:,} stored spans (loaded in {load_s:.1f} s):")
            for name, params in searches.items():
                print(
                    f"  {name}: median {1000 * timed(f'{query}/api/traces', params, runs=5):.0f} ms (target 500 ms)"
                )
        finally:
            serve.stop()


if __name__ == "__main__":
    main()
