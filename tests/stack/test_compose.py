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

from obskit.stack import compose
from obskit.stack.serialize import serialize
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


@pytest.mark.parametrize("name", ["demo", "jaeger"])
def test_start_up_waits_for_healthy_dependencies(name: str) -> None:
    services = loaded(name)["services"]
    for service, body in services.items():
        if service == "otel-collector":
            # Distroless image: no shell or wget to run a healthcheck with.
            assert "healthcheck" not in body
        else:
            test = body["healthcheck"]["test"]
            assert test[:4] == ["CMD", "wget", "-q", "--spider"]
            assert test[4].startswith("http://127.0.0.1:")
        for target, condition in body.get("depends_on", {}).items():
            assert condition == {"condition": "service_healthy"}
            assert "healthcheck" in services[target]
    assert set(services["grafana"]["depends_on"]) == {
        "prometheus",
        "alertmanager",
        "tempo" if name == "demo" else "jaeger",
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
    assert "--storage.tsdb.retention.time=15d" in prometheus["command"]


def test_alertmanager_runs_without_a_cluster_listener() -> None:
    command = loaded("demo")["services"]["alertmanager"]["command"]
    assert "--cluster.listen-address=" in command
