"""Benchmark aggregate mode over a JSON Lines file: traces/s and peak RSS, per trace count.

    .venv/bin/python bench/aggregate.py [--sizes 1000,10000,100000] [--spans 50] [--runs 3]
                                        [--workers N] [--dask]

For each size a JSON Lines file of OTLP traces (one trace per line, ``--spans`` spans each:
a service call tree over 5 services, half of the calls CLIENT → SERVER pairs) is written
once; then, each in a fresh subprocess and ``--runs`` times:

* parse: ``orjson.loads`` of every line, streamed (the baseline: JSON parsing alone);
* 1 worker: ``obskit.ingest.read_traces(path, window=500)`` (streaming, bounded memory)
  → ``sample_trace`` → ``Aggregator`` → the report, in one process: what ``obskit analyze
  --service S --file F --workers 1`` does minus rendering (the baseline);
* N workers: the same with ``--workers N`` (default: the CPU count) -- the parent cuts the
  file into whole traces, N worker processes read and analyse them
  (:mod:`obskit.aggregate.pool` over :mod:`obskit.sources.batches`).

With ``--dask`` (needs ``obskit[dask]``) each size compares instead, in the same run and
interleaved, the local pool of N workers (the baseline) with a local Dask cluster -- a
scheduler and N workers (one thread each), each a process of its own, as a real cluster runs
them -- used as ``--scheduler`` uses it (:mod:`obskit.collect_dask`): traces/s of each, Dask's
ratio to the pool, the client's peak RSS (the process that cuts the file and merges), and the
peak RSS of the scheduler and of the largest worker. The cluster is started before the clock (a
real cluster is already running). Target: the client under 300 MB at 1M traces.

Printed per size: medians of traces/s and µs per trace of each (flat cost per trace means the
µs columns do not grow with the size; the clock starts after obskit is imported), the speed-up
of N workers over 1 (measured in the same run, interleaved), parse/s for scale, and peak RSS (``ru_maxrss``): of the one process, and of
the parent and the largest worker. The machine's load average is printed too: on a shared
machine, other work takes cores from the workers. Target (2-core CI machine): >= 2,000
traces/s of 50 spans, flat per trace, peak RSS independent of the file size (streaming).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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

    # imported before the clock starts: a one-off cost (~0.25 s), not a per-trace one
    from obskit.aggregate.run import new_aggregator
    from obskit.aggregate.sample import Endpoint
    from obskit.collect import collect
    from obskit.sources.files import FileSource
    from obskit.sources.query import Query

    cluster: Any = contextlib.nullcontext()
    if mode.startswith("dask:"):
        from obskit.collect import collect_on_dask
        from tests.aggregate.dask_cluster import dask_cluster

        # a scheduler and workers of their own, started before the clock: the client's RSS
        # is then the client's alone (as tests/aggregate/test_dask.py runs them)
        cluster = dask_cluster(int(mode.partition(":")[2]))
    cluster_rss = None
    with cluster as running:
        started = time.perf_counter()
        if running is not None:
            aggregator = new_aggregator(Endpoint("frontend"))
            collect_on_dask(aggregator, FileSource(path), Query("frontend", None, 0, 0, None),
                            scheduler=running.address)  # fmt: skip
            count = aggregator.report().traces
        elif mode == "parse":
            count = 0
            with open(path, "rb") as lines:
                for line in lines:
                    orjson.loads(line)
                    count += 1
        else:
            source = FileSource(path)
            aggregator = new_aggregator(Endpoint("frontend"))
            workers = int(mode.partition(":")[2] or 1)
            collect(aggregator, source, Query("frontend", None, 0, 0, None), workers=workers)
            count = aggregator.report().traces
        elapsed = time.perf_counter() - started
        if running is not None:
            cluster_rss = peak_rss_mb(running)
    gc.collect()
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(
        json.dumps(
            {
                "traces": count,
                "seconds": elapsed,
                "rss_mb": rss_kb / 1024,
                "child_rss_mb": child_kb / 1024,
                **({"cluster_rss_mb": cluster_rss} if cluster_rss is not None else {}),
            }
        )
    )


def peak_rss_mb(cluster: Any) -> dict[str, float]:
    """VmHWM of the scheduler and of the largest worker process (a worker runs under a nanny:
    the largest of its process tree)."""
    import psutil

    def hwm(pid: int) -> float:
        with open(f"/proc/{pid}/status") as status:
            line = next(x for x in status if x.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024

    largest = 0.0
    for worker in cluster.workers:
        tree = [psutil.Process(worker.pid), *psutil.Process(worker.pid).children(True)]
        largest = max(largest, *(hwm(p.pid) for p in tree))
    return {"scheduler": hwm(cluster.scheduler.pid), "worker": largest}


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
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--dask", action="store_true", help="the local pool vs a Dask LocalCluster")
    parser.add_argument(
        "--pool-up-to",
        type=int,
        default=10**9,
        help="with --dask: run the pool baseline only for sizes up to this (1M takes ~20 min)",
    )
    parser.add_argument("--measure", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(*args.measure)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    n = args.workers
    if args.dask:
        dask_table(sizes, args.spans, args.runs, n, pool_up_to=args.pool_up_to)
        return
    print(
        f"aggregate over JSON Lines, {args.spans} spans per trace, medians of {args.runs} runs, "
        f"{os.cpu_count()} CPUs, load average before: {_load()}"
    )
    print(
        f"{'traces':>8} {'file MB':>8} {'parse/s':>8} {'1 wk/s':>7} {'µs/tr':>6} "
        f"{f'{n} wk/s':>7} {'µs/tr':>6} {'speed-up':>8} {'RSS MB 1 wk':>11} "
        f"{f'RSS MB {n} wk (parent, worker)':>29}"
    )
    with tempfile.TemporaryDirectory(prefix="obskit-bench-agg-") as tmp:
        for size in sizes:
            path = Path(tmp) / f"traces-{size}.jsonl"
            megabytes = write_corpus(path, size, args.spans) / 2**20
            parse, one, many = [], [], []
            for _ in range(args.runs):  # interleaved, so load changes hit all alike
                parse.append(run_child("parse", path))
                one.append(run_child("aggregate", path))
                many.append(run_child(f"aggregate:{n}", path))
            assert all(a["traces"] == size for a in one + many), (one, many)
            parse_rate = statistics.median(size / p["seconds"] for p in parse)
            one_rate = statistics.median(size / a["seconds"] for a in one)
            many_rate = statistics.median(size / a["seconds"] for a in many)
            print(
                f"{size:>8} {megabytes:>8.1f} {parse_rate:>8.0f} {one_rate:>7.0f} "
                f"{1e6 / one_rate:>6.0f} {many_rate:>7.0f} {1e6 / many_rate:>6.0f} "
                f"{many_rate / one_rate:>7.2f}× "
                f"{statistics.median(a['rss_mb'] for a in one):>11.0f} "
                f"{statistics.median(a['rss_mb'] for a in many):>22.0f}, "
                f"{statistics.median(a['child_rss_mb'] for a in many):>4.0f}"
            )
            path.unlink()
    print(f"load average after: {_load()}")
    print(
        "target: >= 2000 traces/s of 50 spans on the 2-core CI machine; µs/trace and peak "
        "RSS flat across sizes"
    )


def dask_table(sizes: list[int], spans: int, runs: int, n: int, pool_up_to: int) -> None:
    print(
        f"aggregate over JSON Lines, {spans} spans per trace, medians of {runs} runs, "
        f"{os.cpu_count()} CPUs, {n} workers each, load average before: {_load()}"
    )
    print(
        f"{'traces':>8} {'file MB':>8} {'pool/s':>7} {'dask/s':>7} {'dask/pool':>9} "
        f"{'client RSS MB pool':>18} {'client RSS MB dask':>18} "
        f"{'scheduler MB':>12} {'worker MB':>9}"
    )
    with tempfile.TemporaryDirectory(prefix="obskit-bench-agg-") as tmp:
        for size in sizes:
            path = Path(tmp) / f"traces-{size}.jsonl"
            megabytes = write_corpus(path, size, spans) / 2**20
            pool, dask = [], []
            for _ in range(runs):  # interleaved, so load changes hit both alike
                if size <= pool_up_to:
                    pool.append(run_child(f"aggregate:{n}", path))
                dask.append(run_child(f"dask:{n}", path))
            assert all(a["traces"] == size for a in pool + dask), (pool, dask)
            dask_rate = statistics.median(size / a["seconds"] for a in dask)
            if pool:
                pool_rate = statistics.median(size / a["seconds"] for a in pool)
                pool_rss = statistics.median(a["rss_mb"] for a in pool)
                pool_cols = f"{pool_rate:>7.0f} {dask_rate:>7.0f} {dask_rate / pool_rate:>8.2f}× "
                pool_cols += f"{pool_rss:>18.0f} "
            else:
                pool_cols = f"{'-':>7} {dask_rate:>7.0f} {'-':>9} {'-':>18} "
            print(
                f"{size:>8} {megabytes:>8.1f} {pool_cols}"
                f"{statistics.median(a['rss_mb'] for a in dask):>18.0f} "
                f"{statistics.median(a['cluster_rss_mb']['scheduler'] for a in dask):>12.0f} "
                f"{statistics.median(a['cluster_rss_mb']['worker'] for a in dask):>9.0f}",
                flush=True,
            )
            path.unlink()
    print(f"load average after: {_load()}")
    print("target: the client under 300 MB peak RSS at 1M traces")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
