"""Issue 15 at `obskit serve`, cases 1, 2 and 11, and the promise behind them: no request can
stop ingestion. A span past int64 used to kill the store's writer (every later export hung
while /health said ready); a 4,301-digit time or a 3,000-deep attribute killed a decode worker
twice per request; out-of-range query parameters were 500s. Now a poisoned span is refused on
its own (OTLP partial success) and the next good export is stored within a second."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from obskit.serve import Backend, ServeConfig
from obskit.serve.store import SpanStore, StoreFailed, StoreRejected, span_rows
from tests.hostile.corpus import trace
from tests.serve.conftest import running_backend
from tests.serve.payloads import export_request

PROTO = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    data_dir = tmp_path_factory.mktemp("poison")
    config = ServeConfig(otlp_port=0, query_port=0, data_dir=data_dir, decode_workers=1)
    with running_backend(config) as backend:
        yield backend


def urls(backend: Backend) -> tuple[str, str]:
    return (
        f"http://127.0.0.1:{backend.otlp_port}/v1/traces",
        f"http://127.0.0.1:{backend.query_port}",
    )


def within(seconds: float, call: Callable[[], Any]) -> Any:
    """``call()``, or fail the test if it has not returned after ``seconds`` (a hang)."""
    outcome: list[tuple[Any, BaseException | None]] = []

    def run() -> None:
        try:
            outcome.append((call(), None))
        except BaseException as err:
            outcome.append((None, err))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"no answer within {seconds} s"
    value, error = outcome[0]
    if error is not None:
        raise error
    return value


def rpc_status(answer: requests.Response) -> Any:
    from google.rpc import status_pb2

    if answer.headers["Content-Type"] == PROTO["Content-Type"]:
        return status_pb2.Status.FromString(answer.content)
    return status_pb2.Status(**answer.json())


def stored_within_a_second(backend: Backend) -> float:
    """Export a good trace; return how long until the query API has it."""
    otlp, query = urls(backend)
    body, trace_id = export_request(spans=3)
    started = time.monotonic()
    answer = within(5, lambda: requests.post(otlp, data=body, headers=PROTO, timeout=5))
    assert answer.status_code == 200, answer.text
    while time.monotonic() - started < 1.0:
        if requests.get(f"{query}/api/traces/{trace_id}", timeout=5).status_code == 200:
            return time.monotonic() - started
        time.sleep(0.02)
    pytest.fail("the good export was not stored within a second")


POISONS = [
    ("otlp-time-above-int64.json", JSON, 200),  # a span refused alone: partial success
    ("otlp-time-as-number-2pow64-1.json", JSON, 200),
    ("otlp-proto-time-2pow64-1.pb", PROTO, 200),
    ("otlp-time-4301-digits.json", JSON, 200),
    ("otlp-attribute-4301-digits.json", JSON, 200),
    ("otlp-attribute-3000-deep.json", JSON, 400),  # the body itself cannot be parsed
    ("otlp-proto-framed-huge-prefix.pb", PROTO, 400),
]


@pytest.mark.parametrize(("name", "headers", "status"), POISONS, ids=[p[0] for p in POISONS])
def test_a_poisoned_request_costs_only_itself(
    backend: Backend, name: str, headers: dict[str, str], status: int
) -> None:
    otlp, query = urls(backend)
    workers = backend.decoder.pids()
    body = trace(name).read_bytes()
    answer = within(10, lambda: requests.post(otlp, data=body, headers=headers, timeout=10))
    assert answer.status_code == status, answer.text
    if status == 200 and headers is JSON:
        partial = answer.json()["partialSuccess"]
        assert partial["rejectedSpans"] == "1"
        assert "out of range" in partial["errorMessage"]
    if status == 400:
        assert "\n" not in rpc_status(answer).message
    assert backend.decoder.pids() == workers  # no decode worker died
    assert requests.get(f"{query}/health", timeout=5).status_code == 200
    assert stored_within_a_second(backend) < 1.0


def test_the_good_spans_of_a_poisoned_request_are_stored(backend: Backend) -> None:
    otlp, query = urls(backend)
    body = trace("otlp-one-good-one-out-of-range.json").read_bytes()
    answer = requests.post(otlp, data=body, headers=JSON, timeout=10)
    assert answer.status_code == 200
    assert answer.json()["partialSuccess"]["rejectedSpans"] == "1"
    stored = requests.get(f"{query}/api/traces/5b8efff798038103d269b633813fc60c", timeout=5)
    span_ids = {s["spanID"] for s in stored.json()["data"][0]["spans"]}
    assert "eee19b7ec3c1b174" in span_ids and "eee19b7ec3c1b175" not in span_ids


BAD_QUERIES = [
    "/api/dependencies?endTs=99999999999999999999",
    "/api/dependencies?endTs=-5",
    "/api/dependencies?lookback=99999999999999999999999",
    "/api/dependencies?endTs=" + "9" * 5000,
    "/api/traces?service=checkout&start=99999999999999999999",
    "/api/traces?service=checkout&end=9223372036854775807",
    "/api/traces?service=checkout&minDuration=1e400h",
    "/api/traces?service=checkout&maxDuration=99999999999999999999h",
    "/api/v3/traces?query.service_name=checkout&query.start_time_min=2024-13-45T00:00:00Z"
    "&query.start_time_max=2024-01-01T00:00:00Z",
    "/api/v3/traces?query.service_name=checkout&query.start_time_min=0001-01-01T00:00:00Z"
    "&query.start_time_max=9999-12-31T23:59:59Z",
    "/api/v3/traces?query.service_name=checkout&query.start_time_min=2024-01-01T00:00:00Z"
    "&query.start_time_max=2024-01-02T00:00:00Z&query.duration_min=1e400h",
]


@pytest.mark.parametrize("path", BAD_QUERIES)
def test_an_out_of_range_query_parameter_is_a_400(backend: Backend, path: str) -> None:
    _otlp, query = urls(backend)
    answer = requests.get(query + path, timeout=5)
    assert answer.status_code == 400, answer.text


# --- the store's writer ----------------------------------------------------------------------


def good_rows(n: int = 2) -> list[tuple[Any, ...]]:
    from obskit.ingest import read_trace

    body, _trace_id = export_request(spans=n)
    return span_rows(read_trace(body, format="otlp-proto").spans)


def test_the_writer_survives_a_row_sqlite_cannot_hold(tmp_path: Path) -> None:
    store = SpanStore(tmp_path)
    try:
        poisoned = [tuple(2**64 if i == 6 else v for i, v in enumerate(row)) for row in good_rows()]
        with pytest.raises(StoreRejected, match="OverflowError"):
            within(5, lambda: store.write_rows(poisoned))
        within(5, lambda: store.write_rows(good_rows()))  # it used to hang here for ever
        assert store.span_count() == 2
        assert store.healthy
    finally:
        store.close()


def test_one_bad_batch_in_a_group_commit_fails_only_its_request(tmp_path: Path) -> None:
    store = SpanStore(tmp_path)
    try:
        poisoned = [tuple(2**64 if i == 7 else v for i, v in enumerate(row)) for row in good_rows()]
        results: dict[str, Any] = {}

        def write(name: str, rows: list[tuple[Any, ...]]) -> None:
            try:
                store.write_rows(rows)
                results[name] = "stored"
            except StoreRejected:
                results[name] = "rejected"

        threads = [
            threading.Thread(target=write, args=(f"good{i}", good_rows())) for i in range(8)
        ] + [threading.Thread(target=write, args=("bad", poisoned))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert results.pop("bad") == "rejected"
        assert set(results.values()) == {"stored"} and len(results) == 8
        assert store.span_count() == 16
    finally:
        store.close()


def test_health_turns_unready_while_the_store_cannot_write(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    otlp, query = urls(backend)

    def disk_failure(*_args: Any) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(backend.store, "_insert", disk_failure)
    for _ in range(3):
        body, _tid = export_request(spans=2)
        answer = requests.post(otlp, data=body, headers=PROTO, timeout=10)
        assert answer.status_code == 503  # retryable: the exporter keeps the spans
    health = requests.get(f"{query}/health", timeout=5)
    assert health.status_code == 503
    assert "disk I/O error" in health.text
    monkeypatch.undo()
    assert stored_within_a_second(backend) < 1.0
    assert requests.get(f"{query}/health", timeout=5).status_code == 200


def test_a_request_waits_for_its_commit_at_most_the_commit_wait(tmp_path: Path) -> None:
    store = SpanStore(tmp_path, commit_wait_s=0.5)
    try:
        release = threading.Event()
        real = store._insert

        def stuck(*args: Any) -> None:
            release.wait(10)
            real(*args)

        store._insert = stuck  # type: ignore[method-assign]
        started = time.monotonic()
        with pytest.raises(StoreFailed, match=r"no commit within 0\.5 s"):
            store.write_rows(good_rows())
        assert time.monotonic() - started < 2
        release.set()
    finally:
        store.close()
