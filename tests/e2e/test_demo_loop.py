"""The whole loop with every part real: `obskit serve`, the demo shop under `obskit instrument`,
Prometheus and Alertmanager (Debian) and a webhook receiver. After the payment gateway slows
down, `obskit analyze --jaeger` flags the gateway hop, and the gateway latency alert reaches the
webhook through Alertmanager."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from obskit.demo.runner import Demo
from tests.conftest import REPO

pytestmark = pytest.mark.slow  # starts real servers or runs end to end

ALERT = "ExternalDependencySlow"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    runner = Demo(20, workdir=tmp_path_factory.mktemp("demo"), say=lambda line: None)
    try:
        runner.start()
        runner.run_traffic(lambda done, note: None)
        yield runner
    finally:
        runner.stop()


def test_analyze_against_the_embedded_backend_flags_the_gateway(demo: Demo) -> None:
    assert demo.plan is not None
    trace_id = demo.slowest_checkout()
    proc = subprocess.run(
        [sys.executable, "-m", "obskit", "analyze", "--jaeger", demo.plan.query_url,
         "--trace-id", trace_id, "--spec", str(demo.plan.spec_path), "--format", "json",
         "--fail-on-flag"],
        capture_output=True, text=True, timeout=60, cwd=REPO,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr  # --fail-on-flag: a hop is flagged
    report = json.loads(proc.stdout)
    assert report["root"]["service"] == "storefront"
    flagged = [hop for hop in report["hops"] if hop["flagged"]]
    assert flagged, report["hops"]
    top = flagged[0]
    assert (top["caller"], top["callee"], top["external"]) == ("payments", "payments-gateway", True)
    assert top["critical_ns"] >= 600_000_000  # the gateway answers in ~800 ms now
    assert top["share"] >= 0.5


def test_the_gateway_latency_alert_reaches_the_webhook(demo: Demo) -> None:
    assert demo.wait_for_alert(ALERT, timeout=120), (
        f"no {ALERT} at the webhook; got {sorted(demo.inbox.firing())}"
    )
    alert = next(a for a in demo.inbox.firing().values() if a["labels"]["alertname"] == ALERT)
    assert alert["labels"]["service"] == "payments-gateway"
    assert alert["labels"]["severity"] in ("page", "ticket")
    assert "payments-gateway" in alert["annotations"]["summary"]


def test_obskit_demo_command_ends_with_the_gateway_flagged(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "obskit", "demo", "--duration", "30", "--workdir", str(tmp_path)],
        capture_output=True, text=True, timeout=400, cwd=tmp_path,
        env={**__import__("os").environ, "COLUMNS": "160"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "Slow hops" in out
    assert "payments → payments-gateway" in out
    assert "Stopping everything the demo started" in out
