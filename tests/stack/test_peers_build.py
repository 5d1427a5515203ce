"""tests/stack/peers/build: versions from the pins, a cached server is not built again (go is
never called), and what cannot be built here is said, not hidden."""

from __future__ import annotations

import importlib.util
import os
import stat
import subprocess
import sys
from importlib.machinery import SourceFileLoader
from pathlib import Path
from types import ModuleType

import pytest

from obskit.stack.servers import NOT_BUILDABLE, SERVERS
from tests.conftest import REPO

SCRIPT = REPO / "tests" / "stack" / "peers" / "build"


@pytest.fixture(scope="module")
def build() -> ModuleType:
    loader = SourceFileLoader("peers_build", str(SCRIPT))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[loader.name] = module  # dataclasses look their module up there
    loader.exec_module(module)
    return module


def test_prometheus_3_module_versions(build: ModuleType) -> None:
    assert build.prometheus_module_version("v3.14.0") == "v0.314.0"
    assert build.prometheus_module_version("v3.5.2") == "v0.305.2"


def test_jaeger_is_built_as_its_v1_twin_tag(build: ModuleType) -> None:
    target = build.go_target(SERVERS["jaeger"], "v2.12.0")
    assert (target.module, target.version) == ("github.com/jaegertracing/jaeger", "v1.75.0")
    with pytest.raises(build.BuildError, match=r"no v1\.x twin tag known"):
        build.go_target(SERVERS["jaeger"], "v2.99.0")


def test_what_cannot_be_built_gets_its_stand_in_or_nothing(build: ModuleType) -> None:
    assert build.builds(SERVERS["prometheus"]) == [("v3.14.0", "pinned")]
    if ("jaeger", SERVERS["jaeger"].version) in NOT_BUILDABLE:
        assert build.builds(SERVERS["jaeger"]) == [("v2.12.0", "stand-in for v2.20.0")]
    if ("tempo", SERVERS["tempo"].version) in NOT_BUILDABLE:
        assert build.builds(SERVERS["tempo"]) == []


def fake_cache(root: Path, build: ModuleType) -> None:
    """Every binary the script would build, already in place (empty executables)."""
    for server in SERVERS.values():
        for version, _ in build.builds(server):
            folder = server.folder(root, version)
            folder.mkdir(parents=True)
            for binary in server.binaries:
                (folder / binary).write_text("")
                (folder / binary).chmod(stat.S_IRWXU)


def test_a_second_run_reuses_the_cache_without_calling_go(
    build: ModuleType, tmp_path: Path
) -> None:
    fake_cache(tmp_path / "cache", build)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "go").write_text("#!/bin/sh\necho go was called >&2\nexit 99\n")
    (bin_dir / "go").chmod(stat.S_IRWXU)
    env = {
        **os.environ,
        "OBSKIT_SERVERS_CACHE": str(tmp_path / "cache"),
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
    }
    result = subprocess.run(
        [sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "go was called" not in result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("build: ")]
    cached = [line for line in lines if ": cached in " in line]
    assert len(cached) == sum(len(build.builds(s)) for s in SERVERS.values())
    for (name, version), why in NOT_BUILDABLE.items():
        assert f"build: {name} {version}: NOT BUILT, cannot be built here: {why}" in lines
    assert lines[-1].startswith("build: all in ")


def test_an_unknown_server_is_refused_with_the_known_ones(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "grafana"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "unknown server grafana; known: prometheus, alertmanager" in result.stderr
