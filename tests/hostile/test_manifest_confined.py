"""Issue 15, case 5: `obskit init` deletes files its manifest lists (when their hash still
matches); a manifest committed to a repository must not reach outside --out: `../x`, absolute
paths and paths through a symlinked directory are never deleted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from obskit.cli import cli
from obskit.stack.manifest import NAME, digest
from tests.specs import SPEC_DATA


def init(spec: Path, out: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["init", "--spec", str(spec), "--out", str(out)])
    assert isinstance(result.exception, SystemExit | None), result.exception
    return result.exit_code, result.output


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    spec = tmp_path / "repo" / "obskit.yaml"
    spec.parent.mkdir()
    spec.write_text(yaml.safe_dump(SPEC_DATA["one-service"]), encoding="utf-8")
    out = tmp_path / "repo" / "stack"
    assert init(spec, out)[0] == 0
    return spec, out


def plant(out: Path, entries: dict[str, str]) -> None:
    manifest = json.loads((out / NAME).read_text())
    manifest["files"].update(entries)
    (out / NAME).write_text(json.dumps(manifest))


@pytest.mark.parametrize("entry", ["../../victim.txt", "ABSOLUTE", "grafana/../../../victim.txt"])
def test_a_manifest_entry_outside_out_is_refused_and_nothing_deleted(
    project: tuple[Path, Path], entry: str
) -> None:
    spec, out = project
    victim = out.parent.parent / "victim.txt"
    victim.write_text("precious")
    entry = str(victim) if entry == "ABSOLUTE" else entry
    plant(out, {entry: digest("precious")})
    code, output = init(spec, out)
    assert code == 2
    assert "is not a path inside the output directory" in output
    assert len(output.strip().splitlines()) == 1
    assert victim.read_text() == "precious"


def test_a_path_through_a_symlinked_directory_is_not_deleted(
    project: tuple[Path, Path], tmp_path: Path
) -> None:
    spec, out = project
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    victim = elsewhere / "victim.txt"
    victim.write_text("precious")
    (out / "linked").symlink_to(elsewhere, target_is_directory=True)
    plant(out, {"linked/victim.txt": digest("precious")})
    code, _output = init(spec, out)
    assert code == 0
    assert victim.read_text() == "precious"
