"""``obskit analyze --service`` and ``obskit graph --service`` end to end: against a real
``obskit serve`` (traces exported into it over OTLP/HTTP), and against files."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import orjson
import pytest
import requests

from obskit.ingest.otlp_writer import trace_to_otlp, traces_to_otlp
from tests.aggregate.quantiles import near
from tests.aggregate.shop import shops
from tests.serve.conftest import ServeProcess, start_serve

MS = 10**6


def obskit(*args: str, cwd=None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBSKIT_")}
    return subprocess.run(
        [sys.executable, "-m", "obskit", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "NO_COLOR": "1"},
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    serve = start_serve(tmp_path_factory.mktemp("aggregate-serve"))
    try:
        traces = shops(base=time.time_ns() - 20 * 60 * 10**9)  # 20 minutes ago
        body = orjson.dumps(traces_to_otlp(traces))
        answer = requests.post(
            f"{serve.otlp}/v1/traces",
            data=body,
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
        assert answer.status_code == 200
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the store commits in the background
            found = requests.get(
                f"{serve.query}/api/traces", params={"service": "checkout"}, timeout=5
            ).json()["data"]
            if len(found) == 5:
                break
            time.sleep(0.1)
        yield serve
    finally:
        serve.stop()


def test_analyze_service_against_the_embedded_backend(backend: ServeProcess):
    done = obskit(
        "analyze",
        "--service",
        "checkout",
        "--jaeger",
        backend.query,
        "--format",
        "json",
        "--what-if",
        "gateway=-300ms",
    )
    assert done.returncode == 0, done.stderr
    report = orjson.loads(done.stdout)
    assert report["traces"] == 5
    assert (report["hops"][0]["caller"], report["hops"][0]["callee"]) == ("checkout", "gateway")
    assert report["hops"][0]["critical_ns"]["total"] == 2100 * MS
    # 290..1190 ms; gateway -300: 190 (100 cut to 0), 190, 190, 290, 890
    assert near(
        report["what_if"][0]["duration_ns_after"],
        {"p50": 190 * MS, "p95": 890 * MS, "p99": 890 * MS},
    )
    assert done.stderr.strip().endswith("Based on 5 trace(s) of 5 found.")


def test_graph_service_against_the_embedded_backend(backend: ServeProcess):
    done = obskit("graph", "--service", "checkout", "--jaeger", backend.query)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == (
        "Service dependencies over 5 traces: 2 services, 1 external, 2 edges"
    )
    assert "checkout  →  gateway" in done.stdout


def test_an_empty_window_says_so(backend: ServeProcess):
    done = obskit(
        "analyze",
        "--service",
        "checkout",
        "--jaeger",
        backend.query,
        "--start",
        "2020-01-01T00:00:00Z",
        "--end",
        "2020-01-01T01:00:00Z",
    )
    assert done.returncode == 0, done.stderr
    assert "0 traces analysed" in done.stdout
    assert "found no trace of checkout in the time window" in done.stdout


def test_analyze_service_over_a_directory_of_files(tmp_path):
    traces = shops()
    folder = tmp_path / "traces"
    folder.mkdir()
    with open(folder / "a.jsonl", "wb") as out:  # one trace per line
        for trace in traces[:3]:
            out.write(orjson.dumps(trace_to_otlp(trace)) + b"\n")
    (folder / "b.json").write_bytes(orjson.dumps(traces_to_otlp(traces[3:])))
    done = obskit("analyze", "--service", "checkout", "--file", str(folder), "--format", "folded")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "checkout: POST /checkout;checkout: inventory 500000000"
    html = tmp_path / "report.html"
    done = obskit(
        "analyze",
        "--service",
        "checkout",
        "--file",
        str(folder),
        "-o",
        str(html),
        "--limit",
        "4",
        "--fail-on-flag",
    )
    assert done.returncode == 1
    assert "Error: slow hop: checkout → gateway" in done.stderr
    assert "Based on 4 trace(s)" in done.stderr
    assert html.read_text().startswith("<!DOCTYPE html>")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--operation", "x", "--file", "f.json"],
            "Error: --operation needs --service (aggregate mode over many traces)",
        ),
        (
            ["--format", "folded", "--file", "f.json"],
            "Error: --format folded needs --service (aggregate mode over many traces)",
        ),
        (
            ["--service", "a", "--trace-id", "ab", "--file", "f.json"],
            "Error: --trace-id and --service given: choose one trace, or many",
        ),
        (
            ["--service", "a", "--what-if", "gw", "--file", "f.json"],
            "Error: --what-if 'gw': expected NAME=-DURATION or NAME=-PERCENT% (e.g. --what-if "
            "'payments-gateway=-300ms' or --what-if 'payments=-50%')",
        ),
        (
            ["--service", "a", "--compare", "2h", "--file", "f.json"],
            "Error: --compare: expected START..END, got '2h' (e.g. --compare 2h..1h (the hour "
            "before last) or --compare 2026-08-20T09:00:00Z..2026-08-20T10:00:00Z)",
        ),
        (
            ["--service", "a", "--file", "no-such-dir"],
            "Error: no-such-dir: no such file or directory",
        ),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(args, message, tmp_path):
    done = obskit("analyze", *args, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == message


def test_graph_service_html_by_output_extension(backend: ServeProcess, tmp_path):
    page = tmp_path / "graph.html"
    done = obskit("graph", "--service", "checkout", "--jaeger", backend.query, "-o", str(page))
    assert done.returncode == 0, done.stderr
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and "checkout → gateway" in html
