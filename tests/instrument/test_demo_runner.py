"""`python -m demo_services`: the whole shop starts, answers, and stops on SIGTERM with
nothing left behind; a busy port is one line. And the load generator."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from demo_services.load import run_load
from demo_services.shop import Shop
from tests.conftest import REPO
from tests.instrument.conftest import write_demo_spec

pytestmark = pytest.mark.slow  # starts real servers or runs end to end


def start(spec: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "demo_services", "--spec", str(spec), "--sqlite"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip


def processes_mentioning(text: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and text in (proc / "cmdline").read_text():
                found.append(int(proc.name))
        except OSError:
            pass
    return found


def ports_of(spec: Path) -> list[int]:
    data = yaml.safe_load(spec.read_text())
    ports = [p for s in data["services"] for p in (s["port"], s["metrics_port"])]
    return ports + [e["port"] for e in data["external"]]


def test_busy_port_is_one_line(tmp_path: Path) -> None:
    spec = write_demo_spec(tmp_path, "http://127.0.0.1:4318")
    port = yaml.safe_load(spec.read_text())["services"][0]["port"]
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        proc = start(spec)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.splitlines()[-1] == (
        f"Error: port {port} of storefront is already in use on 127.0.0.1 (stop what listens "
        "there (an earlier demo?) or use --spec with other ports)"
    )
    assert "Traceback" not in err
    assert processes_mentioning(str(spec)) == []


def test_starts_prints_urls_and_stops_everything_on_sigterm(tmp_path: Path) -> None:
    spec = write_demo_spec(tmp_path, "http://127.0.0.1:9")  # no collector: export fails quietly
    storefront = yaml.safe_load(spec.read_text())["services"][0]["port"]
    proc = start(spec)
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        assert any(f"http://127.0.0.1:{storefront}" in line for line in lines), lines
        assert len(processes_mentioning(str(spec))) >= 6  # runner, 5 launchers (+ services)
        resp = requests.post(
            f"http://127.0.0.1:{storefront}/checkout", json={"sku": "mug"}, timeout=30
        )
        assert resp.status_code == 200
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    deadline = time.monotonic() + 5
    while processes_mentioning(str(spec)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_mentioning(str(spec)) == []
    for port in ports_of(spec):
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))  # free again (as a restarted server sees it)


def test_load_generator_sends_the_requested_rate(shop: Shop, faults) -> None:
    result = run_load(shop.url, rate=20, duration=1.5, checkout_share=0.5)
    assert result.sent == 30
    assert result.statuses == {"200": 30}
    assert len(result.latencies_ms) == 30
    assert "30 requests in" in result.summary()
