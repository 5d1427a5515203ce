"""Turning OTLP request bodies into store rows, in this process or in a pool of processes.

Decoding protobuf and building each span's Jaeger JSON is pure Python and holds the GIL; in
one process it caps ingestion at one core. ``DecodePool`` runs it in worker processes, so the
server process only moves bytes, and SQLite (which releases the GIL) inserts in parallel.

Each worker is a process at the end of its own pipe: the request thread sends the body and
reads the rows back itself. (``concurrent.futures.ProcessPoolExecutor`` routes every result
through a manager thread and pickles it; that cost the server process ~3 µs of CPU per span.)
Rows travel as one ``marshal`` blob: both ends are this interpreter, and rows are only tuples
of str, int and bytes, which marshal encodes faster than pickle.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import marshal
import multiprocessing
import queue
import signal
import sys
import threading
from multiprocessing.connection import Connection
from typing import Any

from obskit.errors import InputError

Rows = list[tuple[Any, ...]]


class DecodeFailed(Exception):
    """The body is not a valid OTLP payload; the message says why."""


class WorkerDied(Exception):
    """A decode worker died twice on one body (out of memory?)."""


class PoolClosed(Exception):
    """The pool is shutting down."""


def decode_rows(payload: bytes, fmt: str) -> tuple[Rows | None, str]:
    """(rows, "") or (None, what is wrong). Errors travel as text: exceptions with their own
    constructors do not always survive the trip between processes."""
    from obskit.ingest import read_traces
    from obskit.serve.store import span_rows

    try:
        spans = [span for trace in read_traces(payload, format=fmt) for span in trace.spans]
        # inside: big OTLP/JSON keeps attributes as text, and a malformed one surfaces here
        return span_rows(spans), ""
    except InputError as err:
        return None, str(err)


def _die_with_parent() -> None:
    # A worker must not outlive the server, also when the server is killed with SIGKILL.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _work(conn: Connection) -> None:
    """A worker's life: (format, body) in, marshalled (rows, problem) out, until EOF."""
    _die_with_parent()
    # Decoding builds thousands of objects per body and no reference cycles; the cyclic
    # collector's frequent passes over them cost ~10% of the worker's time for nothing.
    gc.set_threshold(100_000, 50, 100)
    while True:
        try:
            fmt = conn.recv_bytes().decode()
            payload = conn.recv_bytes()
        except (EOFError, OSError):
            return  # the server closed its end
        conn.send_bytes(marshal.dumps(decode_rows(payload, fmt)))


class _Worker:
    def __init__(self, context: Any) -> None:
        self.conn, child = context.Pipe()
        # spawn, not fork: the server already runs threads (the store's writer) when it starts
        self.process = context.Process(
            target=_work, args=(child,), name="obskit-decode", daemon=True
        )
        self.process.start()
        child.close()

    def decode(self, payload: bytes, fmt: str) -> tuple[Rows | None, str]:
        self.conn.send_bytes(fmt.encode())
        self.conn.send_bytes(payload)
        rows, problem = marshal.loads(self.conn.recv_bytes())
        return rows, problem

    def close(self) -> None:
        self.conn.close()  # the worker sees EOF and exits
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)


class DecodePool:
    """``workers`` processes decoding bodies; 0 decodes in the calling thread."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._context = multiprocessing.get_context("spawn")
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self._closed = False
        for _ in range(workers):
            self._add(self._start())

    def _start(self) -> _Worker:
        worker = _Worker(self._context)
        worker.decode(b"", "otlp-proto")  # wait until it has imported everything
        return worker

    def _add(self, worker: _Worker) -> None:
        with self._lock:
            self._all.append(worker)
        self._idle.put(worker)

    def rows(self, payload: bytes, fmt: str) -> Rows:
        if not self.workers:
            rows, problem = decode_rows(payload, fmt)
        else:
            rows, problem = self._in_worker(payload, fmt)
        if rows is None:
            raise DecodeFailed(problem)
        return rows

    def _in_worker(self, payload: bytes, fmt: str) -> tuple[Rows | None, str]:
        if self._closed:
            raise PoolClosed("the decode workers are shutting down")
        worker: _Worker | None = self._idle.get()
        try:
            for _attempt in range(2):
                assert worker is not None
                try:
                    return worker.decode(payload, fmt)
                except (EOFError, OSError):
                    # The worker died (out of memory?): replace it and try once more.
                    self._discard(worker)
                    worker = None
                    if self._closed:
                        raise PoolClosed("the decode workers are shutting down") from None
                    worker = self._start()
                    with self._lock:
                        self._all.append(worker)
            raise WorkerDied("a decode worker died twice on this body")
        finally:
            if worker is not None:
                self._idle.put(worker)

    def _discard(self, worker: _Worker) -> None:
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)
        worker.close()

    def pids(self) -> list[int]:
        with self._lock:
            return [w.process.pid for w in self._all if w.process.pid is not None]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._lock:
            workers, self._all = self._all, []
        for worker in workers:
            worker.close()
