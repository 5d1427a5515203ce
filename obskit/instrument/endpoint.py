"""Whether the OTLP endpoint answers: checked beside the service as it starts, never before it.

A service pointed at nothing still runs; the SDK only logs a retry warning now and then, and
every span is dropped. One line when the service starts says so while it is easy to fix.
"""

from __future__ import annotations

import socket
import sys
import threading
from urllib.parse import urlsplit

from obskit.instrument.settings import GRPC, Settings

CONNECT_TIMEOUT_S = 3.0
_DEFAULT_PORTS = {"http": 80, "https": 443}


def transport(settings: Settings) -> str:
    return "OTLP/gRPC" if settings.protocol == GRPC else "OTLP/HTTP"


def unanswered(settings: Settings, timeout: float = CONNECT_TIMEOUT_S) -> str | None:
    """The warning to print when nothing accepts a connection at the endpoint, else None."""
    url = urlsplit(settings.endpoint)
    try:
        port = url.port or _DEFAULT_PORTS.get(url.scheme, 80)
    except ValueError:
        return None  # resolve() checked the URL; nothing more to say here
    host = url.hostname or "localhost"
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        return None
    except OSError as err:
        why = err.strerror or str(err) or type(err).__name__
    return (
        f"Warning: nothing answers at {settings.endpoint} ({transport(settings)}: {why.lower()}); "
        "the service runs but its spans are dropped: start `obskit serve` (or the collector) "
        "there, or pass --endpoint"
    )


def warn_if_unanswered(settings: Settings) -> threading.Thread:
    """Check in a daemon thread and print the warning to stderr; the caller does not wait."""

    def check() -> None:
        warning = unanswered(settings)
        if warning:
            print(warning, file=sys.stderr, flush=True)

    thread = threading.Thread(target=check, name="obskit-endpoint-check", daemon=True)
    thread.start()
    return thread
