"""The external validators ``obskit validate`` runs: where to find them, how to install them,
and running one with its whole output (promtool prints successes on stdout and failures on
stderr; both go to one pipe so the lines stay in order)."""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from obskit.stack.compose import IMAGES

TIMEOUT_S = 120.0
SERVERS_CACHE = "OBSKIT_SERVERS_CACHE"  # where the pinned servers' builds are cached


def servers_cache() -> Path:
    """``${OBSKIT_SERVERS_CACHE:-~/.cache/obskit/servers}``: ``<server>-<version>/<binary>``."""
    configured = os.environ.get(SERVERS_CACHE)
    return Path(configured) if configured else Path.home() / ".cache" / "obskit" / "servers"


@dataclass(frozen=True)
class Tool:
    name: str
    install_hint: str
    required: bool = True  # a missing required tool fails the run unless --allow-missing
    python_module: str = ""  # run as `python -m MODULE` when importable next to obskit
    # A pinned server's binary: the pinned version from obskit's server cache (or the version
    # built instead where the pinned one cannot be), else PATH; the check reports which ran.
    server_binary: bool = False
    # (compose service, server) whose pinned image the tool belongs to: its build of the
    # image's version, in the servers cache, is preferred to whatever is on PATH
    pinned_to: tuple[str, str] | None = None

    @property
    def pinned_version(self) -> str | None:
        """The image's version, ``3.14.0`` for ``prom/prometheus:v3.14.0``."""
        return IMAGES[self.pinned_to[0]][1].removeprefix("v") if self.pinned_to else None

    def cached(self) -> Path | None:
        if self.pinned_to is None:
            return None
        service, server = self.pinned_to
        return servers_cache() / f"{server}-{IMAGES[service][1]}" / self.name

    def command(self) -> list[str] | None:
        """The argv prefix that runs the tool, or None when it is not installed: the pinned
        build in the servers cache first, then PATH, where a build of the image's major
        version wins over another (Debian's promtool 2.42 is the last resort)."""
        if self.python_module:
            found_module = importlib.util.find_spec(self.python_module) is not None
            return [sys.executable, "-m", self.python_module] if found_module else None
        if self.server_binary:
            from obskit.stack.servers import find_binary

            binary = find_binary(self.name, stand_in=True)
            return [str(binary)] if binary else None
        cached = self.cached()
        if cached is not None and os.access(cached, os.X_OK) and cached.is_file():
            return [str(cached)]
        found = shutil.which(self.name)
        return [found] if found else None

    def ran_with(self, argv: list[str]) -> str:
        """``promtool 3.14.0``; with the image's version when the major versions differ."""
        if self.python_module:
            return self.name
        found = version(argv[0])
        if found is None:
            return f"{self.name} (version unknown)"
        text = f"{self.name} {found}"
        pinned = self.pinned_version
        if pinned and _series(found) != _series(pinned):
            text += f", not the image's {pinned}"
        return text


def _series(version_text: str) -> tuple[str, ...]:
    """What must match for the same behaviour: the major version, or for 0.x the minor too."""
    parts = tuple(version_text.split("."))
    return parts[:2] if parts[0] == "0" else parts[:1]


@functools.cache
def version(executable: str) -> str | None:
    """The version ``EXE --version`` prints (``promtool, version 2.42.0+ds (...)``)."""
    result = run([executable, "--version"], cwd=Path.cwd())
    match = re.search(r"version (\d+\.\d+\.\d+)", result.output)
    return match.group(1) if match else None


# The pinned versions (the server cache) come first; Debian's packages are the fallback.
PROMTOOL = Tool(
    "promtool",
    "apt-get install prometheus",
    server_binary=True,
    pinned_to=("prometheus", "prometheus"),
)
AMTOOL = Tool(
    "amtool",
    "apt-get install prometheus-alertmanager",
    server_binary=True,
    pinned_to=("alertmanager", "alertmanager"),
)
# Its bundled compose-spec schema is used in-process; it must be importable next to obskit.
CHECK_JSONSCHEMA = Tool(
    "check-jsonschema", "pip install check-jsonschema", python_module="check_jsonschema"
)
# Compose v1 is optional: check-jsonschema already checks the current compose spec; v1 adds
# interpolation of .env and cross-references (depends_on targets) on top.
DOCKER_COMPOSE = Tool("docker-compose", "apt-get install docker-compose", required=False)


@dataclass(frozen=True)
class ToolRun:
    returncode: int
    output: str  # stdout and stderr, interleaved as the tool wrote them

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run(argv: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> ToolRun:
    """Run a validator in ``cwd`` (paths in its messages are then relative to the stack)."""
    try:
        proc = subprocess.run(
            argv,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            timeout=TIMEOUT_S,
            env={**os.environ, **(env or {})},
            check=False,
        )
    except subprocess.TimeoutExpired:
        return ToolRun(124, f"{Path(argv[0]).name} did not finish within {TIMEOUT_S:.0f}s")
    except OSError as err:
        return ToolRun(126, f"could not run {Path(argv[0]).name}: {err}")
    return ToolRun(proc.returncode, proc.stdout)
