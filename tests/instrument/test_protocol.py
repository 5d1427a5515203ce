"""`obskit instrument` speaks the protocol of the endpoint's port (4317 gRPC, 4318 HTTP), a
service it runs delivers over gRPC to `obskit serve`, and an endpoint that does not answer is
one warning line while the service runs on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port
from tests.instrument.otlp_receiver import Receiver
from tests.instrument.test_cli import run_cli
from tests.serve.conftest import start_serve


def printed_env(*args: str, cwd: Path) -> dict[str, str]:
    code, out = run_cli("--service-name", "api", *args, "--print-env", cwd=cwd)
    assert code == 0, out
    return dict(line.split("=", 1) for line in out.splitlines() if not line.startswith("#"))


@pytest.mark.parametrize(
    ("endpoint", "protocol"),
    [
        ("http://127.0.0.1:4317", "grpc"),
        ("http://collector:4317", "grpc"),
        ("http://127.0.0.1:4318", "http/protobuf"),
        ("https://otlp.example.com:4318/v1/traces", "http/protobuf"),
        ("https://otlp.example.com", "http/protobuf"),
    ],
)
def test_the_endpoint_port_picks_the_protocol(tmp_path: Path, endpoint: str, protocol: str) -> None:
    env = printed_env("--endpoint", endpoint, cwd=tmp_path)
    assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == protocol
    assert env["OTEL_TRACES_EXPORTER"] == "otlp"


def test_a_protocol_in_the_environment_wins(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    env = printed_env("--endpoint", "http://127.0.0.1:9000", cwd=tmp_path)
    assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "grpc"


def test_an_unknown_protocol_is_one_line(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon")
    code, out = run_cli("--service-name", "api", "--print-env", cwd=tmp_path)
    assert code == 2
    assert out == (
        "Error: OTEL_EXPORTER_OTLP_PROTOCOL='carrier-pigeon' is not one of grpc, http/protobuf\n"
    )


SCRIPT = """
import sys, time
from opentelemetry import trace
with trace.get_tracer("job").start_as_current_span("nightly-report") as span:
    print(format(span.get_span_context().trace_id, "032x"), flush=True)
    time.sleep(float(sys.argv[1]))
"""


def instrumented(*args: str, cwd: Path, sleep: float = 0.0, **env: str) -> tuple[int, str]:
    (cwd / "job.py").write_text(SCRIPT)
    proc = subprocess.run(
        [sys.executable, "-m", "obskit", "instrument", "--service-name", "job",
         "--metrics-port", str(free_port()), *args, "--", "python", "job.py", str(sleep)],
        cwd=cwd, capture_output=True, text=True, timeout=90,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "OBSKIT_SPEC": "", **env},
    )  # fmt: skip
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.slow  # a service under obskit instrument, exporting to obskit serve
def test_an_instrumented_service_delivers_over_grpc_to_obskit_serve(tmp_path: Path) -> None:
    serve = start_serve(tmp_path / "data")
    try:
        # A free port is not 4317, so the protocol is named, as a user of another port would.
        code, out = instrumented(
            "--endpoint", f"http://{serve.grpc}", cwd=tmp_path, OTEL_EXPORTER_OTLP_PROTOCOL="grpc"
        )
        assert code == 0, out
        assert "Warning" not in out
        trace_id = out.split()[0]
        response = requests.get(f"{serve.query}/api/traces/{trace_id}", timeout=5)
        assert response.status_code == 200, out
        (span,) = response.json()["data"][0]["spans"]
        assert span["operationName"] == "nightly-report"
    finally:
        serve.stop()


def test_an_endpoint_that_does_not_answer_is_one_warning_and_the_service_runs(
    tmp_path: Path,
) -> None:
    port = free_port()  # nothing listens there
    code, out = instrumented("--endpoint", f"http://127.0.0.1:{port}", cwd=tmp_path, sleep=1)
    assert code == 0, out
    warnings = [line for line in out.splitlines() if line.startswith("Warning:")]
    assert warnings == [
        f"Warning: nothing answers at http://127.0.0.1:{port} (OTLP/HTTP: connection refused); "
        "the service runs but its spans are dropped: start `obskit serve` (or the collector) "
        "there, or pass --endpoint"
    ]


def test_no_warning_when_the_endpoint_answers_or_checks_are_off(tmp_path: Path) -> None:
    with Receiver() as receiver:
        code, out = instrumented("--endpoint", receiver.endpoint, cwd=tmp_path, sleep=1)
    assert code == 0, out
    assert "Warning" not in out
    closed = f"http://127.0.0.1:{free_port()}"
    code, out = instrumented("--endpoint", closed, "--no-check", cwd=tmp_path, sleep=1)
    assert code == 0, out
    assert "nothing answers" not in out
