"""Whole traces on the stacks Python teams run, each app really served under `obskit
instrument` on loopback and exporting to the test OTLP receiver: one trace id from the first
server span to the last, every parent id right.

Without an instrumentation (a venv that really lacks its distribution), each launcher says
so before the service starts, in one block naming what breaks and the pip command; with
--strict it exits 2 and starts nothing.
"""

from __future__ import annotations

import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.instrument.otlp_receiver import Receiver
from tests.instrument.stacks.running import (
    STACKS,
    Running,
    chain,
    instrumented,
    start_redis,
    venv_without,
)

pytestmark = pytest.mark.slow
FAST_EXPORT = {"OTEL_BSP_SCHEDULE_DELAY": "100"}
REDIS_HINT = "apt-get install redis-server"
# hidden in the venv of the block tests: one instrumentation of each launcher's stack
HIDDEN = (
    "opentelemetry-instrumentation-httpx",
    "opentelemetry-instrumentation-aiohttp-client",
    "opentelemetry-instrumentation-django",
    "opentelemetry-instrumentation-celery",
)


def get(port: int, path: str) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as answer:
        assert answer.status == 200
        return answer.read()


@pytest.fixture(scope="module")
def fastapi_app(receiver: Receiver, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """fa.py on uvicorn under obskit; its port."""
    port = free_port()
    log = tmp_path_factory.mktemp("fa") / "fa.log"
    argv = instrumented(sys.executable, "fa", receiver.endpoint, free_port(),
                        ["uvicorn", "fa:app", "--host", "127.0.0.1", "--port", str(port)])  # fmt: skip
    app = Running(argv, cwd=STACKS / "fastapi", log=log, env={"APP_PORT": str(port), **FAST_EXPORT})
    try:
        app.wait_listening(port)
        yield port
    finally:
        app.stop()


# fa SERVER GET /chain ─┬─ fa CLIENT GET (httpx) ── fa SERVER GET /hello
def test_fastapi_on_uvicorn_calling_itself_with_httpx(fastapi_app: int, receiver: Receiver) -> None:
    assert get(fastapi_app, "/chain") == b'{"downstream":{"hello":"world"}}'
    top, call, callee = receiver.wait_for(
        lambda spans: chain(spans, "fa", "/chain", "CLIENT", "SERVER"), timeout=30
    )
    assert call["scope"] == "opentelemetry.instrumentation.httpx"
    assert call["attributes"]["url.full"] == f"http://127.0.0.1:{fastapi_app}/hello"
    assert (callee["service"], callee["attributes"]["http.route"]) == ("fa", "/hello")
    assert top["trace_id"] == call["trace_id"] == callee["trace_id"]
    assert top["parent_span_id"] == ""


# fa SERVER GET /chain-aiohttp ─┬─ fa CLIENT GET (aiohttp) ── fa SERVER GET /hello
def test_aiohttp_client_call(fastapi_app: int, receiver: Receiver) -> None:
    assert get(fastapi_app, "/chain-aiohttp") == b'{"downstream":{"hello":"world"}}'
    top, call, callee = receiver.wait_for(
        lambda spans: chain(spans, "fa", "/chain-aiohttp", "CLIENT", "SERVER"), timeout=30
    )
    assert call["scope"] == "opentelemetry.instrumentation.aiohttp_client"
    assert callee["attributes"]["http.route"] == "/hello"
    assert top["trace_id"] == call["trace_id"] == callee["trace_id"]


# dj SERVER GET chain ── dj CLIENT GET (requests) ── dj SERVER GET hello
def test_django_on_gunicorn_calling_with_requests(receiver: Receiver, tmp_path: Path) -> None:
    port = free_port()
    # no DJANGO_SETTINGS_MODULE: obskit takes it from wsgi.py (the Django instrumentation
    # would otherwise configure empty settings and every request would fail)
    command = ["gunicorn", "--bind", f"127.0.0.1:{port}", "--threads", "4",
               "--control-socket", str(tmp_path / "gunicorn.ctl"), "mysite.wsgi"]  # fmt: skip
    app = Running(instrumented(sys.executable, "dj", receiver.endpoint, free_port(), command),
                  cwd=STACKS / "django", log=tmp_path / "dj.log",
                  env={"APP_PORT": str(port), "DJANGO_SETTINGS_MODULE": "", **FAST_EXPORT})  # fmt: skip
    try:
        app.wait_listening(port)
        assert get(port, "/chain") == b'{"downstream": {"hello": "world"}}'
        top, call, callee = receiver.wait_for(
            lambda spans: chain(spans, "dj", "chain", "CLIENT", "SERVER"), timeout=30
        )
    finally:
        app.stop()
    assert call["scope"] == "opentelemetry.instrumentation.requests"
    assert call["parent_span_id"] == top["span_id"]
    assert (callee["service"], callee["attributes"]["http.route"]) == ("dj", "hello")
    assert top["trace_id"] == call["trace_id"] == callee["trace_id"]


# web SERVER GET /enqueue ── web PRODUCER apply_async/proj.tasks.add
#                              └── worker CONSUMER run/proj.tasks.add (through Redis)
@pytest.mark.needs("redis-server", hint=REDIS_HINT)
def test_celery_task_started_from_a_flask_request(receiver: Receiver, tmp_path: Path) -> None:
    redis_port, web_port = free_port(), free_port()
    redis = start_redis(redis_port, tmp_path / "redis.log")
    env = {"CELERY_BROKER_URL": f"redis://127.0.0.1:{redis_port}/0", **FAST_EXPORT}
    cwd = STACKS / "celery"
    worker_cmd = ["celery", "-A", "proj", "worker", "--concurrency", "1", "--without-mingle",
                  "--without-gossip", "-l", "info"]  # fmt: skip
    web_cmd = ["flask", "--app", "web", "run", "--host", "127.0.0.1", "--port", str(web_port)]
    started: list[Running] = []
    try:
        for name, command in (("worker", worker_cmd), ("web", web_cmd)):
            argv = instrumented(sys.executable, name, receiver.endpoint, free_port(), command)
            started.append(Running(argv, cwd=cwd, log=tmp_path / f"{name}.log", env=env))
        started[1].wait_listening(web_port)
        task_id = get(web_port, "/enqueue")
        top, call, callee = receiver.wait_for(
            lambda spans: chain(spans, "web", "/enqueue", "PRODUCER", "CONSUMER"), timeout=90
        )
    finally:
        for running in started:
            running.stop()
        redis.stop()
    assert task_id.startswith(b'{"task_id":')
    assert (call["service"], call["name"]) == ("web", "apply_async/proj.tasks.add")
    assert (callee["service"], callee["name"]) == ("worker", "run/proj.tasks.add")
    assert call["parent_span_id"] == top["span_id"]
    assert top["trace_id"] == call["trace_id"] == callee["trace_id"]


# --- without an instrumentation ------------------------------------------------------------

HTTP = "HTTP client: calls from here start new traces (no client span, no context sent)"
SERVER = "server framework: its requests are not traced and incoming trace context is dropped"
QUEUE = "task queue: tasks run from here start new traces (no producer/consumer spans)"
PIN = "==0.66b1"
BLOCKS = {
    "uvicorn": (
        "obskit: 2 libraries imported by this service will run uninstrumented:\n"
        f"  aiohttp  {HTTP}\n"
        f"  httpx    {HTTP}\n"
        f"Fix: pip install 'opentelemetry-instrumentation-aiohttp-client{PIN}' "
        f"'opentelemetry-instrumentation-httpx{PIN}'\n"
    ),
    "gunicorn": (
        "obskit: 1 library imported by this service will run uninstrumented:\n"
        f"  django  {SERVER}\n"
        f"Fix: pip install 'opentelemetry-instrumentation-django{PIN}'\n"
    ),
    "celery": (
        "obskit: 1 library imported by this service will run uninstrumented:\n"
        f"  celery  {QUEUE}\n"
        f"Fix: pip install 'opentelemetry-instrumentation-celery{PIN}'\n"
    ),
}
BLOCKS["flask"] = BLOCKS["celery"]  # web.py sends Celery tasks
STRICT = (
    "Error: --strict: {n} instrumentation package{s} missing; the service was not started "
    "(install them with the pip command above, or drop --strict)\n"
)
LAUNCHERS = {
    "uvicorn": ("fastapi", ["uvicorn", "fa:app", "--port", "{port}"]),
    "gunicorn": ("django", ["gunicorn", "--bind", "127.0.0.1:{port}", "mysite.wsgi"]),
    "celery": ("celery", ["celery", "-A", "proj", "worker"]),
    "flask": ("celery", ["flask", "--app", "web", "run", "--port", "{port}"]),
}


@pytest.fixture(scope="module")
def lacking(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a venv that has everything this one has but HIDDEN."""
    return venv_without(HIDDEN, tmp_path_factory.mktemp("venv") / "lacking")


@pytest.mark.parametrize("launcher", sorted(LAUNCHERS))
def test_each_launcher_says_what_runs_uninstrumented_and_strict_starts_nothing(
    launcher: str, lacking: Path, tmp_path: Path
) -> None:
    directory, template = LAUNCHERS[launcher]
    port = free_port()
    command = [part.format(port=port) for part in template]
    argv = instrumented(lacking, "svc", "http://127.0.0.1:9", free_port(), command, "--strict")
    env = {"APP_PORT": str(port), "CELERY_BROKER_URL": "redis://127.0.0.1:9/0"}
    running = Running(argv, cwd=STACKS / directory, log=tmp_path / "out.log", env=env)
    code = running.proc.wait(timeout=120)
    running.stop()
    count = BLOCKS[launcher].split(" ", 2)[1]
    strict = STRICT.format(n=count, s="s" if count != "1" else "")
    assert (code, running.output()) == (2, BLOCKS[launcher] + strict)


# Without the httpx instrumentation the trace is cut in two, as the block said:
#   trace 1: fa SERVER GET /chain            trace 2: fa SERVER GET /hello (no parent)
def test_without_strict_the_service_runs_and_its_trace_is_cut_as_said(
    lacking: Path, tmp_path: Path
) -> None:
    port = free_port()
    with Receiver() as receiver:
        argv = instrumented(lacking, "fa", receiver.endpoint, free_port(),
                            ["uvicorn", "fa:app", "--port", str(port)])  # fmt: skip
        app = Running(argv, cwd=STACKS / "fastapi", log=tmp_path / "fa.log",
                      env={"APP_PORT": str(port), **FAST_EXPORT})  # fmt: skip
        try:
            app.wait_listening(port)
            get(port, "/chain")
            spans = receiver.wait_for(
                lambda s: len([x for x in s if x["kind"] == "SERVER"]) == 2 and s, timeout=30
            )
        finally:
            app.stop()
    assert app.output().startswith(BLOCKS["uvicorn"])
    servers = {s["attributes"]["http.route"]: s for s in spans if s["kind"] == "SERVER"}
    assert [s for s in spans if s["kind"] == "CLIENT"] == []
    assert servers["/hello"]["parent_span_id"] == ""
    assert servers["/hello"]["trace_id"] != servers["/chain"]["trace_id"]
