"""docker-compose.yml and .env: valid compose files (the compose-spec schema, and Debian's
docker-compose 1.29 when installed) with secure defaults a user would otherwise have to
remember: pinned images, loopback-only ports, health-gated start-up, no default password."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from obskit.stack import compose, images
from obskit.stack.serialize import serialize
from obskit.stack.spec import parse_spec
from tests.specs import SPECS

CHECK_JSONSCHEMA = Path(sys.executable).with_name("check-jsonschema")
DOCKER_COMPOSE = shutil.which("docker-compose")


def write(directory: Path, name: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for rel, data in compose.files(SPECS[name]).items():
        (directory / rel).write_text(serialize(rel, data), encoding="utf-8")
    return directory / compose.COMPOSE_PATH


def loaded(name: str) -> dict:
    return yaml.safe_load(serialize(compose.COMPOSE_PATH, compose.compose(SPECS[name])))


def env_values(name: str) -> dict[str, str]:
    text = serialize(compose.ENV_PATH, compose.env(SPECS[name]))
    return dict(
        line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")
    )


def test_the_compose_spec_schema_accepts_every_spec_s_file(tmp_path: Path) -> None:
    paths = [str(write(tmp_path / name, name)) for name in sorted(SPECS)]
    proc = subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.compose-spec", *paths],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_compose_spec_schema_check_can_fail(tmp_path: Path) -> None:
    path = write(tmp_path, "demo")
    data = yaml.safe_load(path.read_text())
    data["services"]["grafana"]["healthckeck"] = data["services"]["grafana"].pop("healthcheck")
    path.write_text(yaml.safe_dump(data))
    proc = subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1


@pytest.mark.needs("docker-compose", hint="apt-get install docker-compose (optional)")
@pytest.mark.parametrize("name", ["demo", "jaeger"])
def test_docker_compose_1_29_reads_it_with_its_env(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, name)
    (tmp_path / "secrets").mkdir()
    (tmp_path / compose.GRAFANA_PASSWORD_FILE).write_text("x")
    proc = subprocess.run(
        [DOCKER_COMPOSE, "-f", str(path), "config"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    resolved = yaml.safe_load(proc.stdout)
    for service in resolved["services"].values():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:")  # .env's OBSKIT_BIND, interpolated


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_image_is_pinned_from_the_one_versions_table(name: str) -> None:
    env = env_values(name)
    for service, body in loaded(name)["services"].items():
        variable = compose.image_variable(service)
        assert body["image"] == f"${{{variable}:-{env[variable]}}}"
        image, tag = env[variable].rsplit(":", 1)
        assert (image, tag) == compose.IMAGES[service]
        assert tag != "latest" and re.fullmatch(r"v?\d+\.\d+\.\d+", tag)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_port_binds_to_loopback_by_default(name: str) -> None:
    assert env_values(name)["OBSKIT_BIND"] == "127.0.0.1"
    published = [p for body in loaded(name)["services"].values() for p in body.get("ports", [])]
    assert published
    for port in published:
        assert port.startswith("${OBSKIT_BIND:-127.0.0.1}:")


def test_published_ports_are_the_ones_users_need() -> None:
    ports = {
        service: [p.rsplit(":", 2)[1] for p in body.get("ports", [])]
        for service, body in loaded("demo")["services"].items()
    }
    assert ports == {
        "otel-collector": ["4317", "4318"],  # the services on the host send OTLP here
        "tempo": ["3200"],  # obskit analyze's default query URL
        "prometheus": ["9090"],
        "alertmanager": ["9093"],
        "grafana": ["3000"],
    }
    assert loaded("jaeger")["services"]["jaeger"]["ports"] == [
        "${OBSKIT_BIND:-127.0.0.1}:16686:16686"
    ]


# --- issue 11, problem 1: healthchecks only with what the image has ------------------------


@pytest.mark.parametrize("name", ["demo", "jaeger"])
def test_healthchecks_use_only_programs_the_image_has(name: str) -> None:
    services = loaded(name)["services"]
    env = env_values(name)
    for service, body in services.items():
        facts = images.facts_for(env[compose.image_variable(service)])
        assert facts is not None, f"{service}: no image facts"
        if "healthcheck" not in body:
            continue
        test = body["healthcheck"]["test"]
        assert test[:4] == ["CMD", "wget", "-q", "--spider"]
        assert test[4].startswith("http://127.0.0.1:")
        assert facts.can_run("wget"), f"{service}: {facts.ref} has no wget"
    # distroless Tempo 3 and the scratch Collector: nothing to run a healthcheck with
    without = {s for s, body in services.items() if "healthcheck" not in body}
    assert without == ({"otel-collector", "tempo"} if name == "demo" else {"otel-collector"})


@pytest.mark.parametrize("name", ["demo", "jaeger"])
def test_start_up_waits_for_healthy_or_started_dependencies(name: str) -> None:
    # The old file made the Collector and Grafana wait for Tempo to be healthy: they never
    # started, since Tempo's wget healthcheck could not run.
    services = loaded(name)["services"]
    for body in services.values():
        for target, condition in body.get("depends_on", {}).items():
            has_check = "healthcheck" in services[target]
            expected = "service_healthy" if has_check else "service_started"
            assert condition == {"condition": expected}
    backend = "tempo" if name == "demo" else "jaeger"
    assert set(services["grafana"]["depends_on"]) == {"prometheus", "alertmanager", backend}
    assert services["otel-collector"]["depends_on"] == {
        backend: {"condition": "service_started" if name == "demo" else "service_healthy"}
    }


@pytest.mark.parametrize("name", ["demo", "jaeger"])
def test_state_lives_in_named_volumes_and_config_is_read_only(name: str) -> None:
    data = loaded(name)
    declared = set(data["volumes"])
    for service, body in data["services"].items():
        assert body["mem_limit"] == compose.MEMORY[service]
        assert body["restart"] == "unless-stopped"
        assert body["logging"]["options"] == {"max-size": "10m", "max-file": "3"}
        for volume in body.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert volume.endswith(":ro"), volume
            else:
                assert source in declared
    assert declared == {f"{s}-data" for s in data["services"] if s != "otel-collector"}


def test_grafana_has_no_default_password_and_no_anonymous_access() -> None:
    data = loaded("demo")
    grafana = data["services"]["grafana"]
    env = grafana["environment"]
    assert "GF_SECURITY_ADMIN_PASSWORD" not in env
    assert env["GF_SECURITY_ADMIN_PASSWORD__FILE"] == "/run/secrets/grafana_admin_password"
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert env["GF_USERS_ALLOW_SIGN_UP"] == "false"
    assert grafana["secrets"] == ["grafana_admin_password"]
    assert data["secrets"]["grafana_admin_password"] == {"file": "./secrets/grafana_admin_password"}
    text = serialize(compose.COMPOSE_PATH, data)
    assert not re.search(r"(?i)password\W+admin\b", text)


def test_no_top_level_name_for_docker_compose_1_29_and_a_valid_project_name() -> None:
    assert "name" not in loaded("demo")
    assert env_values("odd-names")["COMPOSE_PROJECT_NAME"] == "obskit-my_proj-v2"


def test_prometheus_reaches_services_on_the_host() -> None:
    prometheus = loaded("demo")["services"]["prometheus"]
    assert prometheus["extra_hosts"] == ["host.docker.internal:host-gateway"]
    assert "--enable-feature=exemplar-storage" in prometheus["command"]


# --- issue 11, problem 5: retention at least the longest SLO window --------------------------


def retention_of(data: dict) -> str:
    command = compose.compose(parse_spec(data))["services"]["prometheus"]["command"]
    return next(c for c in command if c.startswith("--storage.tsdb.retention.time="))


@pytest.mark.parametrize(
    ("extra", "window", "kept"),
    [
        ({}, None, "30d"),  # the spec default 15 days, the default 30-day SLO window
        ({}, 90, "90d"),
        ({"retention_days": 120}, None, "120d"),
        ({"retention_days": 7}, 28, "28d"),
    ],
)
def test_prometheus_keeps_samples_for_the_longest_slo_window(
    extra: dict, window: int | None, kept: str
) -> None:
    # The old file kept 15 days while the budget rules summed over 30: "30-day budget
    # remaining" covered at most 15.
    slo = {"availability": 99.9, **({"window_days": window} if window else {})}
    data = {
        "project": "p",
        "services": [{"name": "api", "port": 8000, "metrics_port": 9000, "slo": slo}],
        **extra,
    }
    assert retention_of(data) == f"--storage.tsdb.retention.time={kept}"


def test_without_an_slo_the_spec_retention_stands() -> None:
    data = {"project": "p", "services": [{"name": "api", "port": 8000, "metrics_port": 9000}]}
    assert retention_of(data) == "--storage.tsdb.retention.time=15d"


def test_alertmanager_runs_without_a_cluster_listener() -> None:
    command = loaded("demo")["services"]["alertmanager"]["command"]
    assert "--cluster.listen-address=" in command
