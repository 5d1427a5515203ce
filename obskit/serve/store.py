"""The embedded backend's durable span store: SQLite in WAL mode.

One writer thread owns the write connection and commits batches from many requests at once
(group commit), so a request is acknowledged only after its spans are committed, and a burst
of small exports costs one transaction, not hundreds. Readers use their own connections; WAL
lets them read while the writer writes.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from obskit.errors import InputError
from obskit.model import RefType, Span, Trace
from obskit.serve.jaeger_json import assemble_trace, process_to_jaeger, span_to_jaeger

log = logging.getLogger("obskit.serve")

# The store's layout, kept in ``PRAGMA user_version``. Format 1 (no user_version) kept each
# span's process JSON in its row; format 2 keeps each distinct process once: it is a third of
# a span's bytes, the same for every span of a service instance.
FORMAT = 2

SCHEMA = """
CREATE TABLE IF NOT EXISTS processes (
    id   INTEGER PRIMARY KEY,
    json BLOB    NOT NULL UNIQUE  -- a process (service and resource tags) in Jaeger's JSON
);
CREATE TABLE IF NOT EXISTS spans (
    trace_id    TEXT    NOT NULL,
    span_id     TEXT    NOT NULL,
    parent_id   TEXT    NOT NULL,
    service     TEXT    NOT NULL,
    operation   TEXT    NOT NULL,
    kind        INTEGER NOT NULL,
    start_ns    INTEGER NOT NULL,
    duration_ns INTEGER NOT NULL,
    error       INTEGER NOT NULL,
    body        BLOB    NOT NULL,  -- the span in Jaeger's JSON, without processID
    process_id  INTEGER NOT NULL   -- its process: processes.id
);
CREATE INDEX IF NOT EXISTS spans_by_trace ON spans (trace_id, span_id);
CREATE INDEX IF NOT EXISTS spans_by_service ON spans (service, start_ns);
CREATE INDEX IF NOT EXISTS spans_by_operation ON spans (service, operation, start_ns);
CREATE INDEX IF NOT EXISTS spans_by_start ON spans (start_ns);
"""

# Format 1 → 2 in one transaction: a crash midway leaves format 1 as it was.
MIGRATE_FROM_1 = """
BEGIN;
CREATE TABLE processes (id INTEGER PRIMARY KEY, json BLOB NOT NULL UNIQUE);
INSERT INTO processes (json) SELECT DISTINCT process FROM spans;
ALTER TABLE spans RENAME TO spans_format_1;
DROP INDEX spans_by_trace;
DROP INDEX spans_by_service;
DROP INDEX spans_by_operation;
DROP INDEX spans_by_start;
{schema}
INSERT INTO spans
    SELECT trace_id, span_id, parent_id, service, operation, kind, start_ns, duration_ns, error,
           body, (SELECT id FROM processes WHERE json = process)
    FROM spans_format_1 ORDER BY rowid;
DROP TABLE spans_format_1;
PRAGMA user_version = 2;
COMMIT;
"""

INSERT = "INSERT INTO spans VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
# The writer remembers process ids; past this many (a fleet restarting for weeks) it forgets
# them and retention drops the processes no span uses any more.
MAX_PROCESSES = 10_000

# The writer checkpoints the WAL into the database itself, after acknowledging the batches it
# committed, once this many spans went in since the last checkpoint (about 8 MiB of WAL), and
# whenever it is idle. SQLite's own checkpoint runs inside COMMIT every 1000 pages: the exports
# being acknowledged waited for it (two fsyncs), and pages rewritten by consecutive commits (the
# right edge of each time index) were copied again each time. Larger intervals save a little
# more CPU, but each checkpoint stalls the writer longer: 8192 spans doubled the export p99.
CHECKPOINT_SPANS = 4096
# Should the writer never get to it, SQLite checkpoints on its own at this many pages.
WAL_AUTOCHECKPOINT_PAGES = 16384


class StoreOverloaded(Exception):
    """More spans are waiting to be committed than the store accepts; retry later."""


class StoreClosed(Exception):
    """The store is shutting down."""


class StoreRejected(Exception):
    """These rows cannot be stored (a value SQLite refuses); other requests are unaffected."""


class StoreFailed(Exception):
    """The store could not commit (disk full, I/O error, no answer in time); retry later."""


# Errors a row itself causes (a value out of SQLite's range, a wrong type): its request gets
# a 400 and the writer goes on. Anything else is the store's fault.
_ROW_ERRORS = (
    OverflowError,
    TypeError,
    ValueError,
    sqlite3.DataError,
    sqlite3.IntegrityError,
    sqlite3.InterfaceError,
    sqlite3.ProgrammingError,
)
# How long a request waits for its commit before it is answered 503 (a healthy commit takes
# milliseconds; a checkpoint or retention pass a few seconds at worst).
COMMIT_WAIT_S = 30.0
# After this many group commits failed in a row, /health says the store is not ready.
UNHEALTHY_AFTER = 3


class StoreFormatError(InputError):
    """The data dir holds a store this version cannot read."""


@dataclass(frozen=True)
class TraceQuery:
    """A Jaeger-style search: traces holding at least one span that matches every filter."""

    service: str
    operation: str | None = None
    start_ns: int | None = None
    end_ns: int | None = None
    min_duration_ns: int | None = None
    max_duration_ns: int | None = None
    tags: dict[str, str] = field(default_factory=dict)
    limit: int = 20


@dataclass
class _Batch:
    rows: list[tuple[Any, ...]]
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class SpanStore:
    """Spans on disk under ``data_dir/spans.db``.

    ``write`` blocks until the spans are committed; it raises :class:`StoreOverloaded` when
    more than ``max_pending_spans`` are already waiting, so the receiver can answer 503.
    Retention: spans older than ``max_age_s`` and, above ``max_bytes``, the oldest spans are
    deleted by the writer thread every ``retention_interval_s``.
    """

    def __init__(
        self,
        data_dir: str | Path,
        *,
        max_pending_spans: int = 100_000,
        max_age_s: float | None = 7 * 24 * 3600,
        max_bytes: int | None = 1 << 30,
        retention_interval_s: float = 30.0,
        commit_wait_s: float = COMMIT_WAIT_S,
    ) -> None:
        self.path = Path(data_dir) / "spans.db"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_pending_spans = max_pending_spans
        self.max_age_s = max_age_s
        self.max_bytes = max_bytes
        self.retention_interval_s = retention_interval_s
        self.commit_wait_s = commit_wait_s
        self._queue: queue.Queue[_Batch | None] = queue.Queue()
        self._pending = 0
        self._pending_lock = threading.Lock()
        self._closed = False
        self._failures_in_a_row = 0
        self.last_failure = ""
        self._local = threading.local()
        writer = self._connect()
        try:
            _prepare(writer, self.path)
        except BaseException:
            writer.close()
            raise
        self._process_ids: dict[bytes, int] = {}
        writer.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
        self._uncheckpointed = 0
        self._writer = threading.Thread(
            target=self._write_loop, args=(writer,), name="obskit-store-writer", daemon=True
        )
        self._writer.start()

    # --- connections ---------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a commit survives the process being killed (the WAL is in the
        # OS page cache); only a power loss can take the last transactions.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("PRAGMA cache_size=-65536")  # 64 MiB: the indexes' hot pages stay in memory
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    # --- writing -------------------------------------------------------------------------

    @property
    def pending_spans(self) -> int:
        return self._pending

    def write(self, spans: Sequence[Span]) -> None:
        """Store spans; returns once they are committed to disk."""
        self.write_rows(span_rows(spans))

    def write_rows(self, rows: list[tuple[Any, ...]]) -> None:
        """Store rows made by :func:`span_rows` (possibly in another process)."""
        if not rows:
            return
        if self._closed:
            raise StoreClosed("the store is closed")
        with self._pending_lock:
            if self._pending + len(rows) > self.max_pending_spans and self._pending:
                raise StoreOverloaded(f"{self._pending} spans waiting to be committed")
            self._pending += len(rows)
        batch = _Batch(rows)
        self._queue.put(batch)
        if not batch.done.wait(self.commit_wait_s):
            # the writer will still commit or fail it; this request stops waiting
            raise StoreFailed(f"no commit within {self.commit_wait_s:g} s")
        if batch.error is None:
            return
        if isinstance(batch.error, _ROW_ERRORS):
            raise StoreRejected(f"{type(batch.error).__name__}: {batch.error}")
        raise StoreFailed(f"{type(batch.error).__name__}: {batch.error}")

    @property
    def healthy(self) -> bool:
        """Can the store take spans? False when its writer is gone or keeps failing."""
        return self._writer.is_alive() and self._failures_in_a_row < UNHEALTHY_AFTER

    def _write_loop(self, conn: sqlite3.Connection) -> None:
        next_retention = time.monotonic() + self.retention_interval_s
        while True:
            try:
                first = self._queue.get(timeout=1.0)
            except queue.Empty:
                first = _Batch([])
            batches = [first]
            # Group commit: take everything that queued up while we were busy.
            while True:
                try:
                    batches.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = None in batches
            live = [b for b in batches if b is not None and b.rows]
            # Nothing may end this loop but a stop: a dead writer would leave every later
            # export waiting. Whatever fails, fails the batches at hand, and the writer goes on.
            try:
                if live:
                    self._commit(conn, live)
                idle = not live and self._queue.empty()
                if self._uncheckpointed >= CHECKPOINT_SPANS or (idle and self._uncheckpointed):
                    self._checkpoint(conn)
                if time.monotonic() >= next_retention:
                    next_retention = time.monotonic() + self.retention_interval_s
                    self.enforce_retention(conn)
                    self._drop_unused_processes(conn)
            except Exception as err:
                log.exception("the span store's writer failed; it goes on")
                self._failed(err)
                self._finish(live, err)
            if stop:
                conn.close()
                return

    def _commit(self, conn: sqlite3.Connection, batches: list[_Batch]) -> None:
        try:
            self._insert(conn, batches)
        except Exception as err:  # each batch gets its answer below
            if len(batches) == 1:
                self._finish(batches, err)
                if not isinstance(err, _ROW_ERRORS):
                    self._failed(err)
                return
            # One request's rows may have failed the group: commit each on its own, so
            # only that request is refused.
            for batch in batches:
                self._commit(conn, [batch])
            return
        self._failures_in_a_row = 0
        self._finish(batches, None)

    def _insert(self, conn: sqlite3.Connection, batches: list[_Batch]) -> None:
        try:
            conn.execute("BEGIN")
            for batch in batches:
                conn.executemany(INSERT, self._with_process_ids(conn, batch.rows))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self._process_ids.clear()  # ids handed out in the rolled-back transaction
            raise
        self._uncheckpointed += sum(len(b.rows) for b in batches)

    def _finish(self, batches: list[_Batch], error: BaseException | None) -> None:
        """Answer the requests waiting for these batches (once each)."""
        for batch in batches:
            if batch.done.is_set():
                continue
            with self._pending_lock:
                self._pending -= len(batch.rows)
            batch.error = error
            batch.done.set()

    def _failed(self, err: BaseException) -> None:
        self._failures_in_a_row += 1
        self.last_failure = f"{type(err).__name__}: {err}"

    def _with_process_ids(
        self, conn: sqlite3.Connection, rows: list[tuple[Any, ...]]
    ) -> list[tuple[Any, ...]]:
        """Rows with their process JSON (last column) replaced by its id in ``processes``."""
        ids = self._process_ids
        if len(ids) > MAX_PROCESSES:
            ids.clear()
        for process in {row[-1] for row in rows} - ids.keys():
            conn.execute("INSERT OR IGNORE INTO processes (json) VALUES (?)", (process,))
            (ids[process],) = conn.execute(
                "SELECT id FROM processes WHERE json = ?", (process,)
            ).fetchone()
        return [(*row[:-1], ids[row[-1]]) for row in rows]

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        # PASSIVE: copies what no reader still needs and never waits; the next commit starts
        # the WAL over once everything is copied. Failing here loses nothing (the spans are
        # committed in the WAL), so the writer goes on.
        with contextlib.suppress(sqlite3.Error):
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        self._uncheckpointed = 0

    def enforce_retention(self, conn: sqlite3.Connection | None = None) -> int:
        """Delete spans past the age limit, then the oldest ones above the size limit."""
        conn = conn or self._reader()
        deleted = 0
        if self.max_age_s is not None:
            cutoff = time.time_ns() - int(self.max_age_s * 1e9)
            deleted += conn.execute("DELETE FROM spans WHERE start_ns < ?", (cutoff,)).rowcount
        if self.max_bytes is not None:
            while self.used_bytes(conn) > self.max_bytes:
                count = conn.execute("SELECT count(*) FROM spans").fetchone()[0]
                if not count:
                    break
                (cutoff,) = conn.execute(
                    "SELECT start_ns FROM spans ORDER BY start_ns LIMIT 1 OFFSET ?",
                    (max(count // 10, 1) - 1,),
                ).fetchone()
                deleted += conn.execute("DELETE FROM spans WHERE start_ns <= ?", (cutoff,)).rowcount
        return deleted

    def _drop_unused_processes(self, conn: sqlite3.Connection) -> None:
        # Writer thread only: its cache of process ids must not point at deleted rows. Rare
        # (every service instance that ever ran is one row), so a scan of the spans is fine.
        if conn.execute("SELECT count(*) FROM processes").fetchone()[0] > MAX_PROCESSES:
            conn.execute("DELETE FROM processes WHERE id NOT IN (SELECT process_id FROM spans)")
            self._process_ids.clear()

    def used_bytes(self, conn: sqlite3.Connection | None = None) -> int:
        conn = conn or self._reader()
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        return int((pages - free) * size)

    def close(self) -> None:
        """Commit what is queued, then stop the writer."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._writer.join()

    # --- reading -------------------------------------------------------------------------

    def get_trace_json(self, trace_id: str) -> bytes | None:
        """The trace as Jaeger's JSON trace object, or None when no span of it is stored."""
        rows = (
            self._reader()
            .execute(
                "SELECT body, processes.json FROM spans "
                "JOIN processes ON processes.id = process_id "
                "WHERE trace_id = ? ORDER BY start_ns",
                (trace_id,),
            )
            .fetchall()
        )
        if not rows:
            return None
        return assemble_trace(trace_id, rows)

    def get_trace(self, trace_id: str) -> Trace | None:
        from obskit.ingest import read_trace

        data = self.get_trace_json(trace_id)
        return None if data is None else read_trace(data, format="jaeger-json")

    def find_trace_ids(self, query: TraceQuery) -> list[str]:
        """Ids of the most recent matching traces, newest first (at most ``query.limit``)."""
        where, params = ["service = ?"], [query.service]
        if query.operation:
            where.append("operation = ?")
            params.append(query.operation)
        if query.start_ns is not None:
            where.append("start_ns >= ?")
            params.append(query.start_ns)
        if query.end_ns is not None:
            where.append("start_ns <= ?")
            params.append(query.end_ns)
        if query.min_duration_ns is not None:
            where.append("duration_ns >= ?")
            params.append(query.min_duration_ns)
        if query.max_duration_ns is not None:
            where.append("duration_ns <= ?")
            params.append(query.max_duration_ns)
        for key, value in query.tags.items():
            where.append(_TAG_MATCH)
            params.extend(_tag_params(key, value))
        # The process JSON is only needed to match tags.
        source = "spans JOIN processes ON processes.id = process_id" if query.tags else "spans"
        sql = f"SELECT trace_id FROM {source} WHERE {' AND '.join(where)} ORDER BY start_ns DESC"
        found: dict[str, None] = {}
        # Walk the (service, start) index newest first and stop at `limit` distinct traces.
        for (trace_id,) in self._reader().execute(sql, params):
            found[trace_id] = None
            if len(found) >= query.limit:
                break
        return list(found)

    def find_traces_json(self, query: TraceQuery) -> list[bytes]:
        found = (self.get_trace_json(trace_id) for trace_id in self.find_trace_ids(query))
        return [trace for trace in found if trace is not None]

    def find_traces(self, query: TraceQuery) -> list[Trace]:
        traces = (self.get_trace(trace_id) for trace_id in self.find_trace_ids(query))
        return [trace for trace in traces if trace is not None]

    def services(self) -> list[str]:
        rows = self._reader().execute("SELECT DISTINCT service FROM spans ORDER BY service")
        return [service for (service,) in rows]

    def operations(self, service: str) -> list[tuple[str, int]]:
        rows = self._reader().execute(
            "SELECT DISTINCT operation, kind FROM spans WHERE service = ? ORDER BY operation, kind",
            (service,),
        )
        return [(operation, kind) for operation, kind in rows]

    def dependencies(self, end_ns: int, lookback_ns: int) -> list[tuple[str, str, int]]:
        """(parent service, child service, calls) for spans started in the window."""
        rows = self._reader().execute(
            """
            SELECT parent.service, child.service, count(*)
            FROM spans AS child
            JOIN spans AS parent
              ON parent.trace_id = child.trace_id AND parent.span_id = child.parent_id
            WHERE child.start_ns BETWEEN ? AND ? AND parent.service != child.service
            GROUP BY parent.service, child.service
            ORDER BY parent.service, child.service
            """,
            (end_ns - lookback_ns, end_ns),
        )
        return [(parent, child, calls) for parent, child, calls in rows]

    def span_count(self) -> int:
        return int(self._reader().execute("SELECT count(*) FROM spans").fetchone()[0])


# A span matches a tag filter on one of its tags or its process's tags, compared as text (as
# Jaeger does: `error=true`, `http.status_code=500`). Key and value are bound, never spliced.
_TAG_VALUE = (
    "(CASE json_extract(t.value, '$.type') WHEN 'bool' THEN "
    "(CASE WHEN json_extract(t.value, '$.value') THEN 'true' ELSE 'false' END) "
    "ELSE CAST(json_extract(t.value, '$.value') AS TEXT) END)"
)
# A matching span's stored JSON contains the value's text (quoted or not): a byte search in C
# rules out most spans before any JSON is parsed.
_TAG_MATCH = (
    "((instr(body, ?) OR instr(processes.json, ?)) AND "
    "(EXISTS (SELECT 1 FROM json_each(CAST(body AS TEXT), '$.tags') AS t "
    f"WHERE json_extract(t.value, '$.key') = ? AND {_TAG_VALUE} = ?) "
    "OR EXISTS (SELECT 1 FROM json_each(CAST(processes.json AS TEXT), '$.tags') AS t "
    f"WHERE json_extract(t.value, '$.key') = ? AND {_TAG_VALUE} = ?)))"
)


def _tag_params(key: str, value: str) -> list[Any]:
    needle = orjson.dumps(value)[1:-1]  # the value as it appears inside the stored JSON
    return [needle, needle, key, value, key, value]


# --- layout ----------------------------------------------------------------------------------


def _prepare(conn: sqlite3.Connection, path: Path) -> None:
    """Create the tables in a new store, upgrade a format-1 store, refuse anything else."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    columns = {row[1] for row in conn.execute("PRAGMA table_info(spans)")}
    if version == 0 and not columns:
        conn.executescript(f"BEGIN; {SCHEMA} PRAGMA user_version = {FORMAT}; COMMIT;")
    elif version == 0 and "process" in columns:
        conn.executescript(MIGRATE_FROM_1.format(schema=SCHEMA))
    elif version != FORMAT:
        found = f"format {version}" if version else "an unknown layout"
        raise StoreFormatError(
            f"{path} holds a span store in {found}; this obskit reads format {FORMAT}: "
            "upgrade obskit, or move the data dir away (--data-dir)"
        )


# --- rows ----------------------------------------------------------------------------------


def span_rows(spans: Sequence[Span]) -> list[tuple[Any, ...]]:
    """Rows for spans; spans of one resource share one process JSON."""
    processes: dict[tuple[int, str], bytes] = {}
    rows = []
    for span in spans:
        key = (id(span.resource), span.service)
        process = processes.get(key)
        if process is None:
            process = processes[key] = orjson.dumps(process_to_jaeger(span), default=_jsonable)
        parent = ""
        for ref in span.references:
            if ref.ref_type is RefType.CHILD_OF:
                parent = ref.span_id
                break
        rows.append((
            span.trace_id, span.span_id, parent, span.service, span.name, int(span.kind),
            span.start_ns, span.duration_ns, int(span.is_error),
            orjson.dumps(span_to_jaeger(span), default=_jsonable), process,
        ))  # fmt: skip
    return rows


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        import base64

        return base64.b64encode(value).decode()
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    return str(value)
