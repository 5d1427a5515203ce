"""Child processes that never outlive the demo.

Each child gets ``PR_SET_PDEATHSIG`` (Linux): if the demo dies, even by SIGKILL, the kernel
sends the child SIGTERM. A normal stop sends SIGTERM to everyone, waits, then SIGKILLs.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _group_of(user: str | None) -> int | None:
    if user is None:
        return None
    import pwd

    return pwd.getpwnam(user).pw_gid


def _end(proc: subprocess.Popen[bytes], grace: float) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()


class Supervisor:
    """Starts named processes with their output in ``log_dir/<name>.log``; ``stop_all()``
    ends them in reverse start order."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
    ) -> subprocess.Popen[bytes]:
        """``user``: run as that user (a server that refuses to run as root, started by
        root); its group is the user's own. The death signal is set after the switch, as
        the kernel clears it when the credentials change."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if name in self.procs and self.procs[name].poll() is None:
            raise RuntimeError(f"{name} is already running")
        with open(self.log_path(name), "ab") as log:
            proc = subprocess.Popen(
                list(argv), env=dict(env) if env is not None else None, cwd=cwd,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent, start_new_session=True,
                user=user, group=_group_of(user), extra_groups=[] if user else None,
            )  # fmt: skip
        self.procs[name] = proc
        return proc

    def stop(self, name: str, grace: float = 15.0) -> None:
        """SIGTERM one process, SIGKILL it after ``grace`` seconds; forget it."""
        proc = self.procs.pop(name, None)
        if proc is not None:
            _end(proc, grace)

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def last_line(self, name: str) -> str:
        try:
            lines = self.log_path(name).read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1] if lines else ""

    def dead(self) -> list[tuple[str, int]]:
        return [(n, p.returncode) for n, p in self.procs.items() if p.poll() is not None]

    def stop_all(self, grace: float = 15.0) -> None:
        for proc in reversed(list(self.procs.values())):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait()
        self.procs.clear()
