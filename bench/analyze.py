"""Benchmark `obskit analyze` on big traces: read time, analysis time, peak RSS, per span.

    .venv/bin/python bench/analyze.py [--sizes 1000,10000,100000,1000000] [--no-shapes]

For each trace (random service trees of 1k, 10k, 100k and 1M spans, a 20,000-sibling fan-out
and a 5,000-deep chain) the trace is generated and written as OTLP JSON bytes in one
subprocess, then measured in a fresh one:

* parse: ``orjson.loads`` of the bytes alone (the baseline, same process, same run);
* read: ``obskit.read_trace(bytes)`` (parse + conversion to the model);
* analyze: ``obskit.analyze_trace(trace)``;
* peak RSS of the measuring process (``ru_maxrss``), bytes held included.

Times are medians over several runs (fewer for 1M). Targets (2-core CI machine): analysis no
slower than the parse at 100k spans (ratio analyze/parse <= 1); 1M spans end to end (read +
analyze) within 13 s and 2 GB peak RSS; analysis cost per span flat from 1k to 1M.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import MappingProxyType

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TRACE_ID = "5b8efff798038103d269b633813fc60c"
BASE = 1_700_000_000_000_000_000
SERVICES = 20


# -- generating traces (runs in its own subprocess) ------------------------------------------


def tree_trace(n: int, seed: int = 7):
    """A random service call tree: parents chosen among earlier spans (depth ~ ln n), children
    inside their parent's time but 1 % skewed past it, ~30 % CLIENT spans each with a SERVER
    child in another service, some zero-length spans."""
    from obskit.model import Reference, RefType, Span, SpanKind, Trace

    rng = random.Random(seed)
    resources = [MappingProxyType({"service.name": f"svc-{k}"}) for k in range(SERVICES)]
    server_attrs = MappingProxyType({"http.request.method": "GET", "http.route": "/items/{id}"})
    spans: list = []
    meta: list[tuple[int, int, int, SpanKind]] = []  # start, end, service, kind
    for i in range(n):
        if i == 0:
            start, end, svc, kind, parent = BASE, BASE + 10_000_000_000, 0, SpanKind.SERVER, -1
        else:
            parent = rng.randrange(i)
            ps, pe, psvc, pkind = meta[parent]
            start = ps + int(rng.random() * (pe - ps))
            end = start + int(rng.random() * (pe - start))
            if rng.random() < 0.01:
                end += (pe - ps) // 10 + 1  # skew: ends after its parent
            if pkind is SpanKind.CLIENT:
                kind, svc = SpanKind.SERVER, (psvc + 1 + rng.randrange(SERVICES - 1)) % SERVICES
            else:
                kind = SpanKind.CLIENT if rng.random() < 0.3 else SpanKind.INTERNAL
                svc = psvc
        meta.append((start, end, svc, kind))
        attrs = (
            MappingProxyType({"server.address": f"svc-{(svc + 1) % SERVICES}", "server.port": 8080})
            if kind is SpanKind.CLIENT
            else server_attrs
        )
        spans.append(
            Span(
                trace_id=TRACE_ID,
                span_id=f"{i + 1:016x}",
                name=f"op-{i % 50}",
                service=f"svc-{svc}",
                start_ns=start,
                end_ns=end,
                kind=kind,
                references=()
                if parent < 0
                else (Reference(RefType.CHILD_OF, TRACE_ID, f"{parent + 1:016x}"),),
                attributes=attrs,
                resource=resources[svc],
            )
        )
    return Trace(TRACE_ID, tuple(spans))


def fanout_trace(n: int):
    from obskit.model import Reference, RefType, Span, Trace

    root = Span(TRACE_ID, f"{1:016x}", "fan-out", "svc-0", BASE, BASE + 2 * n * 1000)
    kids = tuple(
        Span(
            TRACE_ID,
            f"{k + 2:016x}",
            "child",
            "svc-0",
            BASE + k * 1000,
            BASE + (k + n) * 1000,
            references=(Reference(RefType.CHILD_OF, TRACE_ID, root.span_id),),
        )
        for k in range(n)
    )
    return Trace(TRACE_ID, (root, *kids))


def chain_trace(n: int):
    from obskit.model import Reference, RefType, Span, Trace

    spans = [
        Span(
            TRACE_ID,
            f"{k + 1:016x}",
            f"level-{k}",
            "svc-0",
            BASE + k * 1000,
            BASE + (2 * n - k) * 1000,
            references=() if k == 0 else (Reference(RefType.CHILD_OF, TRACE_ID, f"{k:016x}"),),
        )
        for k in range(n)
    ]
    return Trace(TRACE_ID, tuple(spans))


def generate(shape: str, size: int, path: Path) -> None:
    import orjson

    from obskit.ingest.otlp_writer import trace_to_otlp

    trace = {"tree": tree_trace, "fanout": fanout_trace, "chain": chain_trace}[shape](size)
    path.write_bytes(orjson.dumps(trace_to_otlp(trace)))


# -- measuring (runs in a fresh subprocess per trace) ----------------------------------------


def timed(fn, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        result = None
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def measure(path: Path, runs: int) -> dict:
    import orjson

    import obskit

    data = path.read_bytes()
    parse_s, _ = timed(lambda: orjson.loads(data), runs)
    gc.disable()  # the same parse without the cyclic collector's passes: the stricter baseline
    parse_nogc_s, _ = timed(lambda: orjson.loads(data), runs)
    gc.enable()
    read_s, trace = timed(lambda: obskit.read_trace(data), runs)
    analyze_s, report = timed(lambda: obskit.analyze_trace(trace), runs)
    return {
        "spans": len(trace),
        "bytes": len(data),
        "parse_s": parse_s,
        "parse_nogc_s": parse_nogc_s,
        "read_s": read_s,
        "analyze_s": analyze_s,
        "sections": len(report.critical_path),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


# -- driver ----------------------------------------------------------------------------------


def run_one(shape: str, size: int, runs: int, workdir: Path) -> dict:
    path = workdir / f"{shape}-{size}.json"
    me = [sys.executable, str(Path(__file__).resolve())]
    subprocess.run([*me, "--generate", shape, str(size), str(path)], check=True)
    out = subprocess.run(
        [*me, "--measure", str(path), str(runs)], check=True, capture_output=True, text=True
    )
    path.unlink()
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--no-shapes", action="store_true", help="skip fan-out and chain")
    parser.add_argument("--generate", nargs=3, metavar=("SHAPE", "SIZE", "PATH"))
    parser.add_argument("--measure", nargs=2, metavar=("PATH", "RUNS"))
    args = parser.parse_args()
    if args.generate:
        shape, size, path = args.generate
        generate(shape, int(size), Path(path))
        return
    if args.measure:
        print(json.dumps(measure(Path(args.measure[0]), int(args.measure[1]))))
        return

    plan = [("tree", int(s), 5 if int(s) < 1_000_000 else 2) for s in args.sizes.split(",")]
    if not args.no_shapes:
        plan += [("fanout", 20_000, 5), ("chain", 5_000, 5)]
    header = (
        f"{'trace':>15} {'spans':>9} {'MB':>7} {'parse':>9} {'parse*':>9} {'read':>9} "
        f"{'analyze':>9} {'an/parse':>8} {'an/parse*':>9} {'read+an':>9} {'µs/span':>8} "
        f"{'peak RSS':>9}"
    )
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory(prefix="obskit-bench-") as tmp:
        for shape, size, runs in plan:
            r = run_one(shape, size, runs, Path(tmp))
            print(
                f"{shape + '-' + str(size):>15} {r['spans']:>9,} {r['bytes'] / 1e6:>7.1f} "
                f"{r['parse_s'] * 1e3:>7.0f}ms {r['parse_nogc_s'] * 1e3:>7.0f}ms "
                f"{r['read_s'] * 1e3:>7.0f}ms {r['analyze_s'] * 1e3:>7.0f}ms "
                f"{r['analyze_s'] / r['parse_s']:>8.2f} {r['analyze_s'] / r['parse_nogc_s']:>9.2f} "
                f"{(r['read_s'] + r['analyze_s']):>8.2f}s "
                f"{r['analyze_s'] / r['spans'] * 1e6:>8.2f} {r['peak_rss_mb']:>7.0f}MB",
                flush=True,
            )
    print(
        "\nmedians (wall clock); parse = orjson.loads of the same bytes, default interpreter "
        "settings; parse* = the same with the garbage collector paused (analyze_trace pauses "
        "it too); an/parse = analyze / parse (target <= 1 at 100k); read+an = end to end "
        "(target 1M: 13 s, 2 GB)"
    )


if __name__ == "__main__":
    main()
