"""Benchmark aggregate mode over a JSON Lines file: traces/s and peak RSS, per trace count.

    .venv/bin/python bench/aggregate.py [--sizes 1000,10000,100000] [--spans 50] [--runs 3]

For each size a JSON Lines file of OTLP traces (one trace per line, ``--spans`` spans each:
a service call tree over 5 services, half of the calls CLIENT → SERVER pairs) is written
once; then, each in a fresh subprocess and ``--runs`` times:

* parse: ``orjson.loads`` of every line, streamed (the baseline: JSON parsing alone);
* aggregate: ``obskit.ingest.read_traces(path, window=500)`` (streaming, bounded memory)
  → ``sample_trace`` → ``Aggregator`` → the report; what ``obskit analyze --service S --file
  F`` does minus rendering.

Printed per size: medians of traces/s for both, their ratio, µs per trace (flat cost per trace
means the µs column does not grow with the size), and the aggregate process's peak RSS
(``ru_maxrss``). Target (2-core CI machine): >= 2,000 traces/s of 50 spans, flat per trace,
peak RSS independent of the file size (streaming).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SERVICES = ("frontend", "checkout", "inventory", "pricing", "payments")
BASE = 1_700_000_000_000_000_000


def write_corpus(path: Path, traces: int, spans: int, seed: int = 7) -> int:
    """One OTLP ``TracesData`` per line; returns the file size. Built as text directly
    (the model and writer would make generation slower than the benchmark)."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as out:
        for t in range(traces):
            trace_id = f"{t + 1:032x}"
            t0 = BASE + t * 10**10
            starts, ends, services = [t0], [t0 + 10**9], [0]
            by_service: dict[int, list[str]] = {}
            for i in range(spans):
                if i == 0:
                    parent, start, end, svc, kind = -1, starts[0], ends[0], 0, 2
                else:
                    parent = rng.randrange(i)
                    ps, pe = starts[parent], ends[parent]
                    start = rng.randint(ps, ps + (pe - ps) // 2)
                    end = rng.randint(start, pe)
                    client = rng.random() < 0.5
                    svc = services[parent] if client else rng.randrange(len(SERVICES))
                    kind = 3 if client else (2 if svc != services[parent] else 1)
                    starts.append(start)
                    ends.append(end)
                    services.append(svc)
                pid = f'"{parent + 1:016x}"' if parent >= 0 else '""'
                by_service.setdefault(svc, []).append(
                    f'{{"traceId":"{trace_id}","spanId":"{i + 1:016x}","parentSpanId":{pid},'
                    f'"name":"op-{i % 7}","kind":{kind},"startTimeUnixNano":"{start}",'
                    f'"endTimeUnixNano":"{end}","attributes":[{{"key":"http.request.method",'
                    f'"value":{{"stringValue":"GET"}}}},{{"key":"server.address",'
                    f'"value":{{"stringValue":"db-{i % 3}"}}}}],"status":{{}}}}'
                )
            resources = ",".join(
                '{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"'
                + SERVICES[svc]
                + '"}}]},"scopeSpans":[{"scope":{},"spans":['
                + ",".join(items)
                + "]}]}"
                for svc, items in by_service.items()
            )
            out.write('{"resourceSpans":[' + resources + "]}\n")
    return path.stat().st_size


def measure(mode: str, path: str) -> None:
    """In a fresh process: time one pass, print JSON figures."""
    import gc

    import orjson

    started = time.perf_counter()
    if mode == "parse":
        count = 0
        with open(path, "rb") as lines:
            for line in lines:
                orjson.loads(line)
                count += 1
    else:
        from obskit.aggregate.run import consume, new_aggregator
        from obskit.aggregate.sample import Endpoint
        from obskit.aggregate.search import LINE_WINDOW
        from obskit.ingest import read_traces

        aggregator = new_aggregator(Endpoint("frontend"))
        consume(aggregator, read_traces(Path(path), window=LINE_WINDOW))
        report = aggregator.report()
        count = report.traces
    elapsed = time.perf_counter() - started
    gc.collect()
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"traces": count, "seconds": elapsed, "rss_mb": rss_kb / 1024}))


def run_child(mode: str, path: Path) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--measure", mode, str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--spans", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--measure", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(*args.measure)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"aggregate over JSON Lines, {args.spans} spans per trace, medians of {args.runs} runs")
    print(
        f"{'traces':>8} {'file MB':>8} {'parse/s':>9} {'obskit/s':>9} {'ratio':>6} "
        f"{'µs/trace':>9} {'peak RSS MB':>12} {'parse RSS MB':>13}"
    )
    with tempfile.TemporaryDirectory(prefix="obskit-bench-agg-") as tmp:
        for size in sizes:
            path = Path(tmp) / f"traces-{size}.jsonl"
            megabytes = write_corpus(path, size, args.spans) / 2**20
            parse, agg = [], []
            for _ in range(args.runs):  # interleaved, so load changes hit both alike
                parse.append(run_child("parse", path))
                agg.append(run_child("aggregate", path))
            assert all(a["traces"] == size for a in agg), agg
            parse_rate = statistics.median(size / p["seconds"] for p in parse)
            agg_rate = statistics.median(size / a["seconds"] for a in agg)
            print(
                f"{size:>8} {megabytes:>8.1f} {parse_rate:>9.0f} {agg_rate:>9.0f} "
                f"{parse_rate / agg_rate:>6.2f} {1e6 / agg_rate:>9.0f} "
                f"{statistics.median(a['rss_mb'] for a in agg):>12.0f} "
                f"{statistics.median(p['rss_mb'] for p in parse):>13.0f}"
            )
            path.unlink()
    print(
        "target: >= 2000 traces/s of 50 spans on the 2-core CI machine; µs/trace and peak "
        "RSS flat across sizes"
    )


if __name__ == "__main__":
    main()
