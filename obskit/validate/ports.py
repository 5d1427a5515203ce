"""No two things in the stack listen on one port: host ports published by docker-compose (also
against the services Prometheus scrapes on the host), and the ports the Collector listens on
inside its container."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from obskit.validate.check import Check, Outcome, failed, passed, plural
from obskit.validate.collector import component_type
from obskit.validate.interpolation import interpolate_all
from obskit.validate.stackdir import COLLECTOR, COMPOSE, PROMETHEUS, StackDir

WILDCARDS = frozenset({"", "0.0.0.0", "::", "[::]"})

# [HOST_IP:][HOST_PORT[-END]:]CONTAINER_PORT[-END][/PROTOCOL]; IPv6 host IPs are bracketed.
_SHORT = re.compile(
    r"^(?:(?:(?P<ip>\[[^\]]*\]|[^:\[\]]*):)?(?P<host>\d*(?:-\d+)?):)?"
    r"(?P<container>\d+(?:-\d+)?)(?:/(?P<proto>\w+))?$"
)


@dataclass(frozen=True)
class Binding:
    ip: str
    port: int
    protocol: str
    owner: str

    def clashes(self, other: Binding) -> bool:
        return (
            self.port == other.port
            and self.protocol == other.protocol
            and (self.ip == other.ip or self.ip in WILDCARDS or other.ip in WILDCARDS)
        )


def _port_range(text: str) -> list[int]:
    start, _, end = text.partition("-")
    return list(range(int(start), int(end or start) + 1))


def compose_bindings(compose: dict[str, Any]) -> tuple[list[Binding], list[str]]:
    """Host ports every service publishes (ports without a host side are ephemeral)."""
    bindings: list[Binding] = []
    problems: list[str] = []
    for service, body in (compose.get("services") or {}).items():
        for entry in (body or {}).get("ports") or []:
            owner = f"service {service!r}"
            if isinstance(entry, dict):
                published = str(entry.get("published") or "")
                if published:
                    ip, proto = str(entry.get("host_ip") or ""), str(entry.get("protocol") or "tcp")
                    for port in _port_range(published):
                        bindings.append(Binding(ip, port, proto, owner))
                continue
            match = _SHORT.match(str(entry))
            if not match:
                problems.append(
                    f"{COMPOSE}: {owner} has a port entry obskit cannot read: {entry!r}"
                )
                continue
            if match.group("host"):
                ip, proto = match.group("ip") or "", match.group("proto") or "tcp"
                for port in _port_range(match.group("host")):
                    bindings.append(Binding(ip, port, proto, owner))
    return bindings, problems


def _split_endpoint(endpoint: str) -> tuple[str, int] | None:
    host, sep, port = str(endpoint).rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def _endpoints(data: Any, path: str) -> list[tuple[str, str]]:
    """Every ``endpoint`` value under ``data``, with where it was found."""
    found: list[tuple[str, str]] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "endpoint" and isinstance(value, str):
                found.append((path, value))
            else:
                found.extend(_endpoints(value, f"{path}.{key}"))
    elif isinstance(data, list):
        for i, item in enumerate(data):
            found.extend(_endpoints(item, f"{path}[{i}]"))
    return found


def collector_bindings(config: dict[str, Any]) -> list[Binding]:
    """Ports the Collector listens on: receivers, extensions, the prometheus exporter and its
    own telemetry. Other exporters' endpoints are where it sends, not where it listens."""
    listening: list[tuple[str, str]] = []
    for section in ("receivers", "extensions"):
        for cid, body in (config.get(section) or {}).items():
            listening.extend(_endpoints(body, f"{section}.{cid}"))
    for cid, body in (config.get("exporters") or {}).items():
        if component_type(cid) == "prometheus":
            listening.extend(_endpoints(body, f"exporters.{cid}"))
    metrics = ((config.get("service") or {}).get("telemetry") or {}).get("metrics") or {}
    if isinstance(metrics.get("address"), str):
        listening.append(("service.telemetry.metrics", metrics["address"]))
    for i, reader in enumerate(metrics.get("readers") or []):
        prom = (((reader or {}).get("pull") or {}).get("exporter") or {}).get("prometheus") or {}
        if "port" in prom:
            listening.append(
                (
                    f"service.telemetry.metrics.readers[{i}]",
                    f"{prom.get('host', '')}:{prom['port']}",
                )
            )
    bindings = []
    for owner, endpoint in listening:
        split = _split_endpoint(endpoint)
        if split:
            bindings.append(Binding(split[0], split[1], "tcp", owner))
    return bindings


# Prometheus runs in compose; this name is how it reaches services running on the host.
HOST_FROM_CONTAINER = "host.docker.internal"


def host_service_bindings(prometheus: dict[str, Any]) -> list[Binding]:
    """Ports of the services Prometheus scrapes on the host: compose must not publish them."""
    bindings = []
    for job in prometheus.get("scrape_configs") or []:
        for static in (job or {}).get("static_configs") or []:
            for target in (static or {}).get("targets") or []:
                split = _split_endpoint(str(target))
                if split and split[0] == HOST_FROM_CONTAINER:
                    bindings.append(Binding("", split[1], "tcp", f"job {job.get('job_name')!r}"))
    return bindings


def clashes(bindings: list[Binding]) -> list[tuple[Binding, Binding]]:
    found = []
    for i, first in enumerate(bindings):
        for second in bindings[i + 1 :]:
            if first.clashes(second):
                found.append((first, second))
    return found


def _describe(binding: Binding) -> str:
    ip = binding.ip if binding.ip not in WILDCARDS else "*"
    return f"{ip}:{binding.port}/{binding.protocol}"


def compose_problems(stack: StackDir) -> tuple[list[str], int, int]:
    """Clashes among published host ports and with services on the host; how many of each."""
    # Compose takes variables from the shell first, then from .env.
    compose = interpolate_all(stack.mapping(COMPOSE), {**stack.env(), **os.environ})
    published, problems = compose_bindings(compose)
    for first, second in clashes(published):
        problems.append(
            f"{COMPOSE}: host port {_describe(second)} is published by {first.owner}"
            f" and by {second.owner}"
        )
    on_host = host_service_bindings(stack.mapping(PROMETHEUS)) if stack.exists(PROMETHEUS) else []
    for binding in published:
        for service in on_host:
            if binding.clashes(service):
                problems.append(
                    f"{PROMETHEUS}: {service.owner} scrapes a service on host port"
                    f" {service.port}, which {COMPOSE} publishes for {binding.owner}"
                )
    return problems, len(published), len(on_host)


def collector_problems(stack: StackDir) -> tuple[list[str], int]:
    listening = collector_bindings(stack.mapping(COLLECTOR))
    problems = [
        f"{COLLECTOR}: port {second.port} is listened on by {first.owner} and by {second.owner}"
        for first, second in clashes(listening)
    ]
    return problems, len(listening)


def check_ports(stack: StackDir, _: list[str]) -> Outcome:
    from_compose, published, on_host = compose_problems(stack)
    from_collector, listening = collector_problems(stack)
    if from_compose or from_collector:
        return failed(from_compose + from_collector)
    return passed(
        f"{plural(published, 'published host port')}, {plural(on_host, 'service')} on the host,"
        f" {plural(listening, 'collector port')}: no clashes"
    )


CHECKS = (Check("ports unique", check_ports),)
