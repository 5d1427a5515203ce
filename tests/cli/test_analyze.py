"""`obskit analyze` end to end: recorded Jaeger (v1 and api_v3) and Tempo (v1 and v2) answers
over real HTTP, files and stdin; every failure a user can hit, with its exact line and exit
code; formats and the CI gate."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner, Result

from obskit.cli import cli
from obskit.ingest.otlp_writer import trace_to_otlp
from tests.conftest import FIXTURES, REPO, free_port
from tests.render import traces
from tests.render.golden import GOLDEN
from tests.sources.backend import BOOKINFO_ID, HOTROD_ID, JAEGER_V1_ID, Answer, serve, tempo_v2_body

START_HINT = (
    "is the backend running? Start one with `obskit serve`, or `docker compose up -d` in the "
    "directory `obskit init` generated"
)


def run(*args: str, input: bytes | None = None) -> Result:
    return CliRunner().invoke(cli, ["analyze", *args], input=input)


def golden(name: str) -> str:
    return (GOLDEN / name).read_text(encoding="utf-8")


# --- the happy paths: each backend generation --------------------------------------------------


def test_jaeger_v1(jaeger_v1: str) -> None:
    result = run("--trace-id", JAEGER_V1_ID, "--jaeger", jaeger_v1)
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == golden("analyze_jaeger-query.txt")


def test_jaeger_api_v3_fallback(jaeger_v3: str) -> None:
    result = run("--trace-id", HOTROD_ID, "--jaeger", jaeger_v3, "--format", "json")
    assert result.exit_code == 0, result.output
    # the same report as reading the recorded file directly
    assert result.stdout == golden("analyze_hotrod.json")


def test_tempo_v1_fallback(tempo_v1: str) -> None:
    result = run("--trace-id", BOOKINFO_ID, "--tempo", tempo_v1)
    assert result.exit_code == 0, result.output
    assert result.stdout == golden("analyze_bookinfo.txt")


def test_tempo_v2(tempo_v2: str) -> None:
    result = run("--trace-id", BOOKINFO_ID.upper(), "--tempo", tempo_v2, "--format", "json")
    assert result.exit_code == 0, result.output
    assert result.stdout == golden("analyze_bookinfo.json")


def test_real_process_against_tempo(tempo_v1: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "obskit", "analyze", "--trace-id", BOOKINFO_ID, "--tempo", tempo_v1],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout == golden("analyze_bookinfo.txt")


def test_real_process_backend_error_exit_code(jaeger_v1: str) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "obskit",
            "analyze",
            "--trace-id",
            "0123456789abcdef",
            "--jaeger",
            jaeger_v1,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 3
    assert proc.stdout == ""
    assert proc.stderr == (
        f"Error: trace 0123456789abcdef not found in Jaeger ({jaeger_v1}/api/traces/0123456789abcdef)"
        " (check the id, and that the trace is within the backend's retention)\n"
    )


def test_file_and_stdin() -> None:
    path = str(FIXTURES / "jaeger-apiv3_get-trace_hotrod_40spans.json")
    from_file = run("--file", path, "--format", "markdown")
    assert from_file.exit_code == 0
    assert from_file.stdout == golden("analyze_hotrod.md")
    from_stdin = run("--file", "-", "--format", "markdown", input=Path(path).read_bytes())
    assert from_stdin.stdout == from_file.stdout


def test_default_source_from_obskit_yaml(tempo_v1: str) -> None:
    Path("obskit.yaml").write_text(
        "project: shop\nenvironment: dev\ntraces_backend: tempo\n"
        f"query_url: {tempo_v1}\n"
        "services:\n  - {name: web, port: 8001, metrics_port: 9101}\n"
    )
    result = run("--trace-id", BOOKINFO_ID)
    assert result.exit_code == 0, result.output
    assert result.stdout == golden("analyze_bookinfo.txt")


def test_default_source_from_environment(jaeger_v3: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBSKIT_JAEGER_URL", jaeger_v3)
    result = run("--trace-id", HOTROD_ID, "--format", "json")
    assert result.exit_code == 0, result.output
    assert result.stdout == golden("analyze_hotrod.json")


def test_external_names_come_from_the_spec(tmp_path: Path) -> None:
    trace_file = tmp_path / "checkout.json"
    trace_file.write_bytes(orjson.dumps(trace_to_otlp(traces.checkout())))
    spec = tmp_path / "shop.yaml"
    spec.write_text(
        "project: shop\nenvironment: dev\n"
        "services:\n  - {name: checkout, port: 8002, metrics_port: 9102}\n"
        "external:\n  - {name: payments-gateway, host: 127.0.0.1, port: 8006}\n"
    )
    without = run("--file", str(trace_file), "--format", "json")
    named = run("--file", str(trace_file), "--format", "json", "--spec", str(spec))
    assert orjson.loads(without.stdout)["hops"][0]["callee"] == "127.0.0.1"
    assert orjson.loads(named.stdout)["hops"][0]["callee"] == "payments-gateway"
    assert named.stdout == golden("analyze_checkout_external-gateway.json")


# --- failures: one line, the right exit code ----------------------------------------------------


def test_trace_not_found_jaeger_v3(jaeger_v3: str) -> None:
    result = run("--trace-id", "0123456789ABCDEF", "--jaeger", jaeger_v3)
    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr == (
        "Error: trace 0123456789abcdef not found in Jaeger "
        f"({jaeger_v3}/api/v3/traces/0123456789abcdef) "
        "(check the id, and that the trace is within the backend's retention)\n"
    )


def test_trace_not_found_tempo(tempo_v1: str) -> None:
    result = run("--trace-id", "0123456789abcdef", "--tempo", tempo_v1)
    assert result.exit_code == 3
    assert result.stderr == (
        f"Error: trace 0123456789abcdef not found in Tempo ({tempo_v1}/api/traces/0123456789abcdef) "
        "(check the id, and that the trace is within the backend's retention)\n"
    )


def test_500_then_200_is_retried() -> None:
    body = (FIXTURES / "tempo-v1_api-traces_bookinfo_8spans.json").read_bytes()
    routes = {
        f"/api/v2/traces/{BOOKINFO_ID}": [Answer(500, b"ingester unavailable"), Answer(404)],
        f"/api/traces/{BOOKINFO_ID}": [Answer(502, b"bad gateway"), Answer(200, body)],
    }
    with serve(routes) as backend:
        result = run("--trace-id", BOOKINFO_ID, "--tempo", backend.url)
        assert backend.paths() == [
            f"/api/v2/traces/{BOOKINFO_ID}",
            f"/api/v2/traces/{BOOKINFO_ID}",
            f"/api/traces/{BOOKINFO_ID}",
            f"/api/traces/{BOOKINFO_ID}",
        ]
    assert result.exit_code == 0, result.output
    assert result.stdout == golden("analyze_bookinfo.txt")


def test_persistent_500(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBSKIT_RETRIES", "1")
    routes = {
        f"/api/traces/{JAEGER_V1_ID}": Answer(
            500, b'{"data":null,"errors":[{"code":500,"msg":"cassandra timeout"}]}'
        )
    }
    with serve(routes) as backend:
        result = run("--trace-id", JAEGER_V1_ID, "--jaeger", backend.url, "--timeout", "5")
    assert result.exit_code == 3
    assert result.stderr == (
        f"Error: Jaeger answered 500 Internal Server Error after 1 retry "
        f"({backend.url}/api/traces/{JAEGER_V1_ID}): cassandra timeout\n"
    )


def test_timeout() -> None:
    routes = {f"/api/traces/{JAEGER_V1_ID}": Answer(200, b"{}", delay_s=10)}
    with serve(routes) as backend:
        result = run("--trace-id", JAEGER_V1_ID, "--jaeger", backend.url, "--timeout", "0.3")
    assert result.exit_code == 3
    assert result.stderr == (
        f"Error: Jaeger did not answer within 0.3 s ({backend.url}/api/traces/{JAEGER_V1_ID}) "
        "(raise --timeout (or OBSKIT_TIMEOUT) if the backend is just slow)\n"
    )


def test_connection_refused() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = run("--trace-id", HOTROD_ID, "--tempo", url)
    assert result.exit_code == 3
    assert result.stderr == (
        f"Error: cannot connect to Tempo at {url}/api/v2/traces/{HOTROD_ID}: connection refused "
        f"({START_HINT})\n"
    )


def test_truncated_body() -> None:
    body = (FIXTURES / "jaeger-apiv3_get-trace_hotrod_40spans.json").read_bytes()
    routes = {f"/api/traces/{HOTROD_ID}": Answer(200, body, cut_at=4096)}
    with serve(routes) as backend:
        result = run("--trace-id", HOTROD_ID, "--jaeger", backend.url)
    assert result.exit_code == 3
    assert result.stderr == (
        f"Error: Jaeger's answer was cut off after 4096 of {len(body)} bytes "
        f"({backend.url}/api/traces/{HOTROD_ID}) "
        "(the connection closed early; try again, or check the backend's logs)\n"
    )


def test_truncated_body_without_length_is_a_backend_error() -> None:
    # No Content-Length to tell us: the reader finds the JSON cut short, and since the bytes
    # came from a backend, that is the backend's failure (exit 3), not bad input.
    body = (FIXTURES / "jaeger-apiv3_get-trace_hotrod_40spans.json").read_bytes()
    routes = {f"/api/v3/traces/{HOTROD_ID}": Answer(200, body[:70_000], no_length=True)}
    with serve(routes) as backend:
        result = run("--trace-id", HOTROD_ID, "--jaeger", backend.url)
    assert result.exit_code == 3
    prefix = (
        f"Error: Jaeger at {backend.url} sent an answer that is not a readable trace "
        f"({backend.url}/api/v3/traces/{HOTROD_ID}): "
    )
    assert result.stderr.startswith(prefix)
    assert result.stderr.count("\n") == 1


def test_bad_trace_id() -> None:
    result = run("--trace-id", "not-hex", "--jaeger", "http://127.0.0.1:1")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: --trace-id: expected 1 to 32 hex digits, got 'not-hex' "
        "(copy the id from the Jaeger or Grafana trace view)\n"
    )


def test_no_source() -> None:
    result = run("--trace-id", HOTROD_ID)
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: no trace source (pass --jaeger URL, --tempo URL or --file PATH (- for stdin), "
        "set OBSKIT_JAEGER_URL or OBSKIT_TEMPO_URL, or run where obskit.yaml is)\n"
    )


def test_trace_id_required_for_a_backend(tempo_v1: str) -> None:
    result = run("--tempo", tempo_v1)
    assert result.exit_code == 2
    assert result.stderr == "Error: --trace-id is required with a Tempo source\n"


def test_missing_file() -> None:
    result = run("--file", "nope.json")
    assert (result.exit_code, result.stderr) == (2, "Error: nope.json: no such file\n")


def test_bad_threshold_is_a_usage_error() -> None:
    result = run("--file", "x.json", "--threshold", "2")
    assert result.exit_code == 2
    assert "Invalid value for '--threshold'" in result.stderr


# --- outputs and the CI gate ---------------------------------------------------------------------


def test_fail_on_flag(tmp_path: Path) -> None:
    trace_file = tmp_path / "checkout.json"
    trace_file.write_bytes(orjson.dumps(trace_to_otlp(traces.checkout())))
    result = run("--file", str(trace_file), "--fail-on-flag")
    assert result.exit_code == 1
    assert "Slow hops" in result.stdout  # the report is still printed
    assert result.stderr == (
        "Error: slow hop: checkout → 127.0.0.1 holds 83.0% of the request on the critical "
        "path (threshold 20.0%)\n"
    )
    calm = run("--file", str(trace_file), "--fail-on-flag", "--threshold", "0.9")
    assert calm.exit_code == 0


def test_format_follows_the_output_extension(tmp_path: Path) -> None:
    path = str(FIXTURES / "tempo-v1_api-traces_bookinfo_8spans.json")
    for name, start in (("r.html", "<!DOCTYPE html>"), ("r.md", "### Trace"), ("r.json", "{")):
        out = tmp_path / name
        result = run("--file", path, "-o", str(out))
        assert result.exit_code == 0, result.output
        assert result.stdout == ""
        assert out.read_text().startswith(start)
    assert (tmp_path / "r.json").read_text() == golden("analyze_bookinfo.json")
    explicit = run("--file", path, "-o", str(tmp_path / "r.out"), "--format", "json")
    assert explicit.exit_code == 0
    unknown = run("--file", path, "-o", str(tmp_path / "r.pdf"))
    assert unknown.exit_code == 2
    assert unknown.stderr == (
        f"Error: cannot tell the output format from '{tmp_path / 'r.pdf'}' (known extensions: "
        ".txt, .json, .html, .htm, .md, .markdown) (pass --format text|json|html|markdown)\n"
    )


def test_warnings_go_to_stderr_for_file_formats() -> None:
    path = str(FIXTURES / "zipkin-v2_clock-skew_4spans.json")
    result = run("--file", path, "--format", "json")
    assert result.exit_code == 0
    assert result.stdout == golden("analyze_clock-skew.json")
    lines = result.stderr.splitlines()
    assert lines and all(line.startswith("Warning: [") for line in lines)
    assert any(line.startswith("Warning: [skew]") for line in lines)


def test_jaeger_compat_switches_semantics(tmp_path: Path) -> None:
    # critical-path.md case 1, back-to-back children (ms):
    #   P |0=========================100|
    #   B     |10======50|
    #   C                |50====80|
    # obskit: P B C P; Jaeger UI loses B (its `<` boundary test): P[0,50] C P
    trace = traces.Trace(
        traces.TRACE_ID,
        (
            traces.span(1, None, "web", "P", 0, 100),
            traces.span(2, 1, "web", "B", 10, 50),
            traces.span(3, 1, "web", "C", 50, 80),
        ),
    )
    path = tmp_path / "case1.json"
    path.write_bytes(orjson.dumps(trace_to_otlp(trace)))

    def sections(*extra: str) -> list[tuple[str, int, int]]:
        result = run("--file", str(path), "--format", "json", *extra)
        assert result.exit_code == 0, result.output
        return [
            (
                s["operation"],
                (s["start_ns"] - traces.T0) // traces.MS,
                (s["end_ns"] - traces.T0) // traces.MS,
            )
            for s in orjson.loads(result.stdout)["critical_path"]
        ]

    assert sections() == [("P", 0, 10), ("B", 10, 50), ("C", 50, 80), ("P", 80, 100)]
    assert sections("--jaeger-compat") == [("P", 0, 50), ("C", 50, 80), ("P", 80, 100)]


def test_partial_tempo_trace_is_analysed_with_a_warning() -> None:
    partial = orjson.loads(tempo_v2_body())
    partial["status"] = "PARTIAL"
    partial["message"] = "Trace exceeds maximum size of 5000000 bytes, a partial trace is returned"
    routes = {f"/api/v2/traces/{BOOKINFO_ID}": Answer(200, orjson.dumps(partial))}
    with serve(routes) as backend:
        text = run("--trace-id", BOOKINFO_ID, "--tempo", backend.url)
        as_json = run("--trace-id", BOOKINFO_ID, "--tempo", backend.url, "--format", "json")
    assert text.exit_code == 0
    line = (
        "[truncated] Tempo returned a partial trace: Trace exceeds maximum size of 5000000 "
        "bytes, a partial trace is returned"
    )
    assert f"  ! {line}\n" in text.stdout
    assert as_json.exit_code == 0
    assert f"Warning: {line}\n" in as_json.stderr


def test_malformed_attribute_in_a_big_file_is_one_line(tmp_path: Path) -> None:
    # Big OTLP JSON keeps attributes as text until read (obskit.ingest.deferred_attributes): a
    # malformed one still ends in one line and exit code 2, when the analysis names the callee.
    doc = trace_to_otlp(traces.checkout())
    spans = [sp for rs in doc["resourceSpans"] for ss in rs["scopeSpans"] for sp in ss["spans"]]
    charge = next(sp for sp in spans if sp["name"] == "POST /charge")
    charge["attributes"][1]["value"] = {"intValue": "eighty"}
    spans[0]["attributes"] = [{"key": "padding", "value": {"stringValue": "x" * 70_000}}]
    trace_file = tmp_path / "big.json"
    trace_file.write_bytes(orjson.dumps(doc))
    result = run("--file", str(trace_file))
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: span {charge['spanId']}: attributes[1].value.intValue: expected an integer, "
        "got 'eighty'\n"
    )
