"""Fetch a trace and read it: one (:func:`fetch_trace`, what ``obskit analyze --trace-id``
does), or many in parallel, with bounded concurrency, keeping going when some fail.

:func:`fetch_traces` yields every trace as it arrives, ``concurrency`` requests in flight
(threads: the work is waiting on the network; decoding releases nothing, but it is small
against a round trip). A trace that cannot be fetched (a 500 after the client's retries, a
404, an unreadable body) becomes a :class:`Failure` that the caller reports; the run goes on.
Only when *every* fetch failed does it raise, with the first reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from obskit.errors import BackendError, InputError, ObskitError
from obskit.model import Trace
from obskit.sources import TraceSource

DEFAULT_CONCURRENCY = 8
Progress = Callable[[int, int], None]  # (done, total)


@dataclass(frozen=True, slots=True)
class Failure:
    trace_id: str
    message: str


def fetch_trace(source: TraceSource, trace_id: str | None) -> Trace:
    """The trace ``trace_id`` from ``source``, read into the model (a file source: the one
    trace its file holds, or ``trace_id`` among several)."""
    from obskit.ingest import read_trace

    payload = source.fetch(trace_id)
    try:
        return read_trace(payload.data, trace_id=trace_id.rjust(32, "0") if trace_id else None)
    except InputError as err:
        if payload.remote:
            # The backend said 200 but sent something that is not a trace (a proxy's page,
            # a body cut short without a Content-Length): that is the backend's failure.
            raise BackendError(
                f"{source.description} sent an answer that is not a readable trace "
                f"({payload.origin}): {err}"
            ) from None
        raise


def fetch_traces(
    source: TraceSource,
    trace_ids: Iterable[str],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: Progress | None = None,
    failures: list[Failure] | None = None,
    fetch: Callable[[TraceSource, str], Trace] = fetch_trace,
) -> Iterator[Trace]:
    """Traces in completion order; failures go to ``failures`` (a list the caller owns)."""
    ids = list(dict.fromkeys(trace_ids))
    total = len(ids)
    failed = failures if failures is not None else []
    first_failure = len(failed)
    client = getattr(source, "client", None)
    if client is not None:
        client.session  # noqa: B018 - create the session before the threads share it
    done = delivered = 0
    if progress:
        progress(0, total)
    pending: dict[Future[Trace], str] = {}
    todo = iter(ids)
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="fetch") as pool:
        try:
            # at most 2 × concurrency traces held at once, whatever the total
            for trace_id in todo:
                pending[pool.submit(fetch, source, trace_id)] = trace_id
                if len(pending) >= 2 * concurrency:
                    break
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    trace_id = pending.pop(future)
                    done += 1
                    try:
                        trace = future.result()
                    except ObskitError as err:
                        failed.append(Failure(trace_id, str(err)))
                    else:
                        delivered += 1
                        yield trace
                    if progress:
                        progress(done, total)
                    nxt = next(todo, None)
                    if nxt is not None:
                        pending[pool.submit(fetch, source, nxt)] = nxt
        finally:
            for future in pending:
                future.cancel()
    if total and not delivered:
        first = failed[first_failure]
        raise BackendError(
            f"none of the {total} traces found could be fetched; the first failed with: "
            f"{first.message}"
        )
