"""The HTTP layer: retries with backoff on 429/5xx (Retry-After honoured), timeouts, refused
connections, cut-off and oversized bodies, auth and CA settings. Real sockets on loopback."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from obskit.errors import BackendError, InputError
from obskit.sources.http import HttpClient, HttpSettings, settings_from_env
from tests.conftest import free_port
from tests.sources.backend import Answer, serve

START_HINT = (
    "is the backend running? Start one with `obskit serve`, or `docker compose up -d` in the "
    "directory `obskit init` generated"
)


def client(**kwargs: object) -> HttpClient:
    settings = {"timeout_s": 5.0, "backoff_s": 0.0, **kwargs}
    return HttpClient(HttpSettings(**settings))  # type: ignore[arg-type]


def test_500_then_200_is_retried() -> None:
    routes = {"/x": [Answer(500, b"storage hiccup"), Answer(200, b"ok")]}
    with serve(routes) as backend:
        answer = client().get(backend.url + "/x", what="Jaeger")
    assert (answer.status, answer.body, answer.retries) == (200, b"ok", 1)
    assert backend.paths() == ["/x", "/x"]


def test_retry_after_is_honoured_on_429() -> None:
    routes = {"/x": [Answer(429, b"slow down", headers={"Retry-After": "1"}), Answer(200, b"ok")]}
    with serve(routes) as backend:
        started = time.monotonic()
        answer = client().get(backend.url + "/x", what="Tempo")
        waited = time.monotonic() - started
    assert answer.status == 200
    assert waited >= 0.9


def test_retries_give_up_with_the_last_answer() -> None:
    routes = {"/x": Answer(503, b"overloaded\nmore detail", "text/plain")}
    with serve(routes) as backend:
        answer = client(retries=2).get(backend.url + "/x", what="Tempo")
    assert (answer.status, answer.retries) == (503, 2)
    assert answer.text_line == "overloaded"
    assert len(backend.paths()) == 3


def test_4xx_is_not_retried() -> None:
    with serve({"/x": Answer(400, b"bad")}) as backend:
        answer = client().get(backend.url + "/x", what="Tempo")
    assert answer.status == 400
    assert backend.paths() == ["/x"]


def test_timeout() -> None:
    with serve({"/x": Answer(200, b"late", delay_s=5)}) as backend:
        started = time.monotonic()
        with pytest.raises(BackendError) as err:
            client(timeout_s=0.3).get(backend.url + "/x", what="Jaeger")
        assert time.monotonic() - started < 2  # a read timeout is not retried
    assert str(err.value) == (
        f"Jaeger did not answer within 0.3 s ({backend.url}/x) "
        "(raise --timeout (or OBSKIT_TIMEOUT) if the backend is just slow)"
    )


def test_connection_refused() -> None:
    url = f"http://127.0.0.1:{free_port()}/api/traces/abc"
    with pytest.raises(BackendError) as err:
        client().get(url, what="Jaeger")
    assert str(err.value) == f"cannot connect to Jaeger at {url}: connection refused ({START_HINT})"
    assert err.value.exit_code == 3


def test_truncated_body() -> None:
    cut = Answer(200, b"x" * 1000, cut_at=400)
    with serve({"/x": cut}) as backend, pytest.raises(BackendError) as err:
        client().get(backend.url + "/x", what="Tempo")
    assert (
        err.value.message == f"Tempo's answer was cut off after 400 of 1000 bytes ({backend.url}/x)"
    )


def test_size_limit_from_content_length() -> None:
    with serve({"/x": Answer(200, b"y" * 5000)}) as backend, pytest.raises(BackendError) as err:
        client(max_bytes=1000).get(backend.url + "/x", what="Tempo")
    assert err.value.message == f"Tempo's answer is larger than 1000 bytes ({backend.url}/x)"


def test_size_limit_while_reading_a_body_without_length() -> None:
    body = b"z" * (3 * 1024 * 1024)
    with serve({"/x": Answer(200, body, no_length=True)}) as backend:
        with pytest.raises(BackendError) as err:
            client(max_bytes=2 * 1024 * 1024).get(backend.url + "/x", what="Tempo")
        assert client().get(backend.url + "/x", what="Tempo").body == body
    assert err.value.message == f"Tempo's answer is larger than 2097152 bytes ({backend.url}/x)"


def test_bearer_token_from_a_file(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    settings = settings_from_env({"OBSKIT_BACKEND_TOKEN_FILE": str(token)})
    with serve({"/x": Answer(200, b"ok")}) as backend:
        HttpClient(settings).get(backend.url + "/x", what="Tempo")
    assert backend.requests[0][1]["Authorization"] == "Bearer s3cret"
    assert "s3cret" not in repr(settings)


def test_basic_auth_password_from_a_file(tmp_path: Path) -> None:
    password = tmp_path / "pw"
    password.write_text("hunter2")
    env = {"OBSKIT_BACKEND_USER": "ops", "OBSKIT_BACKEND_PASSWORD_FILE": str(password)}
    with serve({"/x": Answer(200, b"ok")}) as backend:
        HttpClient(settings_from_env(env)).get(backend.url + "/x", what="Tempo")
    assert backend.requests[0][1]["Authorization"] == "Basic b3BzOmh1bnRlcjI="


def test_auth_settings_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        settings_from_env({"OBSKIT_BACKEND_USER": "ops"})
    assert str(err.value) == (
        "OBSKIT_BACKEND_USER is set but OBSKIT_BACKEND_PASSWORD_FILE is not (put the password "
        "in a file and point OBSKIT_BACKEND_PASSWORD_FILE at it)"
    )
    missing = tmp_path / "nope"
    with pytest.raises(InputError) as err:
        settings_from_env({"OBSKIT_BACKEND_TOKEN_FILE": str(missing)})
    assert (
        str(err.value)
        == f"OBSKIT_BACKEND_TOKEN_FILE: cannot read {missing}: No such file or directory"
    )
    with pytest.raises(InputError) as err:
        settings_from_env({"OBSKIT_CA_BUNDLE": str(missing)})
    assert str(err.value) == f"CA bundle {missing}: no such file"
    with pytest.raises(InputError) as err:
        settings_from_env({"OBSKIT_TIMEOUT": "soon"})
    assert str(err.value) == "OBSKIT_TIMEOUT must be a positive number, got 'soon'"


def test_ca_bundle_is_used_for_verification(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    http = HttpClient(settings_from_env({}, ca_bundle=str(bundle)))
    assert http.session.verify == str(bundle)
