"""Start and stop the whole demo shop: PostgreSQL, Redis and RabbitMQ when installed (see
:mod:`demo_services.backends`), each service under ``obskit instrument``, the gateway without
it. Ports, the OTLP endpoint and the gateway's address come from the spec.

Used by ``python -m demo_services``, by the integration tests (a spec with free ports) and
by ``obskit demo``.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from demo_services.backends import Backends, DataTier
from demo_services.common import PORT_ENV, url_env
from obskit.demo.processes import Supervisor
from obskit.errors import InputError
from obskit.instrument.settings import bind_address, reachable_host
from obskit.stack.spec import Spec, load_spec

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent  # the directory `python -m demo_services.X` must run from
DEMO_SPEC = HERE / "obskit.yaml"
HOST = "127.0.0.1"
GATEWAY = "payments-gateway"
# service name -> module in demo_services, in start order (leaves first)
MODULES = {
    "inventory": "inventory",
    "pricing": "pricing",
    "payments": "payments",
    "mailer": "mailer",
    "checkout": "checkout",
    "storefront": "storefront",
}
STOP_GRACE_S = 15.0
EXCLUDED_URLS = "/healthz,/admin/faults"


@dataclass(frozen=True)
class Member:
    name: str
    module: str
    port: int
    metrics_port: int | None  # None: not instrumented (the gateway)
    metrics_host: str = HOST  # where `obskit instrument` serves its metrics (spec: metrics_host)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def metrics_url(self) -> str | None:
        if self.metrics_port is None:
            return None
        host = reachable_host(self.metrics_host)
        return f"http://{f'[{host}]' if ':' in host else host}:{self.metrics_port}/metrics"


def members(spec: Spec) -> list[Member]:
    """The shop's processes as the spec places them; the spec must describe the demo shop."""
    missing = [name for name in MODULES if spec.service(name) is None]
    gateway = next((e for e in spec.external if e.name == GATEWAY), None)
    if missing or gateway is None or gateway.port is None:
        needed = ", ".join([*missing, *([] if gateway and gateway.port else [GATEWAY])])
        raise InputError(
            f"this spec does not describe the demo shop: no {needed}",
            hint=f"use {DEMO_SPEC} or a copy of it",
        )
    found = [Member(GATEWAY, "gateway", gateway.port, None)]
    for name, module in MODULES.items():
        svc = spec.service(name)
        assert svc is not None
        host, _ = bind_address(spec.metrics_host_of(svc))
        found.append(Member(name, module, svc.port, svc.metrics_port, host))
    return found


class Shop:
    """The running shop. ``with Shop(spec_path) as shop: ...`` starts it and always stops it."""

    def __init__(
        self,
        spec_path: str | Path = DEMO_SPEC,
        *,
        env: Mapping[str, str] | None = None,
        log_dir: str | Path | None = None,
        python: str = sys.executable,
        servers: bool = True,
    ) -> None:
        """``servers=False``: run on SQLite without cache or queue even when PostgreSQL,
        Redis and RabbitMQ are installed."""
        self.spec_path = Path(spec_path).resolve()
        self.spec = load_spec(self.spec_path)
        self.members = members(self.spec)
        self.extra_env = dict(env or {})
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="obskit-demo-"))
        self.python = python
        self.supervisor = Supervisor(self.log_dir)
        self.tier = DataTier(self.log_dir.parent / "data" if log_dir else self.log_dir / "data",
                             self.supervisor, use_servers=servers)  # fmt: skip
        self.backends = Backends()

    def member(self, name: str) -> Member:
        return next(m for m in self.members if m.name == name)

    @property
    def url(self) -> str:
        return self.member("storefront").url

    def check_ports(self) -> None:
        for m in self.members:
            for label, port in (("port", m.port), ("metrics port", m.metrics_port)):
                if port is not None and not _port_free(port):
                    raise InputError(
                        f"{label} {port} of {m.name} is already in use on {HOST}",
                        hint="stop what listens there (an earlier demo?) or use --spec "
                        "with other ports",
                    )

    def start(self, timeout: float = 30.0) -> None:
        """Start the data tier (and fill the database), then the services; ``timeout``: for
        the services to answer once started."""
        self.check_ports()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.backends = self.tier.start()
            if self.backends.postgres_url:
                from demo_services import store

                store.create(self.backends.postgres_url)
            for m in self.members:
                # Own session: a terminal's Ctrl-C reaches only the runner, which stops
                # everyone in order; the children also die with the runner if it is killed.
                self.supervisor.start(m.name, self._command(m), env=self._env(m), cwd=ROOT)
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self, grace: float = STOP_GRACE_S) -> None:
        """SIGTERM every process (``obskit instrument`` turns it into a clean stop that
        flushes spans), then SIGKILL whatever is left after ``grace`` seconds."""
        self.supervisor.stop_all(grace)
        self.tier.cleanup()

    @property
    def external_names(self) -> dict[str, str]:
        """``host:port`` -> name of every dependency, for the analysis: the spec's external
        systems and the data tier's servers."""
        from demo_services.faults import POSTGRES, RABBITMQ, REDIS

        names = {e.address: e.name for e in self.spec.external}
        tier = {"postgres": POSTGRES, "redis": REDIS, "rabbitmq": RABBITMQ}
        for server, port in self.backends.ports.items():
            names[f"{HOST}:{port}"] = tier[server]
        return names

    def dead(self) -> list[tuple[str, int]]:
        """Processes that stopped by themselves: (name, exit code)."""
        return self.supervisor.dead()

    def log_path(self, name: str) -> Path:
        return self.supervisor.log_path(name)

    def last_line(self, name: str) -> str:
        return self.supervisor.last_line(name)

    def __enter__(self) -> Shop:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- internals ----------------------------------------------------------------------

    def _command(self, m: Member) -> list[str]:
        app = [self.python, "-m", f"demo_services.{m.module}"]
        if m.metrics_port is None:
            return app
        return [
            self.python, "-m", "obskit", "instrument", "--spec", str(self.spec_path),
            "--service-name", m.name, "--metrics-port", str(m.metrics_port), "--", *app,
        ]  # fmt: skip

    def _env(self, m: Member) -> dict[str, str]:
        env = {**os.environ, **self.extra_env, **self.backends.env(), PORT_ENV: str(m.port)}
        for other in self.members:
            env[url_env(other.name)] = other.url
        env["PYTHONUNBUFFERED"] = "1"
        # readiness polls and fault changes are not the shop's traffic
        env.setdefault("OTEL_PYTHON_EXCLUDED_URLS", EXCLUDED_URLS)
        return env

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = {m.name: m for m in self.members}
        while pending:
            for name, code in self.dead():
                why = self.last_line(name) or "no output"
                raise InputError(
                    f"{name} stopped during start-up with exit code {code}: {why}",
                    hint=f"its log: {self.log_path(name)}",
                )
            for name, m in list(pending.items()):
                if _answers(f"{m.url}/healthz") and (
                    m.metrics_url is None or _answers(m.metrics_url)
                ):
                    del pending[name]
            if pending and time.monotonic() > deadline:
                names = ", ".join(pending)
                raise InputError(
                    f"{names} not ready after {timeout:g} s", hint=f"logs in {self.log_dir}"
                )
            time.sleep(0.1)


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        # as servers do: connections of a previous run in TIME_WAIT do not make it busy
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return bool(200 <= resp.status < 300)
    except OSError:
        return False
