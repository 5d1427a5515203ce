"""``obskit validate --run``: the stack's servers themselves judge their generated configs.

* ``otelcol validate --config``: the Collector loads every component's config as it does at
  start, without binding a port;
* Tempo and Jaeger are started on their config for a few seconds, on free loopback ports and
  a temporary data folder (the only changes made to a copy of the config), until their ready
  endpoint answers; then stopped.

(promtool and amtool run in the usual checks.) Binaries are the versions the stack pins when
obskit's server cache has them (``obskit.stack.servers``), else whatever PATH has; each row
says which version ran.
"""

from __future__ import annotations

import copy
import re
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from obskit.stack import servers, traces_backend
from obskit.stack.compose import IMAGES
from obskit.validate.check import Check, Outcome, failed, passed
from obskit.validate.stackdir import COLLECTOR, StackDir
from obskit.validate.tools import Tool, run

TEMPO = traces_backend.TEMPO_CONFIG
JAEGER = traces_backend.JAEGER_CONFIG
READY_TIMEOUT_S = 60.0
STAY_UP_S = 2.0  # after ready: a server that dies right after start-up fails too
STOP_TIMEOUT_S = 10.0
LOOPBACK = "127.0.0.1"


def _hint(binary: str) -> str:
    server = servers.server_of(binary)
    return (
        f"put {binary} on PATH, or build {server.name} {server.version} from Go modules:"
        f" tests/stack/peers/build {server.name} (in an obskit clone)"
    )


OTELCOL = Tool("otelcol", _hint("otelcol"), server_binary=True)
TEMPO_BIN = Tool("tempo", _hint("tempo"), server_binary=True)
JAEGER_BIN = Tool("jaeger", _hint("jaeger"), server_binary=True)


# --- versions ----------------------------------------------------------------------------


def binary_version(argv: list[str]) -> str:
    """``0.159.0`` from ``otelcol --version`` and the like; empty when it says none."""
    result = run([*argv, "--version"], cwd=Path.cwd())
    match = re.search(r"\bv?(\d+\.\d+\.\d+)\b", result.output)
    return match.group(1) if match else ""


def pinned_version(stack: StackDir, service: str) -> str:
    """The image tag the stack pins for a compose service (``.env``, else obskit's)."""
    image = stack.env().get(f"OBSKIT_IMAGE_{service.upper().replace('-', '_')}", "")
    tag = image.rpartition(":")[2] if ":" in image else IMAGES[service][1]
    return tag.removeprefix("v")


def version_note(argv: list[str], stack: StackDir, service: str) -> str:
    ran, pinned = binary_version(argv), pinned_version(stack, service)
    name = Path(argv[0]).name
    if not ran:
        return f"{name}, version unknown; the stack pins {pinned}"
    return f"{name} {ran}" + (", as pinned" if ran == pinned else f"; the stack pins {pinned}")


# --- the Collector -----------------------------------------------------------------------


def check_collector(stack: StackDir, otelcol: list[str]) -> Outcome:
    stack.require(COLLECTOR)
    result = run([*otelcol, "validate", f"--config={COLLECTOR}"], cwd=stack.root)
    note = version_note(otelcol, stack, "otel-collector")
    if not result.ok:
        return failed([f"{COLLECTOR}: {problem}" for problem in collector_errors(result.output)])
    return passed(f"valid ({note})")


def collector_errors(output: str) -> list[str]:
    """The Collector's error, one line per problem: it nests them as ``decoding failed due
    to the following error(s):`` over blank-line separated paragraphs."""
    text = output[output.find("Error:") :] if "Error:" in output else output
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    # Its log lines (timestamps) after the error repeat it.
    lines = [line for line in lines if not re.match(r"^\d{4}[-/]\d\d[-/]\d\d", line)]
    joined = " ".join(line.removeprefix("Error:").strip() for line in lines)
    return [re.sub(r"\s+", " ", joined).strip() or "otelcol validate failed, no output"]


# --- servers started for a few seconds ---------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Launch:
    """How to start one server on a config made local: its argv after the binary, and the
    URL that answers 200 once it is ready."""

    config: dict[str, Any]
    args: list[str]
    ready_url: str


def loopback_endpoints(node: Any) -> Any:
    """Every ``endpoint: host:port`` moved to a free loopback port, in place."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "endpoint" and isinstance(value, str) and re.fullmatch(r".*:\d+", value):
                node[key] = f"{LOOPBACK}:{free_port()}"
            else:
                loopback_endpoints(value)
    elif isinstance(node, list):
        for item in node:
            loopback_endpoints(item)
    return node


def collector_telemetry(config: dict[str, Any]) -> None:
    """A Collector-based server's own metrics on a free loopback port (default :8888)."""
    service = config.setdefault("service", {})
    metrics = service.setdefault("telemetry", {}).setdefault("metrics", {})
    reader = {"pull": {"exporter": {"prometheus": {"host": LOOPBACK, "port": free_port()}}}}
    metrics["readers"] = [reader]


def jaeger_launch(original: dict[str, Any], config_path: Path, data: Path) -> Launch:
    config = loopback_endpoints(copy.deepcopy(original))
    collector_telemetry(config)
    extensions = config.get("extensions") or {}
    query = extensions.get("jaeger_query")
    if isinstance(query, dict):  # its gRPC API defaults to :16685
        query.setdefault("grpc", {})["endpoint"] = f"{LOOPBACK}:{free_port()}"
    for backend in ((extensions.get("jaeger_storage") or {}).get("backends") or {}).values():
        badger = backend.get("badger") if isinstance(backend, dict) else None
        if isinstance(badger, dict) and "directories" in badger:
            badger["directories"] = {"keys": str(data / "keys"), "values": str(data / "values")}
    health = extensions.get("healthcheckv2") or extensions.get("health_check") or {}
    endpoint = (health.get("http") or {}).get("endpoint") or health.get("endpoint")
    if not endpoint:
        raise ValueError("jaeger config has no health check extension with an http endpoint")
    path = "/status" if "healthcheckv2" in extensions else "/"
    return Launch(config, [f"--config={config_path}"], f"http://{endpoint}{path}")


def tempo_launch(original: dict[str, Any], config_path: Path, data: Path) -> Launch:
    config = loopback_endpoints(copy.deepcopy(original))
    http_port = free_port()
    server = config.setdefault("server", {})
    server.update(
        http_listen_address=LOOPBACK,
        http_listen_port=http_port,
        grpc_listen_address=LOOPBACK,
        grpc_listen_port=free_port(),
    )
    config.setdefault("memberlist", {}).update(
        bind_addr=[LOOPBACK], bind_port=free_port(), join_members=[]
    )
    trace = config.setdefault("storage", {}).setdefault("trace", {})
    trace.setdefault("wal", {})["path"] = str(data / "wal")
    trace.setdefault("local", {})["path"] = str(data / "blocks")
    args = ["-target=all", f"-config.file={config_path}"]
    return Launch(config, args, f"http://{LOOPBACK}:{http_port}/ready")


def start_for_a_while(argv: list[str], launch: Launch, log: Path) -> str:
    """Start, wait until ready, stay up a little, stop; returns "" or what went wrong."""
    with log.open("w") as out:
        proc = subprocess.Popen(
            [*argv, *launch.args],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    start = time.monotonic()
    try:
        while not answers(launch.ready_url):
            if proc.poll() is not None:
                return f"exited with code {proc.returncode} while starting: {last_error(log)}"
            if time.monotonic() - start > READY_TIMEOUT_S:
                return f"not ready after {READY_TIMEOUT_S:.0f}s: {last_error(log)}"
            time.sleep(0.2)
        time.sleep(STAY_UP_S)
        if proc.poll() is not None:
            return f"exited with code {proc.returncode} after start: {last_error(log)}"
        return ""
    finally:
        stop(proc)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return 200 <= response.status < 300
    except (OSError, urllib.error.HTTPError):
        return False


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def last_error(log: Path) -> str:
    """The last line that reports an error, else the last line."""
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if re.search(r"error|fatal|panic", line, re.I)]
    return (errors or lines or ["no output"])[-1]


LaunchFunc = Callable[[dict[str, Any], Path, Path], Launch]


def started_check(config_rel: str, service: str, launch_of: LaunchFunc):
    """A check that starts ``service`` on ``config_rel`` (made local) for a few seconds."""

    def check(stack: StackDir, argv: list[str]) -> Outcome:
        from obskit.stack.serialize import serialize

        original = stack.mapping(config_rel)
        with tempfile.TemporaryDirectory(prefix=f"obskit-run-{service}-") as tmp:
            config_path = Path(tmp) / Path(config_rel).name
            launch = launch_of(original, config_path, Path(tmp) / "data")
            config_path.write_text(serialize(config_rel, launch.config), encoding="utf-8")
            problem = start_for_a_while(argv, launch, Path(tmp) / "server.log")
        if problem:
            return failed(f"{config_rel}: {problem}")
        note = version_note(argv, stack, service)
        return passed(f"started and ready on loopback, then stopped ({note})")

    return check


def checks_for(directory: str | Path) -> tuple[Check, ...]:
    """The --run checks for the servers this stack has."""
    root = Path(directory)
    found: list[Check] = [Check("otelcol validate", check_collector, OTELCOL)]
    if (root / TEMPO).is_file():
        found.append(Check("tempo start", started_check(TEMPO, "tempo", tempo_launch), TEMPO_BIN))
    if (root / JAEGER).is_file():
        found.append(
            Check("jaeger start", started_check(JAEGER, "jaeger", jaeger_launch), JAEGER_BIN)
        )
    return tuple(found)
