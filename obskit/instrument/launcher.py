"""``obskit instrument -- CMD…``: run a Python service under ``opentelemetry-instrument`` with
the environment of :mod:`obskit.instrument.environment`.

Everything that can be checked before the service starts is checked here, so a mistake is one
line instead of a traceback inside the service: the service name, the command, the metrics
port, the instrumentation packages. Whether the OTLP endpoint answers is checked beside the
service as it starts (a warning: the service runs anyway).

Signals: the service runs in its own process group, so a terminal's Ctrl-C reaches only us,
and we forward it once. SIGTERM is forwarded as SIGINT: Python has no SIGTERM handler, so a
plain SIGTERM kills the service before the SDK's exit hook flushes the spans it still holds;
SIGINT raises KeyboardInterrupt, servers shut down, exit hooks run. A second signal sends
SIGTERM; a service still alive after the grace period is killed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from obskit.errors import InputError, MissingDependencyError
from obskit.instrument import detect
from obskit.instrument import settings as names
from obskit.instrument.endpoint import warn_if_unanswered
from obskit.instrument.environment import render, service_environment
from obskit.instrument.settings import Settings, check_port_free, resolve

GRACE_SECONDS = 10.0  # how long a service gets to flush and stop after the first signal
INSTALL_HINT = "pip install 'obskit[instrument]'"
RESOLVED = frozenset(
    {
        names.OTEL_SERVICE_NAME,
        names.OTEL_RESOURCE_ATTRIBUTES,
        names.OTEL_EXPORTER_OTLP_ENDPOINT,
        names.OTEL_EXPORTER_OTLP_PROTOCOL,
        names.OTEL_EXPORTER_PROMETHEUS_PORT,
    }
)
CONTAINER_METRICS_HOST = "0.0.0.0"  # inside a container; see print_environment


@dataclass(frozen=True)
class Launch:
    settings: Settings
    argv: list[str]  # the full command, opentelemetry-instrument first
    env: dict[str, str]  # the complete child environment
    check_endpoint: bool = True  # say (without waiting for it) when the endpoint does not answer


def print_environment(
    fmt: str,
    *,
    service_name: str | None = None,
    endpoint: str | None = None,
    metrics_port: int | None = None,
    spec: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """The service's OTEL_* variables as text. The metrics endpoint listens on all
    interfaces here: this is for a container, whose network namespace is the boundary, and
    Prometheus scrapes it from another container."""
    env = dict(os.environ if environ is None else environ)
    found = resolve(service_name=service_name, endpoint=endpoint, metrics_port=metrics_port,
                    spec=spec, environ=env)  # fmt: skip
    found = replace(found, metrics_host=CONTAINER_METRICS_HOST)
    try:
        header = (
            f"OpenTelemetry environment of {found.service_name} (obskit instrument --print-env).\n"
            "For a container: the metrics endpoint listens on all interfaces."
        )
        return render(service_environment(found, inherited=env), fmt, header=header)
    except ValueError as err:  # a value a .env file cannot hold unquoted
        raise InputError(str(err)) from None


def prepare(
    command: Sequence[str],
    *,
    service_name: str | None = None,
    endpoint: str | None = None,
    metrics_port: int | None = None,
    spec: str | None = None,
    environ: Mapping[str, str] | None = None,
    check_packages: bool = True,
) -> Launch:
    """Check everything and build the command line and environment; start nothing."""
    if not command:
        raise InputError(
            "no command to run", hint="usage: obskit instrument [OPTIONS] -- python app.py"
        )
    env = dict(os.environ if environ is None else environ)
    # Like an activated venv: `python` means the interpreter obskit (and OTel) run in; the
    # service must run there, or auto-instrumentation cannot import the SDK.
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(
        [bindir, *[p for p in env.get("PATH", "").split(os.pathsep) if p]]
    )
    executable = shutil.which(command[0], path=env["PATH"])
    if executable is None:
        raise InputError(
            f"command not found: {command[0]}", hint="check the spelling or give its full path"
        )
    entry = detect.python_entry(command)
    found = resolve(
        service_name=service_name,
        endpoint=endpoint,
        metrics_port=metrics_port,
        spec=spec,
        environ=env,
        fallback_name=_name_from(command, entry),
    )
    if entry and entry[0] == "file" and not Path(entry[1]).is_file():
        raise InputError(f"no such file: {entry[1]}", hint="check the path of the service's script")
    if check_packages and entry is not None:
        _check_instrumentations(entry)
    check_port_free(found.metrics_host, found.metrics_port)
    runner = shutil.which("opentelemetry-instrument", path=bindir) or shutil.which(
        "opentelemetry-instrument", path=env["PATH"]
    )
    if runner is None:
        raise MissingDependencyError(
            "opentelemetry-instrument not found", hint=f"install it: {INSTALL_HINT}"
        )
    # OTEL_* variables the user already set win (their compression, their exporter...),
    # except those the options and the spec resolved above.
    for key, value in service_environment(found, inherited=env).items():
        if key in RESOLVED or not env.get(key):
            env[key] = value
    return Launch(
        settings=found,
        argv=[runner, executable, *command[1:]],
        env=env,
        check_endpoint=check_packages,
    )


def run(launch: Launch, *, grace: float = GRACE_SECONDS) -> int:
    """Start the service, forward signals, return its exit code (128+N if a signal killed it)."""
    proc = subprocess.Popen(launch.argv, env=launch.env, process_group=0,
                            preexec_fn=_die_with_parent())  # fmt: skip
    if launch.check_endpoint:
        warn_if_unanswered(launch.settings)
    received: list[float] = []

    def forward(signum: int, frame: object) -> None:
        received.append(time.monotonic())
        # first signal: a clean stop (KeyboardInterrupt); second: SIGTERM; then SIGKILL
        sig = (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)[min(len(received), 3) - 1]
        _send(proc, sig)

    previous = {
        s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    }
    try:
        while True:
            try:
                code = proc.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if received and time.monotonic() - received[0] > grace:
                    _send(proc, signal.SIGKILL)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 128 - code if code < 0 else code


def _send(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(sig)


def _die_with_parent():  # type: ignore[no-untyped-def]  # a preexec_fn, or None off Linux
    """If the launcher itself is killed (SIGKILL, OOM), the service gets SIGINT, so it
    still stops and flushes instead of living on unsupervised. Linux only."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def setup() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGINT))

    return setup


def _check_instrumentations(entry: tuple[str, str]) -> None:
    try:
        missing = detect.missing_instrumentations(detect.imported_modules(entry))
    except ImportError:
        raise MissingDependencyError(
            "OpenTelemetry is not installed", hint=f"install it: {INSTALL_HINT}"
        ) from None
    if missing:
        modules = ", ".join(sorted({n.module for n in missing}))
        packages = ", ".join(n.distribution for n in missing)
        verb = "is" if len(missing) == 1 else "are"
        raise MissingDependencyError(
            f"the service imports {modules} but {packages} {verb} not installed",
            hint=f"run: {detect.pip_command(missing)}",
        )


def _name_from(command: Sequence[str], entry: tuple[str, str] | None) -> str:
    if entry is None:
        return Path(command[0]).name
    kind, target = entry
    return target.rsplit(".", 1)[-1] if kind == "module" else Path(target).stem


__all__ = ["GRACE_SECONDS", "Launch", "prepare", "print_environment", "run"]
