"""`obskit instrument`: bad input is one line and exit 2; a good command runs under OTel,
keeps its exit code, and flushes its spans when stopped with SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from obskit.cli import cli
from tests.conftest import REPO, free_port, wait_ready
from tests.instrument.otlp_receiver import Receiver

DEMO_SPEC = REPO / "demo_services" / "obskit.yaml"


def run_cli(*args: str, cwd: Path | None = None) -> tuple[int, str]:
    """Run `obskit instrument ARGS` in-process; exit code and all output."""
    env = {"OBSKIT_SPEC": "", "OTEL_SERVICE_NAME": "", "OTEL_EXPORTER_OTLP_ENDPOINT": "",
           "OTEL_EXPORTER_PROMETHEUS_PORT": "", "OTEL_RESOURCE_ATTRIBUTES": ""}  # fmt: skip
    old = Path.cwd()
    os.chdir(cwd or old)
    try:
        result = CliRunner().invoke(cli, ["instrument", *args], env=env)
    finally:
        os.chdir(old)
    return result.exit_code, result.output


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    """A directory without obskit.yaml, holding a few tiny services."""
    (tmp_path / "uses_jinja.py").write_text("import jinja2\n")
    (tmp_path / "plain.py").write_text("print('hello')\n")
    return tmp_path


def test_unknown_service_name(app_dir: Path) -> None:
    code, out = run_cli(
        "--spec", str(DEMO_SPEC), "--service-name", "nope", "--", "python", "plain.py", cwd=app_dir
    )
    assert code == 2
    assert out == (
        f"Error: unknown service 'nope': {DEMO_SPEC} lists storefront, checkout, inventory, "
        "pricing, payments, mailer (pass --service-name with one of them, or --spec with another spec)\n"
    )


def test_metrics_port_in_use(app_dir: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, out = run_cli(
            "--service-name",
            "plain",
            "--metrics-port",
            str(port),
            "--",
            "python",
            "plain.py",
            cwd=app_dir,
        )
    assert code == 2
    assert out == (
        f"Error: metrics port {port} is already in use on 127.0.0.1 (stop what listens there "
        "or pass --metrics-port with a free port)\n"
    )


def without_metrics_note(out: str) -> str:
    """The output without the metrics-host note, which depends on the machine (docker0 or not;
    tests/instrument/test_metrics_host.py pins it)."""
    return "".join(
        line
        for line in out.splitlines(keepends=True)
        if not (line.startswith("obskit: ") and "metrics listen on" in line)
    )


JINJA_BLOCK = (
    "obskit: 1 library imported by this service will run uninstrumented:\n"
    "  jinja2  its work is missing from traces (counted as the caller's time)\n"
    "Fix: pip install 'opentelemetry-instrumentation-jinja2==0.66b1'\n"
)


def test_missing_instrumentation_is_said_and_the_service_still_runs(app_dir: Path) -> None:
    # jinja2 is installed (a dependency of obskit), its instrumentation is not
    (app_dir / "uses_jinja.py").write_text("import jinja2\nopen('started', 'w')\n")
    with Receiver() as receiver:  # an endpoint that answers: no line about it
        code, out = run_cli("--service-name", "web", "--metrics-port", str(free_port()),
                            "--endpoint", receiver.endpoint, "--", "python", "uses_jinja.py",
                            cwd=app_dir)  # fmt: skip
    assert code == 0, out
    assert without_metrics_note(out) == JINJA_BLOCK
    assert (app_dir / "started").exists()


def test_strict_refuses_to_start_a_service_with_an_uninstrumented_library(app_dir: Path) -> None:
    (app_dir / "uses_jinja.py").write_text("import jinja2\nopen('started', 'w')\n")
    code, out = run_cli("--service-name", "web", "--strict", "--", "python", "uses_jinja.py",
                        cwd=app_dir)  # fmt: skip
    assert code == 2
    assert without_metrics_note(out) == JINJA_BLOCK + (
        "Error: --strict: 1 instrumentation package missing; the service was not started "
        "(install them with the pip command above, or drop --strict)\n"
    )
    assert not (app_dir / "started").exists()


def test_command_that_does_not_exist(app_dir: Path) -> None:
    code, out = run_cli("--service-name", "x", "--", "no-such-command-xyz", "--flag", cwd=app_dir)
    assert code == 2
    assert (
        out
        == "Error: command not found: no-such-command-xyz (check the spelling or give its full path)\n"
    )


def test_script_that_does_not_exist(app_dir: Path) -> None:
    code, out = run_cli("--service-name", "x", "--", "python", "missing.py", cwd=app_dir)
    assert code == 2
    assert out == "Error: no such file: missing.py (check the path of the service's script)\n"


def test_no_command(app_dir: Path) -> None:
    code, out = run_cli("--service-name", "x", cwd=app_dir)
    assert code == 2
    assert out == "Error: no command to run (usage: obskit instrument [OPTIONS] -- python app.py)\n"


def test_bad_endpoint(app_dir: Path) -> None:
    code, out = run_cli(
        "--service-name",
        "x",
        "--endpoint",
        "localhost:4318",
        "--",
        "python",
        "plain.py",
        cwd=app_dir,
    )
    assert code == 2
    assert out == "Error: endpoint 'localhost:4318' is not an http:// or https:// URL\n"


def test_print_env_takes_the_service_entry_from_the_spec(app_dir: Path) -> None:
    code, out = run_cli(
        "--spec", str(DEMO_SPEC), "--service-name", "checkout", "--print-env", cwd=app_dir
    )
    assert code == 0, out
    env = dict(line.split("=", 1) for line in out.splitlines() if not line.startswith("#"))
    assert env["OTEL_SERVICE_NAME"] == "checkout"
    assert env["OTEL_RESOURCE_ATTRIBUTES"] == (
        "service.version=0.0.0,deployment.environment=demo,deployment.environment.name=demo,"
        "service.namespace=shop"
    )
    assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://127.0.0.1:4318"
    assert env["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio"
    assert env["OTEL_TRACES_SAMPLER_ARG"] == "1"
    assert env["OTEL_SEMCONV_STABILITY_OPT_IN"] == "http"
    assert env["OTEL_EXPORTER_PROMETHEUS_PORT"] == "9102"
    assert env["OTEL_PYTHON_LOG_CORRELATION"] == "true"
    # every SLO threshold of the spec (300 ms is not an OTel default) is a bucket bound
    assert "0.3" in env["OBSKIT_HISTOGRAM_BUCKETS"].split(",")


def test_print_env_for_kubernetes(app_dir: Path) -> None:
    code, out = run_cli(
        "--service-name",
        "api",
        "--endpoint",
        "http://collector:4318/v1/traces",
        "--print-env=k8s",
        cwd=app_dir,
    )
    assert code == 0, out
    env = {item["name"]: item["value"] for item in yaml.safe_load(out)["env"]}
    assert env["OTEL_SERVICE_NAME"] == "api"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://collector:4318"  # the base URL
    assert env["OTEL_EXPORTER_PROMETHEUS_PORT"] == "9464"
    assert env["OTEL_EXPORTER_PROMETHEUS_HOST"] == "0.0.0.0"  # scraped from outside the pod


def obskit(*args: str, cwd: Path, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "obskit", "instrument", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
    )


def test_exit_code_of_the_command_is_kept(app_dir: Path) -> None:
    proc = obskit("--service-name", "job", "--metrics-port", str(free_port()), "--",
                  "python", "-c", "import sys; sys.exit(7)", cwd=app_dir)  # fmt: skip
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 7, out.decode()


APP = """
    import logging, os
    from flask import Flask
    from waitress import serve

    app = Flask(__name__)

    @app.get("/work")
    def work():
        logging.getLogger("app").warning("working")
        return {"done": True}

    serve(app, host="127.0.0.1", port=int(os.environ["APP_PORT"]))
"""


def wait_listening(port: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_sigterm_stops_the_service_cleanly_and_flushes_its_spans(app_dir: Path) -> None:
    (app_dir / "app.py").write_text(textwrap.dedent(APP))
    app_port, metrics_port = free_port(), free_port()
    with Receiver() as receiver:
        # Spans would wait 60 s in the batch processor: only the shutdown flush sends them.
        proc = obskit("--service-name", "app", "--endpoint", receiver.endpoint,
                      "--metrics-port", str(metrics_port), "--", "python", "app.py",
                      cwd=app_dir, APP_PORT=str(app_port), OTEL_BSP_SCHEDULE_DELAY="60000")  # fmt: skip
        try:
            wait_ready(f"http://127.0.0.1:{metrics_port}/metrics", timeout=60)
            wait_listening(app_port)
            with urllib.request.urlopen(f"http://127.0.0.1:{app_port}/work") as resp:
                assert resp.status == 200
            time.sleep(0.5)
            assert receiver.snapshot() == []
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 0, out.decode()
        spans = receiver.wait_for(lambda s: s, timeout=5)
    assert [(s["service"], s["kind"], s["name"]) for s in spans] == [("app", "SERVER", "GET /work")]
    # the log line written inside the request carries its trace id
    assert f"trace_id={spans[0]['trace_id']}" in out.decode()
