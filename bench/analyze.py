"""Benchmark `obskit analyze` on big traces: read time, analysis time, peak RSS, per span.

    .venv/bin/python bench/analyze.py [--sizes 1000,10000,100000,1000000] [--no-shapes]
                                      [--formats otlp,jaeger] [--keep DIR]

Each trace (random service trees of 1k, 10k, 100k and 1M realistic HTTP spans, a 20,000-sibling
fan-out and a 5,000-deep chain) is generated and written to disk as OTLP JSON bytes, and as
Jaeger's v1 API JSON (the GET /api/traces/{id} response), in its own subprocess (``--keep DIR`` keeps the files and reuses them on the next run). Then, each in a
fresh subprocess that reads the bytes from disk:

* parse: ``orjson.loads`` of the bytes alone, with the garbage collector on (``parse``, the
  interpreter's defaults) and paused (``parse*``, the stricter baseline: the readers and the
  analysis pause it too);
* read: ``obskit.read_trace(bytes)`` (parse + conversion to the model), then
  analyze: ``obskit.analyze_trace(trace)``; peak RSS of this process (``ru_maxrss``, the input
  bytes included) after its first read + analyze.

Times are medians over several runs, wall clock and CPU (``time.process_time``: on a busy
machine wall time inflates, CPU time much less). The load average is printed with each row.
Targets (2-core CI machine): analysis no slower than the parse at 100k spans (an/parse* <= 1);
1M spans end to end (read + analyze) within 13 s and 2 GB peak RSS; cost per span flat from 1k
to 1M.
"""

from __future__ import annotations

import argparse
import gc
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
from types import MappingProxyType

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TRACE_ID = "5b8efff798038103d269b633813fc60c"
BASE = 1_700_000_000_000_000_000
SERVICES = 20
ROUTES = ("/items/{id}", "/orders/{id}", "/users/{id}/cart", "/search", "/checkout")


# -- generating traces (runs in its own subprocess) ------------------------------------------


def _resource(svc: int) -> MappingProxyType:
    """What the OpenTelemetry Python SDK and its resource detectors put on every span."""
    return MappingProxyType(
        {
            "service.name": f"svc-{svc}",
            "service.version": "1.4.2",
            "service.instance.id": f"{svc:08x}-6d1c-4f0e-9a55-1c2b3d4e5f60",
            "telemetry.sdk.language": "python",
            "telemetry.sdk.name": "opentelemetry",
            "telemetry.sdk.version": "1.27.0",
            "host.name": f"node-{svc % 4}",
            "process.pid": 4000 + svc,
        }
    )


def _attributes(rng: random.Random, kind, svc: int, callee: int, i: int) -> tuple[dict, str]:
    """A span's attributes and instrumentation scope, like the OpenTelemetry HTTP
    instrumentations write them: 4-5 per span, some values unique per span (paths, ids)."""
    from obskit.model import SpanKind

    status = 500 if rng.random() < 0.01 else 200
    route = ROUTES[i % len(ROUTES)]
    path = route.replace("{id}", str(rng.randrange(1_000_000)))
    if kind is SpanKind.SERVER:
        return {
            "http.request.method": "GET" if i % 4 else "POST",
            "http.route": route,
            "url.path": path,
            "http.response.status_code": status,
            "network.protocol.version": "1.1",
        }, "opentelemetry.instrumentation.flask"
    if kind is SpanKind.CLIENT:
        return {
            "http.request.method": "GET" if i % 4 else "POST",
            "server.address": f"svc-{callee}",
            "server.port": 8080,
            "url.full": f"http://svc-{callee}:8080{path}",
            "http.response.status_code": status,
        }, "opentelemetry.instrumentation.requests"
    return {
        "code.function": f"handle_{i % 50}",
        "code.namespace": f"svc{svc}.handlers",
        "code.lineno": 10 + i % 300,
        "thread.name": "MainThread",
    }, "app"


def tree_trace(n: int, seed: int = 7):
    """A random service call tree: parents chosen among earlier spans (depth ~ ln n), children
    inside their parent's time but 1 % skewed past it, ~30 % CLIENT spans each with a SERVER
    child in another service, some zero-length spans, 1 % errors."""
    from obskit.model import Reference, RefType, Span, SpanKind, StatusCode, Trace

    rng = random.Random(seed)
    resources = [_resource(k) for k in range(SERVICES)]
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
        attrs, scope = _attributes(rng, kind, svc, (svc + 1 + i % (SERVICES - 1)) % SERVICES, i)
        error = attrs.get("http.response.status_code") == 500
        spans.append(
            Span(
                trace_id=TRACE_ID,
                span_id=f"{rng.getrandbits(64) | 1:016x}",
                name=f"GET {attrs['http.route']}" if "http.route" in attrs else f"op-{i % 50}",
                service=f"svc-{svc}",
                start_ns=start,
                end_ns=end,
                kind=kind,
                status=StatusCode.ERROR if error else StatusCode.UNSET,
                references=()
                if parent < 0
                else (Reference(RefType.CHILD_OF, TRACE_ID, spans[parent].span_id),),
                attributes=MappingProxyType(attrs),
                resource=resources[svc],
                scope=scope,
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


def generate(shape: str, size: int, path: Path, fmt: str = "otlp") -> None:
    """Write the trace as one compact OTLP/JSON document (or Jaeger's v1 API response), a span
    at a time: the generator's own memory stays at the model's, not the model's plus a whole
    dict tree."""
    import orjson

    from obskit.ingest.otlp_writer import span_to_otlp, spans_to_otlp

    trace = {"tree": tree_trace, "fanout": fanout_trace, "chain": chain_trace}[shape](size)
    if fmt == "jaeger":
        generate_jaeger(trace, path)
        return
    groups: dict[tuple[int, str], dict[str, list]] = {}
    for span in trace.spans:
        groups.setdefault((id(span.resource), span.service), {}).setdefault(span.scope, []).append(
            span
        )
    with open(path, "wb") as out:
        out.write(b'{"resourceSpans":[')
        for g, scopes in enumerate(groups.values()):
            first = next(iter(scopes.values()))[0]
            # the writer's own resource encoding, from a one-span document
            head = spans_to_otlp([first])["resourceSpans"][0]["resource"]
            out.write(b"," if g else b"")
            out.write(b'{"resource":' + orjson.dumps(head) + b',"scopeSpans":[')
            for s, (scope, spans) in enumerate(scopes.items()):
                out.write(b"," if s else b"")
                out.write(b'{"scope":' + orjson.dumps({"name": scope} if scope else {}))
                out.write(b',"spans":[')
                out.write(b",".join(orjson.dumps(span_to_otlp(sp)) for sp in spans))
                out.write(b"]}")
            out.write(b"]}")
        out.write(b"]}")


def generate_jaeger(trace, path: Path) -> None:
    """Jaeger's GET /api/traces/{id} response, as `obskit serve` and Jaeger's query service
    write it (typed tags, processes p1, p2 ...; OTLP kind, status and scope as tags)."""
    import orjson

    from obskit.serve.jaeger_json import assemble_trace, process_to_jaeger, span_to_jaeger

    processes: dict[tuple[int, str], bytes] = {}
    fragments = []
    for span in trace.spans:
        key = (id(span.resource), span.service)
        if key not in processes:
            processes[key] = orjson.dumps(process_to_jaeger(span))
        fragments.append((orjson.dumps(span_to_jaeger(span)), processes[key]))
    with open(path, "wb") as out:
        out.write(b'{"data":[')
        out.write(assemble_trace(trace.trace_id, fragments))
        out.write(b'],"total":1,"limit":0,"offset":0,"errors":null}')


# -- measuring (each in a fresh subprocess) --------------------------------------------------


def clocks() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def parse_baseline(path: Path, runs: int) -> dict:
    import orjson

    data = path.read_bytes()
    out: dict[str, float] = {}
    for label, paused in (("parse", False), ("parse_nogc", True)):
        walls, cpus = [], []
        for _ in range(runs):
            gc.collect()
            if paused:
                gc.disable()
            w0, c0 = clocks()
            doc = orjson.loads(data)
            w1, c1 = clocks()
            gc.enable()
            del doc
            walls.append(w1 - w0)
            cpus.append(c1 - c0)
        out[f"{label}_s"], out[f"{label}_cpu_s"] = statistics.median(walls), statistics.median(cpus)
    return out


def read_and_analyze(path: Path, runs: int) -> dict:
    import obskit
    import obskit.analysis.analyze
    import obskit.ingest.otlp_json

    data = path.read_bytes()
    rss_input = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    reads, analyses, totals, peak_first = [], [], [], 0.0
    spans = sections = 0
    for run in range(runs):
        gc.collect()
        w0, c0 = clocks()
        trace = obskit.read_trace(data)
        w1, c1 = clocks()
        report = obskit.analyze_trace(trace)
        w2, c2 = clocks()
        reads.append((w1 - w0, c1 - c0))
        analyses.append((w2 - w1, c2 - c1))
        totals.append((w2 - w0, c2 - c0))
        spans, sections = len(trace), len(report.critical_path)
        if run == 0:
            peak_first = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        del trace, report
    return {
        "spans": spans,
        "bytes": len(data),
        "sections": sections,
        "read_s": statistics.median(w for w, _ in reads),
        "read_cpu_s": statistics.median(c for _, c in reads),
        "analyze_s": statistics.median(w for w, _ in analyses),
        "analyze_cpu_s": statistics.median(c for _, c in analyses),
        "e2e_s": statistics.median(w for w, _ in totals),
        "e2e_cpu_s": statistics.median(c for _, c in totals),
        "rss_input_mb": rss_input,
        "peak_rss_mb": peak_first,
    }


# -- driver ----------------------------------------------------------------------------------


def _subprocess(*args: str) -> dict:
    me = [sys.executable, str(Path(__file__).resolve())]
    out = subprocess.run([*me, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def run_one(shape: str, size: int, runs: int, workdir: Path, keep: bool, fmt: str) -> dict:
    path = workdir / (f"{shape}-{size}.json" if fmt == "otlp" else f"{shape}-{size}.{fmt}.json")
    if not path.exists():
        me = [sys.executable, str(Path(__file__).resolve())]
        subprocess.run([*me, "--generate", shape, str(size), str(path), fmt], check=True)
    result = _subprocess("--parse", str(path), str(runs))
    if size >= 1_000_000:
        # one read + analyze per fresh process: the peak RSS of each is what a CLI run sees
        rows = [_subprocess("--measure", str(path), "1") for _ in range(runs)]
        merged = dict(rows[0])
        for key in ("read_s", "read_cpu_s", "analyze_s", "analyze_cpu_s", "e2e_s", "e2e_cpu_s"):
            merged[key] = statistics.median(r[key] for r in rows)
        merged["peak_rss_mb"] = max(r["peak_rss_mb"] for r in rows)
        result |= merged
    else:
        result |= _subprocess("--measure", str(path), str(runs))
    if not keep:
        path.unlink()
    return result


def _load() -> str:
    return "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--no-shapes", action="store_true", help="skip fan-out and chain")
    parser.add_argument("--runs", type=int, default=5, help="runs per size (3 at 1M)")
    parser.add_argument("--keep", type=Path, help="keep generated traces in DIR and reuse them")
    parser.add_argument(
        "--formats",
        default="otlp,jaeger",
        help="input formats: otlp (OTLP/JSON), jaeger (Jaeger v1 API JSON)",
    )
    parser.add_argument("--generate", nargs=4, metavar=("SHAPE", "SIZE", "PATH", "FORMAT"))
    parser.add_argument("--parse", nargs=2, metavar=("PATH", "RUNS"))
    parser.add_argument("--measure", nargs=2, metavar=("PATH", "RUNS"))
    args = parser.parse_args()
    if args.generate:
        shape, size, path, fmt = args.generate
        generate(shape, int(size), Path(path), fmt)
        return
    if args.parse:
        print(json.dumps(parse_baseline(Path(args.parse[0]), int(args.parse[1]))))
        return
    if args.measure:
        print(json.dumps(read_and_analyze(Path(args.measure[0]), int(args.measure[1]))))
        return

    plan = []
    for fmt in args.formats.split(","):
        plan += [
            (fmt, "tree", int(s), args.runs if int(s) < 1_000_000 else 3)
            for s in args.sizes.split(",")
        ]
        if not args.no_shapes:
            plan += [(fmt, "fanout", 20_000, args.runs), (fmt, "chain", 5_000, args.runs)]
    header = (
        f"{'format':>6} {'trace':>14} {'spans':>9} {'MB':>6} {'parse':>6} {'parse*':>13} "
        f"{'read':>13} {'analyze':>13} {'an/parse*':>10} {'read+analyze':>13} {'e2e/parse':>10} "
        f"{'e2e/parse*':>10} "
        f"{'µs/span r|a':>12} "
        f"{'peak RSS':>8} {'load':>14}"
    )
    print("times in ms as wall/CPU; ratio an/parse* as wall/CPU")
    print(header)
    print("-" * len(header))

    def ms(wall: float, cpu: float) -> str:
        return f"{wall * 1e3:.0f}/{cpu * 1e3:.0f}"

    with tempfile.TemporaryDirectory(prefix="obskit-bench-") as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for fmt, shape, size, runs in plan:
            r = run_one(shape, size, runs, workdir, keep=args.keep is not None, fmt=fmt)
            n = r["spans"]
            print(
                f"{fmt:>6} {shape + '-' + str(size):>14} {n:>9,} {r['bytes'] / 1e6:>6.1f} "
                f"{r['parse_s'] * 1e3:>6.0f} {ms(r['parse_nogc_s'], r['parse_nogc_cpu_s']):>13} "
                f"{ms(r['read_s'], r['read_cpu_s']):>13} "
                f"{ms(r['analyze_s'], r['analyze_cpu_s']):>13} "
                f"{r['analyze_s'] / r['parse_nogc_s']:>4.2f}/"
                f"{r['analyze_cpu_s'] / r['parse_nogc_cpu_s']:<5.2f} "
                f"{r['e2e_s']:>5.2f}/{r['e2e_cpu_s']:<5.2f}s "
                f"{r['e2e_s'] / r['parse_s']:>4.2f}/{r['e2e_cpu_s'] / r['parse_cpu_s']:<5.2f} "
                f"{r['e2e_s'] / r['parse_nogc_s']:>4.2f}/{r['e2e_cpu_s'] / r['parse_nogc_cpu_s']:<5.2f} "
                f"{r['read_cpu_s'] / n * 1e6:>5.1f}|{r['analyze_cpu_s'] / n * 1e6:<5.1f} "
                f"{r['peak_rss_mb']:>6.0f}MB {_load():>14}",
                flush=True,
            )
    print(
        "\nmedians; parse = orjson.loads of the same bytes (interpreter defaults); parse* = the "
        "same with the garbage collector paused (read_trace and analyze_trace pause it too); "
        "an/parse* = analyze / parse* (target <= 1 at 100k); read+analyze = end to end (target "
        "at 1M: 13 s, 2 GB peak RSS, input bytes included); e2e/parse and e2e/parse* = read+analyze / parse "
        "and / parse*, wall/CPU (target for Jaeger JSON at 100k: <= 1.5); µs/span = CPU time per span of read "
        "and analyze (target: flat from 1k to 1M); load = 1/5/15-minute load average after the row"
    )


if __name__ == "__main__":
    main()
