"""The external validators ``obskit validate`` runs: where to find them, how to install them,
and running one with its whole output (promtool prints successes on stdout and failures on
stderr; both go to one pipe so the lines stay in order)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Tool:
    name: str
    install_hint: str
    required: bool = True  # a missing required tool fails the run unless --allow-missing
    python_module: str = ""  # run as `python -m MODULE` when importable next to obskit
    # A pinned server's binary: the pinned version from obskit's server cache (or the version
    # built instead where the pinned one cannot be), else PATH; the check reports which ran.
    server_binary: bool = False

    def command(self) -> list[str] | None:
        """The argv prefix that runs the tool, or None when it is not installed."""
        if self.python_module:
            found_module = importlib.util.find_spec(self.python_module) is not None
            return [sys.executable, "-m", self.python_module] if found_module else None
        if self.server_binary:
            from obskit.stack.servers import find_binary

            binary = find_binary(self.name, stand_in=True)
            return [str(binary)] if binary else None
        found = shutil.which(self.name)
        return [found] if found else None


# The pinned versions (the server cache) come first; Debian's packages are the fallback.
PROMTOOL = Tool("promtool", "apt-get install prometheus", server_binary=True)
AMTOOL = Tool("amtool", "apt-get install prometheus-alertmanager", server_binary=True)
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
