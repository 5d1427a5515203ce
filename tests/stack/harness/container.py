"""One compose service as a process that sees what its container would see.

The process runs in the service's network namespace and in a mount namespace of its own,
chrooted into an overlay of the host's root (writes land in an upper layer on a tmpfs of that
mount namespace, gone with the process, never on the host). Into that root go, as Docker would put them: the server binary at the image's
entrypoint path, every volume of the compose file at its in-container path (``:ro`` read-only),
fresh directories for named volumes with the image's ownership, and generated ``/etc/hosts``
and ``/etc/resolv.conf``. It runs as the image's user, from the image's working directory, with
the compose ``environment`` only, and gets SIGTERM if the test process dies.

What stays the host's: the rest of the file system (the servers are static Go binaries and read
nothing else), the kernel's cgroups (``mem_limit`` is not applied) and the restart policy.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.stack.harness.images import Image
from tests.stack.harness.network import Namespace
from tests.stack.harness.project import Healthcheck, Service

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Nothing answers there: a name that is not in /etc/hosts fails at once, and no lookup
# ever leaves the machine (Docker's embedded DNS would sit at 127.0.0.11).
RESOLV_CONF = "nameserver 127.0.0.11\noptions timeout:1 attempts:1\n"


@dataclass
class Container:
    service: Service
    image: Image
    binary: Path
    namespace: Namespace
    workdir: Path  # the harness' own folder for this service (start script, hosts, log)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def root(self) -> Path:
        return self.workdir / "root"

    @property
    def log_path(self) -> Path:
        return self.workdir / "output.log"

    def start(self, hosts: dict[str, str], volumes_dir: Path) -> None:
        for sub in ("root", "layer", "etc"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        (self.workdir / "etc" / "hosts").write_text(_hosts_text(hosts), encoding="utf-8")
        (self.workdir / "etc" / "resolv.conf").write_text(RESOLV_CONF, encoding="utf-8")
        script = self._script(volumes_dir)
        (self.workdir / "start.sh").write_text(script, encoding="utf-8")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                ["nsenter", f"--net={self.namespace.path}", "--",
                 "unshare", "--mount", "--propagation", "private", "--",
                 "/bin/sh", "-eu", str(self.workdir / "start.sh")],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=_die_with_parent,
            )  # fmt: skip

    def _script(self, volumes_dir: Path) -> str:
        """The mounts, then the server: one shell script, readable in the run's folder."""
        root = str(self.root)
        q = shlex.quote
        layer = q(str(self.workdir / "layer"))
        lines = [
            # tmpfs takes an overlay's upper layer whatever the host's root is (ext4, overlay)
            f"mount -t tmpfs -o mode=0755 layer {layer} && mkdir {layer}/upper {layer}/work",
            f"mount -t overlay overlay -o lowerdir=/,upperdir={layer}/upper,"
            f"workdir={layer}/work {q(root)}",
            *(f"mount --rbind /{d} {q(root)}/{d}" for d in ("proc", "dev", "sys")),
        ]

        def bind(source: str, target: str, read_only: bool, is_dir: bool) -> None:
            inside = q(root + target)
            make = (
                f"mkdir -p {inside}"
                if is_dir
                else f"mkdir -p $(dirname {inside}) && touch {inside}"
            )
            lines.append(f"{make} && mount --bind {q(source)} {inside}")
            if read_only:
                lines.append(f"mount -o remount,bind,ro {inside}")

        bind(str(self.binary), self.image.entrypoint, True, False)
        for mount in self.service.mounts:
            if mount.named:
                volume = volumes_dir / mount.source
                if not volume.exists():
                    volume.mkdir(parents=True)
                    uid, gid, mode = self.image.owned.get(mount.target, (0, 0, 0o755))
                    os.chown(volume, uid, gid)
                    volume.chmod(mode)
                bind(str(volume), mount.target, mount.read_only, True)
            else:
                bind(mount.source, mount.target, mount.read_only, Path(mount.source).is_dir())
        for name in ("hosts", "resolv.conf"):
            bind(str(self.workdir / "etc" / name), f"/etc/{name}", True, False)
        for path, (uid, gid, mode) in self.image.owned.items():
            if not any(m.target == path for m in self.service.mounts):
                inside = q(root + path)
                lines.append(f"mkdir -p {inside} && chown {uid}:{gid} {inside} && "
                             f"chmod {mode:o} {inside}")  # fmt: skip
        uid, gid = self.image.user
        env = [f"PATH={PATH}", "HOME=/", *(f"{k}={v}" for k, v in self.service.environment.items())]
        argv = [self.image.entrypoint, *self.service.command]
        lines.append(
            f"exec chroot {q(root)} setpriv --reuid={uid} --regid={gid} --clear-groups "
            f"--pdeathsig=TERM env -i -C {q(self.image.workdir)} "
            + " ".join(q(a) for a in [*env, *argv])
        )
        return "\n".join(lines) + "\n"

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])

    def exec(self, argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside the container (its network, mounts, root and user)."""
        assert self.proc is not None
        uid, gid = self.image.user
        return subprocess.run(
            ["nsenter", f"--target={self.proc.pid}", "--net", "--mount", "--root", "--wd",
             f"--setuid={uid}", f"--setgid={gid}", "--",
             "env", "-i", f"PATH={PATH}", "HOME=/", *argv],
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip

    def can_run(self, healthcheck: Healthcheck) -> str | None:
        """Why the image could not run this healthcheck, or None if it can."""
        program = healthcheck.argv[0]
        if program in (self.image.entrypoint, Path(self.image.entrypoint).name):
            return None
        if Path(program).name in self.image.tools:
            return None
        return (
            f"{self.service.image} has no {program!r} (tools: {sorted(self.image.tools) or 'none'})"
        )

    def stop(self, grace: float = 10.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                self.proc.wait()


def _hosts_text(hosts: dict[str, str]) -> str:
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
    lines += [f"{address}\t{name}" for name, address in hosts.items()]
    return "\n".join(lines) + "\n"


def _die_with_parent() -> None:
    import ctypes

    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def wait_until(check, timeout: float, interval: float = 0.5) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return bool(check())
