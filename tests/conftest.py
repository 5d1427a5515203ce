"""Shared test helpers: where things are, free ports, waiting for servers."""

from __future__ import annotations

import os
import shutil
import socket
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Recorded traces, Grafana dashboards and schemas, copied into the repository with their
# SOURCES.md (origin, licence, what each file shows): a clone needs nothing beside it.
FIXTURES = REPO / "tests" / "fixtures"


# Under CI a missing server is a failure, never a skip: CI must not go green by skipping.
UNDER_CI = os.environ.get("CI") == "true"


def pytest_runtest_setup(item: pytest.Item) -> None:
    """``@pytest.mark.needs("promtool", hint="apt-get install prometheus")``: the binaries a
    live test runs. Missing ones skip the test with the hint when run by hand, and fail it in CI."""
    for mark in item.iter_markers("needs"):
        missing = [name for name in mark.args if shutil.which(name) is None]
        if missing:
            message = f"needs {', '.join(missing)}: {mark.kwargs['hint']}"
            if UNDER_CI:
                pytest.fail(f"{message} (CI=true: a missing binary fails)", pytrace=False)
            pytest.skip(message)


def require_pinned(binary: str, *, stand_in: bool = False) -> str:
    """The pinned version of a server's binary, from the cache ``tests/stack/peers/build``
    fills. Missing: the test skips with the build command by hand, and fails under CI=true.
    ``stand_in`` accepts the version built instead when the pinned one cannot be built here
    (Jaeger); a test that takes it must say so. A version this project's machines cannot
    build (obskit.stack.servers.NOT_BUILDABLE) is reported as not run, with the reason."""
    from obskit.stack.servers import cached_binary, server_of, why_not_buildable

    found = cached_binary(binary, stand_in=stand_in)
    if found is None:
        server = server_of(binary)
        why_not = why_not_buildable(server)
        if why_not and not (stand_in and server.stand_in):
            pytest.skip(f"not run: {binary} {server.version} cannot be built here: {why_not}")
        message = (
            f"needs {binary} {server.version} (the pinned version):"
            f" run tests/stack/peers/build {server.name}"
        )
        if UNDER_CI:
            pytest.fail(f"{message} (CI=true: a missing binary fails)", pytrace=False)
        pytest.skip(message)
    return str(found)


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
