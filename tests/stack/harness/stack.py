"""``docker compose up`` for tests, without Docker: the services of a generated
``docker-compose.yml`` that have a built server (Collector, Tempo or Jaeger, Prometheus,
Alertmanager) run as real processes, each in its own network and mount namespace on one
bridge (see :mod:`.network` and :mod:`.container`).

* start order and ``depends_on`` conditions as compose: a ``service_healthy`` dependency is
  started first and its healthcheck run until it passes;
* every service name resolves in every service (compose's DNS), ``host.docker.internal`` only
  where ``extra_hosts`` maps it to ``host-gateway`` (the host's address on the bridge);
* published ports (``127.0.0.1:9090:9090``) are forwarded by socat from the host address and
  port compose would bind to the service's address (compose's userland proxy does the same);
* :meth:`Stack.down` stops everything it started and removes every namespace and link, also
  after a failed start; :func:`network.sweep_leftovers` clears a crashed run's remains.

Services without a buildable server (Grafana) are listed in :attr:`Stack.not_run`.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tests.stack.harness import network
from tests.stack.harness.container import Container, _die_with_parent
from tests.stack.harness.images import image_of, locate, missing_binaries
from tests.stack.harness.project import HOST_GATEWAY, Project, Published, load_project

_STACKS = itertools.count()  # stacks this process opened: part of their interfaces' names
TOOLS = ("ip", "nsenter", "unshare", "setpriv", "socat", "chroot")
TOOLS_HINT = "apt-get install iproute2 socat util-linux"


class HarnessError(RuntimeError):
    """The stack could not be brought up; the message says which service and why."""


def missing_requirements(image_refs: list[str]) -> list[str]:
    """What this machine lacks to run the harness for these images (empty: nothing)."""
    found = []
    if os.geteuid() != 0:
        found.append("root (network and mount namespaces)")
    found += [f"{tool} ({TOOLS_HINT})" for tool in TOOLS if shutil.which(tool) is None]
    return found + missing_binaries(image_refs)


@dataclass
class Health:
    service: str
    ran: bool  # False: the image could not run this healthcheck (see ``detail``)
    ok: bool
    detail: str


@dataclass
class Stack:
    """``Stack.open(workdir)`` makes the network (as ``docker network create``), ``up(dir)``
    starts the project in ``dir``, ``down()`` removes all of it."""

    workdir: Path
    run_id: str = field(default_factory=lambda: f"{os.getpid()}s{next(_STACKS)}")
    project: Project | None = None
    containers: dict[str, Container] = field(default_factory=dict)
    forwarders: list[subprocess.Popen[bytes]] = field(default_factory=list)
    not_run: dict[str, str] = field(default_factory=dict)  # service -> why
    notes: list[str] = field(default_factory=list)  # where the run differs from compose's
    bridge: network.Bridge | None = None

    @classmethod
    def open(cls, workdir: Path) -> Stack:
        network.sweep_leftovers()
        stack = cls(workdir=workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        stack.bridge = network.create_bridge(stack.run_id)
        return stack

    @property
    def host_ip(self) -> str:
        """The host's address on the bridge: ``host-gateway``, as docker0's is for Docker."""
        assert self.bridge is not None
        return self.bridge.host_ip

    def address(self, service: str) -> str:
        return self.containers[service].namespace.address

    # --- up -----------------------------------------------------------------------------------

    def up(
        self,
        directory: Path,
        env: Mapping[str, str] | None = None,
        services: list[str] | None = None,
        healthy_timeout: float | None = None,
    ) -> None:
        """``compose up --wait [services...]`` for the project in ``directory``, with ``env``
        as the shell's environment: returns when every service whose image can run its
        healthcheck is healthy."""
        self.project = load_project(directory, env)
        try:
            self._up(services, healthy_timeout)
            for name, container in self.containers.items():
                check = container.service.healthcheck
                if check is not None and container.can_run(check) is None:
                    self._wait_healthy(name, healthy_timeout)
        except BaseException:
            self.down()
            raise

    def _up(self, services: list[str] | None, healthy_timeout: float | None) -> None:
        assert self.bridge is not None and self.project is not None
        runnable = []
        for service in self.project.start_order(services):
            image, found = image_of(service.image), locate(service.image)
            if image is None or found.path is None:
                if not found.not_run:
                    missing = "; ".join(missing_binaries([service.image]))
                    raise HarnessError(f"{service.name}: no binary for {service.image}: {missing}")
                self.not_run[service.name] = found.not_run
                continue
            if found.stand_in:
                self.notes.append(f"{service.name}: {found.stand_in}")
            runnable.append((service, image, found.path))
        for index, (service, image, binary) in enumerate(runnable):
            ns = network.add_namespace(self.bridge, service.name, index)
            self.containers[service.name] = Container(
                service, image, binary, ns, self.workdir / service.name
            )
        names = {name: c.namespace.address for name, c in self.containers.items()}
        for name, container in self.containers.items():
            for dep, condition in container.service.depends_on.items():
                if dep in self.not_run:
                    self.notes.append(f"{name} started without {dep} ({condition}): "
                                      f"{dep} is not run, {self.not_run[dep]}")  # fmt: skip
                    continue
                if condition == "service_healthy":
                    self._wait_healthy(dep, healthy_timeout)
            container.start(self._hosts(container, names), self.workdir / "volumes")
            self._check_started(container)
        for name, container in self.containers.items():
            for port in container.service.published:
                self._publish(name, port)

    def _hosts(self, container: Container, names: dict[str, str]) -> dict[str, str]:
        hosts = dict(names)
        for name, address in container.service.extra_hosts.items():
            hosts[name] = self.host_ip if address == HOST_GATEWAY else address
        return hosts

    def _check_started(self, container: Container, grace: float = 1.0) -> None:
        """A server that rejects its flags or config exits at once: catch it here, by name."""
        deadline = time.monotonic() + grace
        while container.running() and time.monotonic() < deadline:
            time.sleep(0.05)
        if not container.running():
            raise _exited(container)

    def _wait_healthy(self, name: str, timeout: float | None) -> None:
        container = self.containers[name]
        check = container.service.healthcheck
        if check is None:
            raise HarnessError(f"a service waits for {name} to be healthy; it has no healthcheck")
        why_not = container.can_run(check)
        if why_not:
            raise HarnessError(
                f"compose would never see {name} healthy: its healthcheck cannot run ({why_not})"
            )
        deadline = time.monotonic() + (timeout or check.patience_s)
        last = None
        while time.monotonic() < deadline:
            if not container.running():
                raise _exited(container)
            last = self.health(name)
            if last.ok:
                return
            time.sleep(0.5)
        detail = last.detail if last else "never ran"
        raise HarnessError(f"{name} not healthy in time: {detail}\n{container.log_tail()}")

    def _publish(self, name: str, port: Published) -> None:
        target = f"{self.address(name)}:{port.container_port}"
        listen = f"TCP-LISTEN:{port.host_port},bind={port.host_ip},reuseaddr,fork"
        log = open(self.workdir / f"publish-{name}-{port.host_port}.log", "ab")  # noqa: SIM115
        with log:
            proc = subprocess.Popen(
                ["socat", listen, f"TCP:{target}"], stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, preexec_fn=_die_with_parent, start_new_session=True,
            )  # fmt: skip
        self.forwarders.append(proc)
        deadline = time.monotonic() + 5
        while not _listening(port.host_ip, port.host_port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise HarnessError(
                    f"cannot publish {name}'s port {port.container_port} on "
                    f"{port.host_ip}:{port.host_port} (in use?)"
                )
            time.sleep(0.05)

    # --- running ------------------------------------------------------------------------------

    def health(self, name: str) -> Health:
        """Run ``name``'s healthcheck inside its container, as compose would."""
        container = self.containers[name]
        check = container.service.healthcheck
        if check is None:
            return Health(name, False, False, "no healthcheck")
        why_not = container.can_run(check)
        if why_not:
            return Health(name, False, False, why_not)
        try:
            result = container.exec(check.argv, timeout=check.timeout_s)
        except subprocess.TimeoutExpired:
            return Health(name, True, False, f"timed out after {check.timeout_s:g} s")
        output = (result.stdout + result.stderr).strip()
        return Health(name, True, result.returncode == 0, f"exit {result.returncode} {output}")

    def dead(self) -> dict[str, str]:
        return {name: c.log_tail() for name, c in self.containers.items() if not c.running()}

    # --- down ---------------------------------------------------------------------------------

    def down(self) -> None:
        for proc in self.forwarders:
            if proc.poll() is None:
                proc.terminate()
        for container in reversed(list(self.containers.values())):
            container.stop()
        for proc in self.forwarders:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.forwarders.clear()
        network.remove_run(self.run_id)


def _exited(container: Container) -> HarnessError:
    code = container.proc.returncode if container.proc is not None else None
    return HarnessError(
        f"{container.service.name} exited with code {code} at start:\n{container.log_tail()}"
    )


def _listening(host: str, port: int) -> bool:
    """Whether something listens on host:port, without connecting (a connection to a
    forwarder would open one to the service)."""
    import ipaddress

    wanted_ip = ipaddress.ip_address(host)
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state = fields[1], fields[3]
        if state != "0A":  # LISTEN
            continue
        hex_ip, hex_port = local.split(":")
        addr = ipaddress.IPv4Address(socket.ntohl(int(hex_ip, 16)))
        if int(hex_port, 16) == port and addr in (wanted_ip, ipaddress.IPv4Address("0.0.0.0")):
            return True
    return False
