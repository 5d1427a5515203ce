"""``obskit init`` as a user runs it: what it writes, what it leaves alone, and exactly what it
says. Every test runs in its own directory with relative paths, so messages are exact."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from obskit.stack import generate_stack
from obskit.stack.manifest import NAME as MANIFEST
from obskit.stack.manifest import digest
from obskit.stack.spec import load_spec
from tests.specs import SPEC_DATA

SPEC = SPEC_DATA["one-service"]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str) -> Result:
    from obskit.cli import cli

    return CliRunner().invoke(cli, ["init", *args], catch_exceptions=False)


def write_spec(path: Path, data: dict = SPEC) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def manifest_files(root: Path) -> dict[str, str]:
    return json.loads((root / MANIFEST).read_text())["files"]


# --- a bad spec -------------------------------------------------------------------------------


def test_a_bad_spec_names_the_field_exits_2_and_writes_nothing(workdir: Path) -> None:
    bad = {**SPEC, "services": [{"name": "api", "port": 70000, "metrics_port": 9000}]}
    write_spec(workdir / "obskit.yaml", bad)
    result = run("--out", "stack")
    assert result.exit_code == 2
    assert result.output == (
        "Error: obskit.yaml: services[0].port: must be a whole number from 1 to 65535; got 70000\n"
    )
    assert not (workdir / "stack").exists()


def test_a_name_that_could_inject_is_refused(workdir: Path) -> None:
    write_spec(workdir / "obskit.yaml", {**SPEC, "project": 'x"}\n- evil: 1'})
    result = run()
    assert result.exit_code == 2
    assert result.output.startswith("Error: obskit.yaml: project: use letters, digits")
    assert sorted(os.listdir(workdir)) == ["obskit.yaml"]


def test_a_missing_spec_with_check_is_an_error_not_a_starter(workdir: Path) -> None:
    result = run("--check")
    assert result.exit_code == 2
    assert result.output == (
        "Error: obskit.yaml: no such file; run `obskit init` to write a starter spec\n"
    )
    assert os.listdir(workdir) == []


# --- generating, determinism ---------------------------------------------------------------


def test_first_run_creates_everything_secrets_and_a_manifest(workdir: Path) -> None:
    write_spec(workdir / "obskit.yaml")
    result = run()
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "  created   prometheus/prometheus.yml" in lines
    assert (
        "  created   secrets/grafana_admin_password  (Grafana admin password, mode 0644 in a"
        " 0700 directory: Grafana (uid 472) reads it, other users of this host cannot)"
    ) in lines
    assert "  created   .gitignore  (ignores secrets/)" in lines
    generated = generate_stack(load_spec(workdir / "obskit.yaml"))
    assert lines[-1] == f".: {len(generated)} files ({len(generated)} created)."
    # The manifest lists every generated file with its hash, and never the secret.
    files = manifest_files(workdir)
    assert sorted(files) == sorted(generated)
    for rel, sha in files.items():
        assert digest((workdir / rel).read_bytes()) == sha
    password = workdir / "secrets" / "grafana_admin_password"
    assert len(password.read_text()) >= 32 and password.read_text() != "admin"
    assert (workdir / ".gitignore").read_text().splitlines()[-1] == "secrets/"


# --- issue 11, problem 2: a secret the container user can read, and nobody else --------------

GRAFANA_UID, GRAFANA_GID = 472, 0  # grafana/grafana's Dockerfile: GF_UID, GF_GID


def test_grafana_can_read_its_password_and_other_host_users_cannot(workdir: Path) -> None:
    # A file secret is a bind mount: the container sees the host mode and owner. The old
    # 0600 file owned by the host user was unreadable for uid 472, and Grafana started with
    # an empty admin password.
    from obskit.validate.containers import can_read

    write_spec(workdir / "obskit.yaml")
    umask = os.umask(0o077)  # a careful user's umask: what obskit writes must not depend on it
    try:
        assert run().exit_code == 0
    finally:
        os.umask(umask)
    password = workdir / "secrets" / "grafana_admin_password"
    assert can_read(password.stat(), GRAFANA_UID, {GRAFANA_GID}, directory=False)
    other_user = 4242
    assert not can_read(password.parent.stat(), other_user, {other_user}, directory=True)
    assert stat.S_IMODE(password.parent.stat().st_mode) == 0o700
    # every generated config is readable by the containers' users (here Prometheus: nobody)
    for rel in generate_stack(load_spec(workdir / "obskit.yaml")):
        path = workdir / rel
        assert can_read(path.stat(), 65534, {65534}, directory=False), rel
        if path.parent != workdir:  # a mounted directory, like ./prometheus
            assert can_read(path.parent.stat(), 65534, {65534}, directory=True), rel


def test_an_old_0600_password_is_made_readable_for_grafana(workdir: Path) -> None:
    write_spec(workdir / "obskit.yaml")
    (workdir / "secrets").mkdir(mode=0o755)
    password = workdir / "secrets" / "grafana_admin_password"
    password.write_text("kept-as-it-is")
    password.chmod(0o600)
    result = run()
    assert result.exit_code == 0, result.output
    assert "  updated   secrets/  (mode 0700: only you can enter it)" in result.output
    assert (
        "  updated   secrets/grafana_admin_password  (mode 0644, so that Grafana (uid 472) can"
        " read it)"
    ) in result.output
    assert password.read_text() == "kept-as-it-is"
    assert stat.S_IMODE(password.stat().st_mode) == 0o644


def test_init_says_where_alertmanager_sends_a_webhook_on_the_host(workdir: Path) -> None:
    write_spec(workdir / "obskit.yaml", SPEC_DATA["one-service"])
    result = run()
    assert (
        "  note      alertmanager/alertmanager.yml  (alerting.webhook_url"
        " http://127.0.0.1:5001/alerts is this host's loopback; Alertmanager, in a container,"
        " uses http://host.docker.internal:5001/alerts: the receiver must listen on the Docker"
        " bridge or 0.0.0.0)"
    ) in result.output.splitlines()


def test_the_same_spec_gives_byte_identical_files(workdir: Path) -> None:
    write_spec(workdir / "a" / "obskit.yaml")
    write_spec(workdir / "b" / "obskit.yaml")
    assert run("--spec", "a/obskit.yaml").exit_code == 0
    assert run("--spec", "b/obskit.yaml").exit_code == 0
    first, second = snapshot(workdir / "a"), snapshot(workdir / "b")
    secret = "secrets/grafana_admin_password"
    assert first.pop(secret) != second.pop(secret)  # a fresh password per stack
    assert first == second


def test_every_generated_yaml_and_json_file_parses_back_to_its_data(workdir: Path) -> None:
    data = {**SPEC_DATA["odd-names"]}
    write_spec(workdir / "obskit.yaml", data)
    assert run().exit_code == 0
    for rel, expected in generate_stack(load_spec(workdir / "obskit.yaml")).items():
        text = (workdir / rel).read_text()
        if rel.endswith(".json"):
            assert json.loads(text) == expected, rel
        elif rel.endswith((".yml", ".yaml")):
            assert yaml.safe_load(text) == expected, rel


def test_a_second_run_changes_nothing_and_keeps_the_password(workdir: Path) -> None:
    write_spec(workdir / "obskit.yaml")
    run()
    before = snapshot(workdir)
    result = run()
    assert result.exit_code == 0
    count = len(manifest_files(workdir))
    assert result.output == f".: {count} files ({count} unchanged).\n"
    assert snapshot(workdir) == before


# --- never lose a user's edits ---------------------------------------------------------------


def edit(path: Path) -> bytes:
    path.write_text(path.read_text() + "# tuned by hand\n")
    return path.read_bytes()


def test_a_user_edited_file_is_left_alone_and_reported(workdir: Path) -> None:
    write_spec(workdir / "obskit.yaml")
    run()
    edited = edit(workdir / "prometheus" / "prometheus.yml")
    write_spec(workdir / "obskit.yaml", {**SPEC, "environment": "prod"})  # changes other files
    result = run()
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert "  kept      prometheus/prometheus.yml  (edited by hand: left alone)" in lines
    assert "  updated   collectors/otel-collector.yaml" in lines
    assert lines[-1] == (
        "Error: 1 file edited by hand left alone: prometheus/prometheus.yml "
        "(`obskit init --diff` shows what obskit would write; --force overwrites)"
    )
    assert (workdir / "prometheus" / "prometheus.yml").read_bytes() == edited
    # Still recognised as edited next time (the manifest keeps obskit's hash).
    assert run().exit_code == 2


def test_force_overwrites_edits(workdir: Path) -> None:
    write_spec(workdir / "obskit.yaml")
    run()
    original = (workdir / "prometheus" / "prometheus.yml").read_bytes()
    edit(workdir / "prometheus" / "prometheus.yml")
    result = run("--force")
    assert result.exit_code == 0
    assert (
        "  overwrote prometheus/prometheus.yml  (your edits were replaced (--force))"
        in result.output.splitlines()
    )
    assert (workdir / "prometheus" / "prometheus.yml").read_bytes() == original


def test_a_file_obskit_never_wrote_is_not_overwritten(workdir: Path) -> None:
    write_spec(workdir / "obskit.yaml")
    (workdir / "alertmanager").mkdir()
    (workdir / "alertmanager" / "alertmanager.yml").write_text("route: {receiver: mine}\n")
    result = run()
    assert result.exit_code == 2
    assert "  kept      alertmanager/alertmanager.yml  (edited by hand: left alone)" in (
        result.output.splitlines()
    )
    assert (workdir / "alertmanager" / "alertmanager.yml").read_text() == (
        "route: {receiver: mine}\n"
    )
    assert "alertmanager/alertmanager.yml" not in manifest_files(workdir)


def test_switching_backend_removes_files_no_longer_generated(workdir: Path) -> None:
    write_spec(workdir / "obskit.yaml")
    run()
    write_spec(workdir / "obskit.yaml", {**SPEC, "traces_backend": "jaeger"})
    result = run()
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert "  removed   tempo/tempo.yaml  (no longer generated)" in lines
    assert "  created   jaeger/jaeger.yaml" in lines
    assert not (workdir / "tempo" / "tempo.yaml").exists()
    assert "tempo/tempo.yaml" not in manifest_files(workdir)


# --- --check and --diff ----------------------------------------------------------------------


def test_check_passes_when_up_to_date(workdir: Path) -> None:
    write_spec(workdir / "obskit.yaml")
    run()
    result = run("--check")
    assert result.exit_code == 0
    count = len(manifest_files(workdir))
    assert result.output == f".: all {count} files are up to date with obskit.yaml.\n"


def test_check_fails_on_drift_and_writes_nothing(workdir: Path) -> None:
    write_spec(workdir / "obskit.yaml")
    run()
    edit(workdir / "alertmanager" / "alertmanager.yml")
    (workdir / "docker-compose.yml").unlink()
    write_spec(
        workdir / "obskit.yaml",
        {
            **SPEC,
            "services": [*SPEC["services"], {"name": "web", "port": 8100, "metrics_port": 9100}],
        },
    )
    before = snapshot(workdir)
    result = run("--check")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert "  edited by hand        alertmanager/alertmanager.yml" in lines
    assert "  missing               docker-compose.yml" in lines
    assert "  out of date           prometheus/prometheus.yml" in lines
    problems = [line for line in lines if line.startswith("  ")]
    assert lines[-1] == (
        f"Error: {len(problems)} files in . differ from what obskit.yaml generates "
        "(run `obskit init` to update them; --diff shows the changes)"
    )
    assert snapshot(workdir) == before


def test_diff_shows_the_changes_and_writes_nothing(workdir: Path) -> None:
    write_spec(workdir / "obskit.yaml")
    run()
    write_spec(workdir / "obskit.yaml", {**SPEC, "environment": "prod"})
    before = snapshot(workdir)
    result = run("--diff")
    assert result.exit_code == 0
    assert "--- a/collectors/otel-collector.yaml\n+++ b/collectors/otel-collector.yaml\n" in (
        result.stdout
    )
    assert "-    environment: dev\n+    environment: prod\n" in result.stdout
    assert result.stderr.endswith(" would change in ..\n")
    assert snapshot(workdir) == before


def test_diff_before_the_first_run_shows_new_files(workdir: Path) -> None:
    write_spec(workdir / "obskit.yaml")
    result = run("--diff")
    assert result.exit_code == 0
    assert "--- /dev/null\n+++ b/docker-compose.yml\n" in result.stdout
    assert sorted(os.listdir(workdir)) == ["obskit.yaml"]


# --- the starter spec ------------------------------------------------------------------------


def test_no_spec_writes_a_commented_starter_then_generates(workdir: Path) -> None:
    result = run("--service", "checkout=8002", "--service", "billing.api_v2=8003")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (
        "wrote starter spec obskit.yaml: edit it and re-run `obskit init`"
    )
    text = (workdir / "obskit.yaml").read_text()
    assert text.startswith("# obskit.yaml: the one spec")
    spec = load_spec(workdir / "obskit.yaml")
    assert [(s.name, s.port, s.metrics_port) for s in spec.services] == [
        ("checkout", 8002, 9002),
        ("billing.api_v2", 8003, 9003),
    ]
    assert (workdir / "prometheus" / "prometheus.yml").exists()


def test_the_starter_examples_are_valid_when_uncommented(workdir: Path) -> None:
    assert run().exit_code == 0
    text = (workdir / "obskit.yaml").read_text()
    # Uncomment the example blocks (a commented key and the indented YAML under it).
    lines = []
    for line in text.splitlines():
        body = line[2:] if line.startswith("# ") else None
        if body is not None and (
            body.startswith(("external:", "alerting:", " ", "- ")) or body == ""
        ):
            lines.append(body)
        else:
            lines.append(line)
    data = yaml.safe_load("\n".join(lines))
    spec = load_spec(write_spec(workdir / "full.yaml", data))
    assert spec.external[0].name == "payments-gateway"
    assert spec.alerting.slack is not None and spec.alerting.email is not None


def test_an_existing_spec_is_never_overwritten(workdir: Path) -> None:
    write_spec(workdir / "obskit.yaml")
    before = (workdir / "obskit.yaml").read_bytes()
    result = run("--service", "web=8100")
    assert result.exit_code == 2
    assert result.output == (
        "Error: --service only applies when writing a new spec, and obskit.yaml exists "
        "(add the service to obskit.yaml instead)\n"
    )
    assert (workdir / "obskit.yaml").read_bytes() == before


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        (
            "web",
            "Error: --service 'web': expected NAME=PORT with PORT from 1 to 65535, "
            "like checkout=8002\n",
        ),
        (
            "web=99999",
            "Error: --service 'web=99999': expected NAME=PORT with PORT from 1 to 65535, "
            "like checkout=8002\n",
        ),
        (
            "rm -rf /=8000",
            "Error: --service 'rm -rf /=8000': NAME must use letters, digits, '.', '_' or '-', "
            "starting with a letter or digit, at most 63 characters\n",
        ),
    ],
)
def test_a_bad_service_argument_writes_nothing(workdir: Path, arg: str, message: str) -> None:
    result = run("--service", arg)
    assert result.exit_code == 2
    assert result.output == message
    assert os.listdir(workdir) == []
