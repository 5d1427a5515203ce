"""The compose-shaped harness itself: what it reads from a compose file, and (as root, with
the pinned Prometheus and Alertmanager) that it runs services the way compose would and
leaves nothing behind, also when a start fails or a run crashed."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, UNDER_CI
from tests.stack.harness import network
from tests.stack.harness.project import Healthcheck, load_project, seconds
from tests.stack.harness.stack import HarnessError, Stack, missing_requirements

PROMETHEUS = "prom/prometheus:v3.14.0"
ALERTMANAGER = "prom/alertmanager:v0.34.0"


def test_the_generated_compose_file_is_read_as_compose_would() -> None:
    project = load_project(REPO, {"OBSKIT_BIND": "127.0.0.9"})
    prom = project.services["prometheus"]
    assert prom.image == "prom/prometheus:v3.14.0"
    assert prom.command[0] == "--config.file=/etc/prometheus/prometheus.yml"
    assert [(p.host_ip, p.host_port, p.container_port) for p in prom.published] == [
        ("127.0.0.9", 9090, 9090)
    ]
    config = next(m for m in prom.mounts if m.target == "/etc/prometheus")
    assert (config.source, config.read_only, config.named) == (
        str(REPO / "prometheus"),
        True,
        False,
    )
    data = next(m for m in prom.mounts if m.target == "/prometheus")
    assert (data.source, data.named) == ("prometheus-data", True)
    order = [s.name for s in project.start_order()]
    for name, service in project.services.items():
        assert all(order.index(dep) < order.index(name) for dep in service.depends_on)


def test_compose_durations_and_healthcheck_forms() -> None:
    assert seconds("1m30s") == 90 and seconds("500ms") == 0.5 and seconds("2h") == 7200
    with pytest.raises(ValueError, match="not a compose duration"):
        seconds("ten seconds")
    shell = Healthcheck(test=("CMD-SHELL", "wget -q -O- http://x/ || exit 1"))
    assert shell.argv == ["/bin/sh", "-c", "wget -q -O- http://x/ || exit 1"]
    assert Healthcheck(test=("CMD", "wget", "-q"), retries=2, interval_s=5).argv == ["wget", "-q"]


# --- live -----------------------------------------------------------------------------------


def _require(images: list[str]) -> None:
    missing = missing_requirements(images)
    if missing:
        message = "the harness needs " + "; ".join(missing)
        if UNDER_CI:
            pytest.fail(f"{message} (CI=true: a missing server fails)", pytrace=False)
        pytest.skip(message)


def _compose(directory: Path, services: dict[str, dict]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "docker-compose.yml").write_text(yaml.safe_dump({"services": services}))
    return directory


def _prometheus_and_alertmanager(directory: Path, prometheus_args: list[str]) -> Path:
    """Prometheus scraping Alertmanager by its service name, both published on loopback."""
    (directory / "prom").mkdir(parents=True)
    (directory / "am").mkdir()
    (directory / "prom" / "prometheus.yml").write_text(
        yaml.safe_dump({
            "global": {"scrape_interval": "1s"},
            "scrape_configs": [
                {"job_name": "alertmanager", "static_configs": [{"targets": ["alertmanager:9093"]}]}
            ],
        })
    )  # fmt: skip
    (directory / "am" / "alertmanager.yml").write_text(
        yaml.safe_dump({"route": {"receiver": "none"}, "receivers": [{"name": "none"}]})
    )
    wget = ["CMD", "wget", "-q", "--spider"]
    return _compose(directory, {
        "alertmanager": {
            "image": ALERTMANAGER,
            "command": ["--config.file=/etc/alertmanager/alertmanager.yml",
                        "--storage.path=/alertmanager", "--cluster.listen-address="],
            "volumes": ["./am:/etc/alertmanager:ro", "am-data:/alertmanager"],
            "healthcheck": {"test": [*wget, "http://127.0.0.1:9093/-/ready"], "interval": "1s"},
        },
        "prometheus": {
            "image": PROMETHEUS,
            "command": ["--config.file=/etc/prometheus/prometheus.yml", *prometheus_args],
            "volumes": ["./prom:/etc/prometheus:ro", "prom-data:/prometheus"],
            "ports": ["${BIND:-127.0.0.1}:${PORT}:9090"],
            "depends_on": {"alertmanager": {"condition": "service_healthy"}},
            "healthcheck": {"test": [*wget, "http://127.0.0.1:9090/-/ready"]},
        },
    })  # fmt: skip


def _leftovers(run_id: str) -> list[str]:
    return network.namespaces_of(run_id) + network.links_of(run_id)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    _require([PROMETHEUS, ALERTMANAGER])
    opened = Stack.open(tmp_path / "run")
    try:
        yield opened
    finally:
        opened.down()
    assert _leftovers(opened.run_id) == []


@pytest.mark.slow
def test_services_reach_each_other_by_name_and_the_host_by_published_ports(
    stack: Stack, tmp_path: Path
) -> None:
    from tests.conftest import free_port

    port = free_port()
    directory = _prometheus_and_alertmanager(
        tmp_path / "project", ["--storage.tsdb.path=/prometheus"]
    )
    stack.up(directory, {"PORT": str(port)})
    assert stack.health("alertmanager").ok and stack.containers["alertmanager"].running()
    from tests.conftest import wait_ready

    wait_ready(f"http://127.0.0.1:{port}/-/ready", timeout=30)
    deadline_targets = _wait_targets_up(f"http://127.0.0.1:{port}")
    assert deadline_targets == ["alertmanager:9093"]
    # as the image's user, with the image's working directory, in a volume owned by it
    prom = stack.containers["prometheus"]
    whoami = prom.exec(["sh", "-c", "id -u; pwd; touch /prometheus/x && echo writable"], 10)
    assert whoami.stdout.split() == ["65534", "/prometheus", "writable"], whoami
    readonly = prom.exec(["touch", "/etc/prometheus/x"], 10)
    assert readonly.returncode != 0 and "Read-only" in readonly.stderr
    hosts = prom.exec(["cat", "/etc/hosts"], 10).stdout
    assert "host.docker.internal" not in hosts  # no extra_hosts: not defined, as on Linux


def _wait_targets_up(url: str) -> list[str]:
    import time

    deadline = time.monotonic() + 30
    while True:
        with urllib.request.urlopen(f"{url}/api/v1/targets", timeout=5) as resp:
            targets = json.load(resp)["data"]["activeTargets"]
        up = [t["labels"]["instance"] for t in targets if t["health"] == "up"]
        if up or time.monotonic() > deadline:
            return up
        time.sleep(0.5)


@pytest.mark.slow
def test_a_service_that_cannot_start_is_named_and_nothing_is_left(
    stack: Stack, tmp_path: Path
) -> None:
    directory = _prometheus_and_alertmanager(tmp_path / "project", ["--no-such-flag"])
    with pytest.raises(HarnessError, match=r"(?s)prometheus exited with code \d+.*no-such-flag"):
        stack.up(directory, {"PORT": "1"})
    assert [n for n in network.namespaces_of(stack.run_id)] == []


@pytest.mark.slow
def test_a_crashed_runs_namespaces_and_links_are_swept() -> None:
    _require([])
    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid that no longer runs: the "crashed" run
    run_id = f"{gone.pid}s0"
    bridge = network.Bridge(name=f"ob{run_id}", subnet=network.free_subnet(), run_id=run_id)
    network.ip("link", "add", "name", bridge.name, "type", "bridge")
    ns = network.add_namespace(bridge, "prometheus", 0)
    try:
        swept = network.sweep_leftovers()
        assert set(swept) >= {bridge.name, ns.name, ns.veth}
        assert _leftovers(run_id) == []
    finally:
        network.remove_run(run_id)
