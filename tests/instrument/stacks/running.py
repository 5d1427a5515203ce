"""Helpers of the whole-trace tests: a command under ``obskit instrument``, a Redis server,
a venv that lacks some distributions, and the span chain a linked trace must show."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

STACKS = Path(__file__).resolve().parent
START_TIMEOUT_S = 150.0  # a loaded 2-core CI machine: importing FastAPI alone can take 6 s
STOP_GRACE_S = 30.0


def wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if proc.poll() is not None:
                raise AssertionError(f"exited with {proc.returncode}:\n{log.read_text()}") from None
            if time.monotonic() > deadline:
                raise AssertionError(f"port {port} not listening:\n{log.read_text()}") from None
            time.sleep(0.1)


class Running:
    """A process started in ``cwd``, its output in ``log``; stopped with SIGINT (``obskit
    instrument`` forwards it and the service flushes its spans), killed if it lingers."""

    def __init__(self, argv: Sequence[str], *, cwd: Path, log: Path, env: dict[str, str]):
        self.log = log
        self._out = log.open("wb")
        self.proc = subprocess.Popen(
            list(argv), cwd=cwd, stdout=self._out, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
        )  # fmt: skip

    def wait_listening(self, port: int) -> None:
        wait_listening(port, self.proc, self.log)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()
        return self.proc.returncode

    def output(self) -> str:
        """What the service and obskit printed, without the metrics-host note: it depends on
        the machine (docker0 or not), and tests/instrument/test_metrics_host.py pins it."""
        text = self.log.read_text(errors="replace")
        return "".join(
            line
            for line in text.splitlines(keepends=True)
            if not (line.startswith("obskit: ") and "metrics listen on" in line)
        )


def instrumented(
    python: str | Path,
    service: str,
    endpoint: str,
    metrics_port: int,
    command: Sequence[str],
    *options: str,
) -> list[str]:
    """``python -m obskit instrument ... -- command``."""
    return [str(python), "-m", "obskit", "instrument", "--service-name", service,
            "--endpoint", endpoint, "--metrics-port", str(metrics_port), *options,
            "--", *command]  # fmt: skip


def start_redis(port: int, log: Path) -> Running:
    server = shutil.which("redis-server") or "redis-server"
    running = Running(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=log.parent, log=log, env={},
    )  # fmt: skip
    running.wait_listening(port)
    return running


# --- a venv without some distributions ------------------------------------------------------


def venv_without(hidden: Iterable[str], target: Path) -> Path:
    """A venv at ``target`` holding everything this one holds (symlinked) except the
    ``hidden`` distributions, which are really absent there: no files, no metadata, no entry
    points. Returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(target)], check=True)
    site = Path(sysconfig.get_paths()["purelib"])
    new_site = Path(
        sysconfig.get_paths(vars={"base": str(target), "platbase": str(target)})["purelib"]
    )
    hidden_files = set()
    for name in hidden:
        dist = metadata.distribution(name)
        hidden_files |= {(site / f).resolve() for f in dist.files or ()}
    holders = {p for f in hidden_files for p in f.parents}
    _link_tree(site, new_site, hidden_files, holders)
    python = target / "bin" / "python"
    _copy_scripts(Path(sys.executable).parent, target / "bin", python)
    return python


def _link_tree(src: Path, dst: Path, hidden: set[Path], holders: set[Path]) -> bool:
    """Symlink ``src``'s entries into ``dst``, recreating the directories that hold hidden
    files (``holders``); True when anything was created."""
    created = False
    for entry in sorted(src.iterdir()):
        resolved = entry.resolve()
        if resolved in hidden:
            continue
        if resolved in holders and entry.is_dir():
            sub = dst / entry.name
            sub.mkdir(parents=True, exist_ok=True)
            if not _link_tree(entry, sub, hidden, holders):
                sub.rmdir()
                continue
        elif not (dst / entry.name).exists():
            dst.mkdir(parents=True, exist_ok=True)
            (dst / entry.name).symlink_to(entry)
        created = True
    return created


def _copy_scripts(src: Path, dst: Path, python: Path) -> None:
    """Console scripts, their ``#!`` pointing at the new venv's python."""
    for script in src.iterdir():
        if script.name.startswith(("python", "activate", "Activate")) or not script.is_file():
            continue
        head = script.read_bytes()
        if not head.startswith(b"#!") or b"python" not in head.split(b"\n", 1)[0]:
            continue
        body = head.split(b"\n", 1)[1]
        (dst / script.name).write_bytes(b"#!" + str(python).encode() + b"\n" + body)
        (dst / script.name).chmod(0o755)


# --- the chain a linked trace must show --------------------------------------------------------


def chain(
    spans: list[dict[str, Any]], service: str, route: str, call_kind: str, callee_kind: str
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]] | None:
    """(server, call, callee): ``service``'s SERVER span for ``route``, a ``call_kind`` span
    below it (CLIENT, PRODUCER) and the ``callee_kind`` span (SERVER, CONSUMER) whose parent
    is that call. None until all three are there."""
    by_id = {s["span_id"]: s for s in spans}
    servers = [s for s in spans if s["service"] == service and s["kind"] == "SERVER"
               and s["attributes"].get("http.route") == route]  # fmt: skip
    for top in servers:
        for call in spans:
            if call["kind"] != call_kind or not _below(call, top, by_id):
                continue
            callees = [s for s in spans if s["kind"] == callee_kind
                       and s["parent_span_id"] == call["span_id"]]  # fmt: skip
            if callees:
                return top, call, callees[0]
    return None


def _below(span: dict[str, Any], top: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> bool:
    seen = 0
    while span["parent_span_id"] and seen < 100:
        if span["parent_span_id"] == top["span_id"]:
            return True
        parent = by_id.get(span["parent_span_id"])
        if parent is None:
            return False
        span, seen = parent, seen + 1
    return False
