"""Aggregate mode on several processes (``--workers``): the same report as in one process,
whatever the number of workers, and errors that stay one line.

The corpus is the demo shop (tests/aggregate/corpus.py) as OTLP JSON Lines, with what a real
Collector file holds besides one trace per line::

    line   1 ..    trace 0 ..              one trace per line
    line   3       trace A, first half     ┐ 600 lines apart (> the reader's window of 500):
    line 603       trace A, second half    ┘ the reader yields A twice, the second "split"
    line  10/12    trace B in two halves   two lines apart: one trace
    line  20       traces C and D          two traces on one line
    line  30/31    blank line, a metrics line
    line  40/41/42 copies of trace 40 under new ids: equal latencies, so the exemplar among
                   ties depends on the order the traces reach the aggregate
    line  50       a trace without the checkout service (no endpoint)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from msgspec.structs import replace

from obskit.aggregate.pool import WorkerError
from obskit.aggregate.run import new_aggregator
from obskit.aggregate.sample import Endpoint
from obskit.aggregate.whatif import parse_what_if
from obskit.collect import collect
from obskit.errors import InputError
from obskit.ingest.otlp_writer import trace_to_otlp, traces_to_otlp
from obskit.model import Trace
from obskit.sources import batches as pool_module
from obskit.sources.files import FileSource
from obskit.sources.lines import line_trace_ids
from obskit.sources.query import Query
from tests.aggregate.corpus import corpus

LINES = 700


def _line(trace_or_traces: Trace | list[Trace]) -> bytes:
    if isinstance(trace_or_traces, list):
        return orjson.dumps(traces_to_otlp(trace_or_traces)) + b"\n"
    return orjson.dumps(trace_to_otlp(trace_or_traces)) + b"\n"


def _renamed(trace: Trace, n: int) -> Trace:
    tid = f"{0xABC000 + n:032x}"
    spans = tuple(
        replace(
            s,
            trace_id=tid,
            references=tuple(replace(r, trace_id=tid) for r in s.references),
        )
        for s in trace.spans
    )
    return Trace(tid, spans)


def write_corpus(path: Path, bad_line: int | None = None) -> Path:
    traces = corpus(seed=11, count=LINES + 2)
    a, b = traces[LINES], traces[LINES + 1]  # on no line of their own
    lines: dict[int, bytes] = {}
    for number in range(1, LINES + 1):
        lines[number] = _line(traces[number - 1])
    lines[3] = _line(Trace(a.trace_id, a.spans[:7]))
    lines[603] = _line(Trace(a.trace_id, a.spans[7:]))
    lines[10] = _line(Trace(b.trace_id, b.spans[:5]))
    lines[12] = _line(Trace(b.trace_id, b.spans[5:]))
    lines[20] = _line([_renamed(traces[19], 20), _renamed(traces[600], 21)])
    lines[30] = b"\n"
    lines[31] = b'{"resourceMetrics": []}\n'
    for k, number in enumerate((40, 41, 42)):
        lines[number] = _line(_renamed(traces[39], k))
    lines[50] = _line(Trace(traces[49].trace_id, traces[49].spans[:1]))  # storefront only
    if bad_line is not None:
        body = orjson.loads(lines[bad_line])
        span = body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
        span["endTimeUnixNano"] = "1"
        lines[bad_line] = orjson.dumps(body) + b"\n"
    path.write_bytes(b"".join(lines[n] for n in sorted(lines)))
    return path


def aggregate(path: Path, workers: int, *, limit: int | None = None, what_ifs=()):
    aggregator = new_aggregator(Endpoint("checkout"), what_ifs=what_ifs)
    collect(aggregator, FileSource(path), Query("checkout", None, 0, 0, limit), workers=workers)
    return aggregator.report()


@pytest.fixture(scope="module")
def jsonl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("workers") / "traces.jsonl")


def test_the_same_report_with_one_two_and_three_workers(jsonl: Path):
    what_ifs = [parse_what_if("payments-gateway=-30ms")]
    one = aggregate(jsonl, 1, what_ifs=what_ifs)
    # the corpus does what it says: 700 lines, less a blank and a metrics line, plus a line
    # of two traces, less B's second line; A is yielded twice, the second time "split"
    assert one.traces_found == 698
    codes = {w.code: w for w in one.warnings}
    assert codes["split"].trace_ids == (f"{LINES + 1:032x}",)
    assert codes["no-endpoint"].trace_ids == (f"{50:032x}",)
    for workers in (2, 3):
        other = aggregate(jsonl, workers, what_ifs=what_ifs)
        assert other.to_dict() == one.to_dict()
        assert other == one  # the heat map, the graph and the folded stacks too


def test_limit_keeps_the_same_traces_with_workers(jsonl: Path):
    one = aggregate(jsonl, 1, limit=250)
    two = aggregate(jsonl, 2, limit=250)
    assert one.traces == two.traces == 250
    assert two == one


def obskit(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBSKIT_")}
    return subprocess.run(
        [sys.executable, "-m", "obskit", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "NO_COLOR": "1"},
    )


def test_cli_json_is_the_same_with_workers_1_and_2(jsonl: Path):
    args = ("analyze", "--service", "checkout", "--file", str(jsonl), "--format", "json")
    one = obskit(*args, "--workers", "1")
    two = obskit(*args, "--workers", "2")
    assert one.returncode == two.returncode == 0, two.stderr
    assert two.stdout == one.stdout
    assert orjson.loads(two.stdout)["traces"] == 697  # all but the one without checkout


def test_a_bad_line_is_the_readers_one_line_error_with_any_workers(tmp_path: Path):
    bad = write_corpus(tmp_path / "bad.jsonl", bad_line=400)
    args = ("analyze", "--service", "checkout", "--file", str(bad), "--format", "json")
    one = obskit(*args, "--workers", "1")
    two = obskit(*args, "--workers", "2")
    # trace 399 starts at BASE + 399 × 10 s (tests/aggregate/corpus.py)
    expected = (
        f"Error: {bad}: line 400: resourceSpans[0].scopeSpans[0].spans[0].endTimeUnixNano: "
        "1 is before startTimeUnixNano 1700003990000000000\n"
    )
    assert one.returncode == two.returncode == 2
    assert one.stdout == two.stdout == ""
    assert one.stderr == two.stderr == expected


def test_a_bad_line_after_the_limit_is_never_reached(tmp_path: Path):
    # the reader yields trace k at line k + 500; with --limit 100 it stops near line 600
    bad = write_corpus(tmp_path / "late-bad.jsonl", bad_line=690)
    assert aggregate(bad, 2, limit=100) == aggregate(bad, 1, limit=100)
    with pytest.raises(InputError, match=r": line 690: "):
        aggregate(bad, 2)


def _fails(*_args, **_kwargs):
    raise RuntimeError("boom")


def _dies(*_args, **_kwargs):
    os._exit(3)


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (_fails, r"^a worker process failed reading .*traces\.jsonl: RuntimeError: boom$"),
        (_dies, r"^a worker process died \(killed, or out of memory\?\); run again with "),
    ],
)
def test_a_failing_worker_is_one_obskit_error(jsonl: Path, monkeypatch, broken, message):
    # workers are forked from this process, so they run the broken function
    monkeypatch.setattr(pool_module, "build_piece", broken)
    with pytest.raises(WorkerError, match=message):
        aggregate(jsonl, 2)


def test_trace_ids_read_ahead_from_the_bytes():
    one = b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"%s","spanId":"01"}]}]}]}'
    a, b = "a" * 32, "b" * 32
    assert line_trace_ids(one % a.encode()) == [a]
    two = (
        b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"%s"},{"traceId":"%s"},'
        b'{"traceId":"%s"}]}]}]}' % (b.encode(), a.encode(), b.encode())
    )
    assert line_trace_ids(two) == [b, a]
    # a link names another trace: parsed, and only the span's id counts
    linked = (
        b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"%s","spanId":"01",'
        b'"links":[{"traceId":"%s","spanId":"02"}]}]}]}]}' % (a.encode(), b.encode())
    )
    assert line_trace_ids(linked) == [a]
    upper = one % ("A" * 32).encode()  # the reader accepts any case: parsed
    assert line_trace_ids(upper) == [a]
    assert line_trace_ids(b"\n") == []
    assert line_trace_ids(b'{"resourceMetrics":[]}\n') == []
    assert line_trace_ids(b"{not json\n") is None  # the reader will say what is wrong


def test_a_line_the_byte_scan_misreads_falls_back_to_one_process(tmp_path: Path, jsonl: Path):
    # an escaped key the byte scan cannot see: the worker notices, the run starts over
    lines = jsonl.read_bytes().splitlines(keepends=True)
    doc = orjson.loads(lines[99])
    spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"]
    hidden = _renamed(corpus(seed=5, count=1)[0], 99)
    spans.append(orjson.loads(_line(hidden))["resourceSpans"][0]["scopeSpans"][0]["spans"][0])
    text = orjson.dumps(doc).replace(
        f'"traceId":"{hidden.trace_id}"'.encode(), f'"\\u0074raceId":"{hidden.trace_id}"'.encode()
    )
    assert line_trace_ids(text) == [spans[0]["traceId"]]  # the reader also sees the hidden one
    lines[99] = text + b"\n"
    tricky = tmp_path / "tricky.jsonl"
    tricky.write_bytes(b"".join(lines))
    one = aggregate(tricky, 1)
    assert one.traces_found == 699
    assert aggregate(tricky, 2) == one
