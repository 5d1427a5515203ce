"""Recorded Jaeger and Tempo backends, one per API generation, served over real HTTP on
loopback for the whole session (they are read-only: each test only asks)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.sources.backend import (
    BOOKINFO_ID,
    Answer,
    jaeger_v1_routes,
    jaeger_v3_routes,
    serve,
    tempo_v1_routes,
    tempo_v2_body,
)


@pytest.fixture(scope="session")
def jaeger_v1() -> Iterator[str]:
    with serve(jaeger_v1_routes()) as backend:
        yield backend.url


@pytest.fixture(scope="session")
def jaeger_v3() -> Iterator[str]:
    with serve(jaeger_v3_routes()) as backend:
        yield backend.url


@pytest.fixture(scope="session")
def tempo_v1() -> Iterator[str]:
    with serve(tempo_v1_routes()) as backend:
        yield backend.url


@pytest.fixture(scope="session")
def tempo_v2() -> Iterator[str]:
    with serve({f"/api/v2/traces/{BOOKINFO_ID}": Answer(200, tempo_v2_body())}) as backend:
        yield backend.url


@pytest.fixture(autouse=True)
def clean_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No backend URL, token or obskit.yaml leaks in from the machine running the tests."""
    for name in (
        "OBSKIT_JAEGER_URL",
        "OBSKIT_TEMPO_URL",
        "OBSKIT_BACKEND_TOKEN",
        "OBSKIT_BACKEND_TOKEN_FILE",
        "OBSKIT_BACKEND_USER",
        "OBSKIT_BACKEND_PASSWORD_FILE",
        "OBSKIT_CA_BUNDLE",
        "OBSKIT_TIMEOUT",
        "OBSKIT_RETRIES",
        "OBSKIT_MAX_RESPONSE_BYTES",
        "NO_COLOR",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
