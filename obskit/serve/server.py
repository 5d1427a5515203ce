"""Run the embedded backend: two waitress servers (OTLP/HTTP and query) on one event loop, and
the OTLP/gRPC server on its own threads, all writing to one store."""

from __future__ import annotations

import ipaddress
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from obskit.errors import InputError
from obskit.serve.app import OtlpApp, QueryApp
from obskit.serve.connections import ConnectionLimits, channel_class, close_overdue
from obskit.serve.decoding import DecodePool
from obskit.serve.grpc_receiver import GrpcReceiver
from obskit.serve.metrics import ServeMetrics
from obskit.serve.receiver import Limits
from obskit.serve.store import SpanStore

log = logging.getLogger("obskit.serve")
# How often connections too slow to send their request are looked for.
SWEEP_INTERVAL_S = 0.5


@dataclass
class ServeConfig:
    host: str = "127.0.0.1"
    otlp_port: int = 4318
    grpc_port: int = 4317
    query_port: int = 16686
    data_dir: Path = Path(".obskit")
    limits: Limits = field(default_factory=Limits)
    connections: ConnectionLimits = field(default_factory=ConnectionLimits)
    max_age_s: float | None = 7 * 24 * 3600
    max_bytes: int | None = 1 << 30
    max_pending_spans: int = 100_000
    threads: int = 4
    # processes decoding OTLP bodies; 0 decodes in the server process
    decode_workers: int = field(default_factory=lambda: default_decode_workers())


def default_decode_workers() -> int:
    """One per core, at most 4; none on one core. Decoding is most of the CPU a span costs
    and one worker serializes the requests in flight: on 2 cores, a second worker takes the
    export p50 from ~90 to ~45 ms at 20,000 spans/s. Past 4, the store's single writer is the
    limit."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1
    return min(cores, 4) if cores > 1 else 0


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Backend:
    """The running backend. ``start()`` binds every port (OTLP/HTTP, OTLP/gRPC, query);
    ``run()`` serves until ``stop()`` (or SIGTERM/SIGINT when run from the main thread);
    ``close()`` commits and releases."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.store = SpanStore(
            config.data_dir,
            max_pending_spans=config.max_pending_spans,
            max_age_s=config.max_age_s,
            max_bytes=config.max_bytes,
        )
        self.metrics = ServeMetrics(self.store.used_bytes, lambda: self.store.pending_spans)
        self.decoder = DecodePool(config.decode_workers)
        self._map: dict[int, Any] = {}
        self._servers: list[Any] = []
        self._grpc: GrpcReceiver | None = None
        self._stopping = False

    def start(self) -> None:
        from waitress.server import create_server

        body_cap = self.config.limits.max_body_bytes * 2
        otlp = OtlpApp(self.store, self.metrics, self.config.limits, self.decoder)
        connections = self.config.connections
        guarded = channel_class(connections)
        for app, port in (
            (otlp, self.config.otlp_port),
            (QueryApp(self.store, self.metrics), self.config.query_port),
        ):
            try:
                server = create_server(
                    app,
                    map=self._map,
                    host=self.config.host,
                    port=port,
                    threads=self.config.threads,
                    max_request_body_size=body_cap,
                    ident="obskit",
                    clear_untrusted_proxy_headers=True,
                    connection_limit=connections.total,
                    channel_timeout=connections.idle_timeout_s,
                )
            except OSError as err:
                self.close()
                raise InputError(
                    f"cannot listen on {self.config.host}:{port}: {err.strerror or err}; "
                    "pick another port (--otlp-port / --query-port) or stop what uses it"
                ) from None
            self._servers.append(server)
        for dispatcher in self._map.values():  # every listening socket (one per address)
            if hasattr(dispatcher, "channel_class"):
                dispatcher.channel_class = guarded
        try:
            self._grpc = GrpcReceiver(
                otlp.ingest,
                self.metrics,
                self.config.limits,
                self.config.host,
                self.config.grpc_port,
                self.config.threads,
            )
        except InputError:
            self.close()
            raise
        self._grpc.start()

    @property
    def grpc_port(self) -> int:
        assert self._grpc is not None
        return self._grpc.port

    @property
    def otlp_port(self) -> int:
        return int(self._servers[0].effective_port)

    @property
    def query_port(self) -> int:
        return int(self._servers[1].effective_port)

    def run(self, on_ready: Callable[[], None] | None = None) -> None:
        from waitress import wasyncore

        if on_ready:
            on_ready()
        next_sweep = 0.0
        try:
            while not self._stopping and self._map:
                wasyncore.loop(timeout=0.5, map=self._map, count=1, use_poll=True)
                if time.monotonic() >= next_sweep:
                    close_overdue(self._map)
                    next_sweep = time.monotonic() + SWEEP_INTERVAL_S
        except (SystemExit, KeyboardInterrupt):
            pass
        finally:
            self.close()

    def stop(self, *_: Any) -> None:
        self._stopping = True

    def install_signal_handlers(self) -> None:
        def handler(signum: int, frame: FrameType | None) -> None:
            self.stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def close(self) -> None:
        """Stop accepting, finish in-flight requests, commit what is queued."""
        from waitress import wasyncore

        for server in self._servers:
            server.close()  # the listening socket: no new connections
        if self._grpc is not None:
            self._grpc.stop(grace_s=10)
            self._grpc = None
        for server in self._servers:
            server.task_dispatcher.shutdown(timeout=10)
        wasyncore.close_all(self._map)
        self._servers = []
        self.decoder.close()
        self.store.close()
