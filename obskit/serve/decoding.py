"""Turning OTLP request bodies into store rows, in this process or in a pool of processes.

Decoding protobuf and building each span's Jaeger JSON is pure Python and holds the GIL; in
one process it caps ingestion at one core. ``DecodePool`` runs it in worker processes, so the
server process only moves bytes, and SQLite (which releases the GIL) inserts in parallel.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import signal
import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from obskit.errors import InputError

Rows = list[tuple[Any, ...]]


class DecodeFailed(Exception):
    """The body is not a valid OTLP payload; the message says why."""


def decode_rows(payload: bytes, fmt: str) -> tuple[Rows | None, str]:
    """(rows, "") or (None, what is wrong). Errors travel as text: exceptions with their own
    constructors do not always survive pickling between processes."""
    from obskit.ingest import read_traces
    from obskit.serve.store import span_rows

    try:
        spans = [span for trace in read_traces(payload, format=fmt) for span in trace.spans]
    except InputError as err:
        return None, str(err)
    return span_rows(spans), ""


def _die_with_parent() -> None:
    # A worker must not outlive the server, also when the server is killed with SIGKILL.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class DecodePool:
    """``workers`` processes decoding bodies; 0 decodes in the calling thread."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        if workers:
            self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        # spawn, not fork: the server already runs threads (the store's writer) when it starts
        context = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(self.workers, mp_context=context, initializer=_die_with_parent)
        pool.submit(decode_rows, b"", "otlp-proto").result()  # start the workers now
        return pool

    def rows(self, payload: bytes, fmt: str) -> Rows:
        if self._pool is None:
            rows, problem = decode_rows(payload, fmt)
        else:
            try:
                rows, problem = self._pool.submit(decode_rows, payload, fmt).result()
            except BrokenProcessPool:
                self._pool = self._start()  # a worker died (out of memory?): start afresh
                rows, problem = self._pool.submit(decode_rows, payload, fmt).result()
        if rows is None:
            raise DecodeFailed(problem)
        return rows

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
