"""The span store's layout: each process stored once, older data dirs upgraded, unknown refused."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import orjson
import pytest

from obskit.model import Reference, RefType, Span, SpanKind
from obskit.serve.store import SpanStore, StoreFormatError, TraceQuery, span_rows
from tests.serve.conftest import serve_once

# The layout `obskit serve` wrote before format 2: every row carried its process JSON.
FORMAT_1 = """
CREATE TABLE spans (
    trace_id TEXT NOT NULL, span_id TEXT NOT NULL, parent_id TEXT NOT NULL,
    service TEXT NOT NULL, operation TEXT NOT NULL, kind INTEGER NOT NULL,
    start_ns INTEGER NOT NULL, duration_ns INTEGER NOT NULL, error INTEGER NOT NULL,
    body BLOB NOT NULL, process BLOB NOT NULL
);
CREATE INDEX spans_by_trace ON spans (trace_id, span_id);
CREATE INDEX spans_by_service ON spans (service, start_ns);
CREATE INDEX spans_by_operation ON spans (service, operation, start_ns);
CREATE INDEX spans_by_start ON spans (start_ns);
"""


def trace(trace_id: str, instance: str) -> list[Span]:
    """checkout → payments, each service's resource naming its instance."""
    now = time.time_ns()
    root = Span(
        trace_id=trace_id,
        span_id="a" * 16,
        name="POST /checkout",
        service="checkout",
        start_ns=now,
        end_ns=now + 5_000_000,
        kind=SpanKind.SERVER,
        resource={"service.name": "checkout", "service.instance.id": instance},
    )
    child = Span(
        trace_id=trace_id,
        span_id="b" * 16,
        name="charge",
        service="payments",
        start_ns=now + 1000,
        end_ns=now + 3_000_000,
        kind=SpanKind.SERVER,
        references=(Reference(RefType.CHILD_OF, trace_id, "a" * 16),),
        resource={"service.name": "payments", "service.instance.id": instance},
    )
    return [root, child]


def processes(store: SpanStore, trace_id: str) -> list[dict]:
    data = store.get_trace_json(trace_id)
    assert data is not None
    found = orjson.loads(data)
    by_id = found["processes"]
    return [by_id[span["processID"]] for span in found["spans"]]


def test_each_process_is_stored_once_and_served_with_its_spans(tmp_path: Path) -> None:
    store = SpanStore(tmp_path)
    try:
        store.write(trace("1" * 32, "i-1"))
        store.write(trace("2" * 32, "i-1"))  # the same two service instances again
        store.write(trace("3" * 32, "i-2"))
        [(process_rows,)] = sqlite3.connect(tmp_path / "spans.db").execute(
            "SELECT count(*) FROM processes"
        )
        assert process_rows == 4
        assert processes(store, "2" * 32) == [
            {
                "serviceName": "checkout",
                "tags": [{"key": "service.instance.id", "type": "string", "value": "i-1"}],
            },
            {
                "serviceName": "payments",
                "tags": [{"key": "service.instance.id", "type": "string", "value": "i-1"}],
            },
        ]
        # A search by a resource tag finds the spans of that process only.
        query = TraceQuery(service="payments", tags={"service.instance.id": "i-2"})
        assert store.find_trace_ids(query) == ["3" * 32]
    finally:
        store.close()


def test_a_format_1_data_dir_is_upgraded_and_keeps_its_spans(tmp_path: Path) -> None:
    old = sqlite3.connect(tmp_path / "spans.db", isolation_level=None)
    old.executescript(FORMAT_1)
    old.executemany(
        "INSERT INTO spans VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        span_rows(trace("4" * 32, "i-1") + trace("5" * 32, "i-1")),
    )
    old.close()
    store = SpanStore(tmp_path)
    try:
        assert [p["tags"][0]["value"] for p in processes(store, "4" * 32)] == ["i-1", "i-1"]
        assert store.find_trace_ids(TraceQuery(service="payments")) == ["5" * 32, "4" * 32]
        store.write(trace("6" * 32, "i-1"))
        assert store.span_count() == 6
    finally:
        store.close()
    db = sqlite3.connect(tmp_path / "spans.db")
    assert db.execute("PRAGMA user_version").fetchone() == (2,)
    assert db.execute("SELECT count(*) FROM processes").fetchone() == (2,)


def test_a_store_of_an_unknown_format_is_refused_untouched(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "spans.db")
    db.execute("PRAGMA user_version = 9")
    db.close()
    with pytest.raises(StoreFormatError):
        SpanStore(tmp_path)
    proc = serve_once(tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"Error: {tmp_path / 'spans.db'} holds a span store in format 9; this obskit reads "
        "format 2: upgrade obskit, or move the data dir away (--data-dir)"
    )
    db = sqlite3.connect(tmp_path / "spans.db")
    assert db.execute("PRAGMA user_version").fetchone() == (9,)
