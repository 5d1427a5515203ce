"""Shared test helpers: where things are, free ports, waiting for servers."""

from __future__ import annotations

import socket
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Recorded traces, Grafana dashboards and schemas, copied into the repository with their
# SOURCES.md (origin, licence, what each file shows): a clone needs nothing beside it.
FIXTURES = REPO / "tests" / "fixtures"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, timeout: float = 20.0) -> None:
    """Poll ``url`` until it answers 2xx, or fail the test."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError as err:
            last = err
            time.sleep(0.05)
    raise TimeoutError(f"{url} not ready after {timeout}s: {last}")


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.fail(f"test fixtures not found at {FIXTURES}")
    return FIXTURES
