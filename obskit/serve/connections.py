"""Client connections: limits that keep slow or greedy clients from blocking everyone.

waitress closes a connection idle for ``channel_timeout`` and stops accepting at
``connection_limit``, but a client that sends one header byte every few seconds is never idle,
and 100 of them fill the limit: ingestion stops for everyone (slowloris). So a connection also
has to finish its request's headers within ``header_timeout_s`` and the whole request within
``request_timeout_s``, and one client address may hold at most ``per_client`` connections,
well below the total.
"""

from __future__ import annotations

import logging
import time
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from waitress.channel import HTTPChannel

log = logging.getLogger("obskit.serve")


@dataclass(frozen=True)
class ConnectionLimits:
    per_client: int = 64  # connections from one address
    # connections to the waitress ports (OTLP/HTTP and query): waitress's connection_limit
    total: int = 512
    header_timeout_s: float = 10.0  # from a request's first byte to the end of its headers
    request_timeout_s: float = 60.0  # ... to the end of its body
    idle_timeout_s: int = 60  # a keep-alive connection with no request in flight


def channel_class(limits: ConnectionLimits) -> type[HTTPChannel]:
    """waitress's channel, held to ``limits``."""

    class GuardedChannel(HTTPChannel):  # type: ignore[misc]  # waitress has no type hints
        request_started = 0.0

        def __init__(
            self, server: Any, sock: Any, addr: Any, adj: Any, map: MutableMapping[int, Any]
        ) -> None:
            self.client = addr[0] if isinstance(addr, tuple) else str(addr)
            super().__init__(server, sock, addr, adj, map=map)
            held = sum(
                1
                for channel in map.values()
                if isinstance(channel, GuardedChannel) and channel.client == self.client
            )
            if held > limits.per_client:
                _warn_now_and_then(
                    "refusing connections: %s already holds %d", self.client, held - 1
                )
                self.handle_close()

        def received(self, data: bytes) -> bool:
            if self.request is None and data:
                self.request_started = time.monotonic()
            return bool(super().received(data))

        def overdue(self, now: float) -> bool:
            """Is the request being received taking longer than the limits allow?"""
            request = self.request
            if request is None or request.completed or self.requests:
                return False
            age = now - self.request_started
            if not request.headers_finished:
                return age > limits.header_timeout_s
            return age > limits.request_timeout_s

    return GuardedChannel


_last_warning = 0.0
WARN_EVERY_S = 10.0  # under attack, the log gets a line now and then, not one per connection


def _warn_now_and_then(message: str, *args: Any) -> None:
    global _last_warning
    now = time.monotonic()
    if now - _last_warning >= WARN_EVERY_S:
        _last_warning = now
        log.warning(message, *args)


def close_overdue(channels: MutableMapping[int, Any]) -> int:
    """Mark overdue connections to be closed (on the event loop's thread); returns how many."""
    now = time.monotonic()
    closed = 0
    for channel in list(channels.values()):
        overdue = getattr(channel, "overdue", None)
        if overdue is not None and not channel.will_close and overdue(now):
            channel.will_close = True
            closed += 1
    if closed:
        _warn_now_and_then("closed %d connection(s) too slow to send their request", closed)
    return closed
