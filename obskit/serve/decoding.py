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
import logging
import marshal
import multiprocessing
import queue
import signal
import sys
import threading
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from obskit.errors import InputError
from obskit.text import printable

log = logging.getLogger("obskit.serve")

Rows = list[tuple[Any, ...]]


class DecodeFailed(Exception):
    """The body is not a valid OTLP payload; the message says why."""


class WorkerDied(Exception):
    """A decode worker died twice on one body (out of memory?)."""


class PoolClosed(Exception):
    """The pool is shutting down."""


@dataclass
class Decoded:
    """What one body holds: the rows to store, or what is wrong with the body (``problem``);
    ``refused`` spans were left out (times out of range), each with its reason."""

    rows: Rows | None
    problem: str = ""
    refused: list[str] = field(default_factory=list)

    def marshal(self) -> bytes:
        return marshal.dumps((self.rows, self.problem, self.refused))

    @classmethod
    def unmarshal(cls, data: bytes) -> Decoded:
        return cls(*marshal.loads(data))


def decode_rows(payload: bytes, fmt: str) -> Decoded:
    """Decode a body. Nothing a body holds may escape as an exception: a worker that raised
    would die and be restarted for every such request. Errors travel as text: exceptions with
    their own constructors do not always survive the trip between processes."""
    from obskit.ingest import read_traces
    from obskit.serve.proto_rows import proto_rows
    from obskit.serve.store import span_rows

    refused: list[str] = []
    try:
        rows = proto_rows(payload) if fmt == "otlp-proto" else None
        if rows is not None:
            return Decoded(rows)
        traces = read_traces(payload, format=fmt, refused=refused)
        spans = [span for trace in traces for span in trace.spans]
        # inside: big OTLP/JSON keeps attributes as text, and a malformed one surfaces here
        return Decoded(span_rows(spans), "", refused)
    except InputError as err:
        return Decoded(None, str(err))
    except RecursionError:
        return Decoded(None, "values are nested too deeply")
    except Exception as err:  # a bug must cost this request, not the worker
        log.warning("decoding a %s body failed: %r", fmt, err)
        return Decoded(None, printable(f"cannot decode the body: {type(err).__name__}: {err}"))


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
        conn.send_bytes(decode_rows(payload, fmt).marshal())


class _Worker:
    def __init__(self, context: Any) -> None:
        self.conn, child = context.Pipe()
        # spawn, not fork: the server already runs threads (the store's writer) when it starts
        self.process = context.Process(
            target=_work, args=(child,), name="obskit-decode", daemon=True
        )
        self.process.start()
        child.close()

    def decode(self, payload: bytes, fmt: str) -> Decoded:
        self.conn.send_bytes(fmt.encode())
        self.conn.send_bytes(payload)
        return Decoded.unmarshal(self.conn.recv_bytes())

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

    def decode(self, payload: bytes, fmt: str) -> Decoded:
        """The body's rows (and refused spans); DecodeFailed when it cannot be read."""
        decoded = self._in_worker(payload, fmt) if self.workers else decode_rows(payload, fmt)
        if decoded.rows is None:
            raise DecodeFailed(decoded.problem)
        return decoded

    def rows(self, payload: bytes, fmt: str) -> Rows:
        rows = self.decode(payload, fmt).rows
        assert rows is not None
        return rows

    def _in_worker(self, payload: bytes, fmt: str) -> Decoded:
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
