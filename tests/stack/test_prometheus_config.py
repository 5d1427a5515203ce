"""prometheus/prometheus.yml for every CI spec, checked by Debian's promtool (Prometheus 2.42,
the oldest version the file must work with). Rule files belong to tests of the rules."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from obskit.errors import SpecError
from obskit.stack import prometheus
from obskit.stack.serialize import serialize
from obskit.stack.spec import RESERVED_NAMES, parse_spec
from tests.specs import SPECS

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.needs("promtool", hint="apt-get install prometheus (gives promtool)")


def write(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name / prometheus.PATH
    path.parent.mkdir(parents=True)
    path.write_text(serialize(path, prometheus.config(SPECS[name])), encoding="utf-8")
    return path


@needs_promtool
@pytest.mark.parametrize("name", sorted(SPECS))
def test_promtool_accepts_the_config(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, name)
    proc = subprocess.run(
        [PROMTOOL, "check", "config", "--syntax-only", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


@needs_promtool
def test_promtool_rejects_a_broken_config(tmp_path: Path) -> None:
    """The check above can fail: a duplicate job name is refused."""
    path = write(tmp_path, "demo")
    data = yaml.safe_load(path.read_text())
    data["scrape_configs"].append(data["scrape_configs"][0])
    path.write_text(yaml.safe_dump(data))
    proc = subprocess.run(
        [PROMTOOL, "check", "config", "--syntax-only", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert 'found multiple scrape configs with job name "prometheus"' in proc.stderr


@pytest.mark.parametrize("name", sorted(SPECS))
def test_one_job_per_service_named_after_it_on_its_metrics_port(name: str) -> None:
    spec = SPECS[name]
    config = yaml.safe_load(serialize(prometheus.PATH, prometheus.config(spec)))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert list(jobs) == [*prometheus.STACK_JOBS, *(s.name for s in spec.services)]
    for service in spec.services:
        targets = jobs[service.name]["static_configs"][0]["targets"]
        assert targets == [f"host.docker.internal:{service.metrics_port}"]
    assert jobs["alertmanager"]["static_configs"][0]["targets"] == ["alertmanager:9093"]
    assert config["rule_files"] == ["rules/*.yml"]
    alertmanagers = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert alertmanagers == ["alertmanager:9093"]
    assert config["global"]["external_labels"] == {
        "project": spec.project,
        "environment": spec.environment,
    }


def test_keys_prometheus_2_42_rejects_are_never_generated() -> None:
    for spec in SPECS.values():
        text = serialize(prometheus.PATH, prometheus.config(spec))
        for key in ("scrape_config_files", "scrape_protocols", "query_offset"):
            assert key not in text


def test_names_with_dots_dashes_and_underscores_stay_plain_strings() -> None:
    config = yaml.safe_load(serialize(prometheus.PATH, prometheus.config(SPECS["odd-names"])))
    names = [job["job_name"] for job in config["scrape_configs"]]
    assert {"order-service", "billing.api", "user_profile"} <= set(names)


@pytest.mark.parametrize("name", RESERVED_NAMES)
def test_a_service_cannot_take_a_stack_job_name(name: str) -> None:
    data = {"project": "p", "services": [{"name": name, "port": 8000, "metrics_port": 9000}]}
    with pytest.raises(SpecError) as err:
        parse_spec(data)
    assert str(err.value) == (
        f"services[0].name: {name!r} is the name of a component of the stack; pick another name"
    )


def test_every_stack_job_name_is_reserved() -> None:
    assert set(prometheus.STACK_JOBS) <= set(RESERVED_NAMES)
