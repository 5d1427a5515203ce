"""The part of a ``docker-compose.yml`` the harness plays: each service's image, command,
environment, volumes, published ports, extra hosts, healthcheck and start order.

Values are interpolated as Compose does: variables from the caller's environment win over
``.env`` (``OBSKIT_BIND=127.0.0.5 docker compose up``), then ``${VAR:-default}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from obskit.validate.interpolation import interpolate_all

COMPOSE_FILE = "docker-compose.yml"
HOST_GATEWAY = "host-gateway"
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)")
_DURATION_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 0.000001}


@dataclass(frozen=True)
class Mount:
    source: str  # a host path (absolute) or a named volume
    target: str
    read_only: bool
    named: bool  # a compose volume, not a bind mount


@dataclass(frozen=True)
class Published:
    host_ip: str
    host_port: int
    container_port: int


@dataclass(frozen=True)
class Healthcheck:
    test: tuple[str, ...]  # ("CMD", argv...) or ("CMD-SHELL", script)
    interval_s: float = 30.0
    timeout_s: float = 30.0
    retries: int = 3
    start_period_s: float = 0.0

    @property
    def argv(self) -> list[str]:
        kind, *rest = self.test
        if kind == "CMD-SHELL":
            return ["/bin/sh", "-c", " ".join(rest)]
        return list(rest)

    @property
    def patience_s(self) -> float:
        """How long Compose would wait before calling the service unhealthy."""
        return self.start_period_s + self.retries * (self.interval_s + self.timeout_s)


@dataclass(frozen=True)
class Service:
    name: str
    image: str
    command: tuple[str, ...]
    environment: Mapping[str, str]
    mounts: tuple[Mount, ...]
    published: tuple[Published, ...]
    extra_hosts: Mapping[str, str]  # name -> address or "host-gateway"
    healthcheck: Healthcheck | None
    depends_on: Mapping[str, str]  # service -> condition

    @property
    def repository(self) -> str:
        return self.image.rpartition(":")[0] if ":" in self.image else self.image

    @property
    def tag(self) -> str:
        return self.image.rpartition(":")[2] if ":" in self.image else "latest"


@dataclass(frozen=True)
class Project:
    directory: Path
    services: Mapping[str, Service] = field(default_factory=dict)

    def start_order(self, only: list[str] | None = None) -> list[Service]:
        """Dependencies first, as ``compose up [SERVICE...]`` starts them."""
        done: dict[str, Service] = {}

        def visit(name: str, path: tuple[str, ...]) -> None:
            if name in done:
                return
            if name in path:
                raise ValueError(f"depends_on cycle: {' -> '.join((*path, name))}")
            service = self.services[name]
            for dep in service.depends_on:
                visit(dep, (*path, name))
            done[name] = service

        for name in only or self.services:
            visit(name, ())
        return list(done.values())


def load_project(directory: Path, env: Mapping[str, str] | None = None) -> Project:
    """The compose project in ``directory``, interpolated with ``.env`` and ``env``."""
    variables = {**dotenv(directory / ".env"), **(env or {})}
    raw = yaml.safe_load((directory / COMPOSE_FILE).read_text(encoding="utf-8"))
    data = interpolate_all(raw, variables)
    services = {
        name: _service(directory, name, body) for name, body in data.get("services", {}).items()
    }
    return Project(directory=directory, services=services)


def dotenv(path: Path) -> dict[str, str]:
    """``KEY=value`` lines (quotes stripped, ``#`` comments skipped), as compose reads them."""
    if not path.is_file():
        return {}
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.strip().partition("=")
        if not sep or key.startswith("#"):
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def _service(directory: Path, name: str, body: Mapping[str, Any]) -> Service:
    return Service(
        name=name,
        image=str(body["image"]),
        command=tuple(_argv(body.get("command", []))),
        environment=_environment(body.get("environment", {})),
        mounts=tuple(_mount(directory, v) for v in body.get("volumes", [])),
        published=tuple(_published(p) for p in body.get("ports", [])),
        extra_hosts=_extra_hosts(body.get("extra_hosts", [])),
        healthcheck=_healthcheck(body.get("healthcheck")),
        depends_on=_depends_on(body.get("depends_on", {})),
    )


def _argv(command: str | list[Any]) -> list[str]:
    if isinstance(command, str):
        import shlex

        return shlex.split(command)
    return [str(arg) for arg in command]


def _environment(env: Mapping[str, Any] | list[str]) -> dict[str, str]:
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env if "=" in item)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def _mount(directory: Path, spec: str | Mapping[str, Any]) -> Mount:
    if isinstance(spec, Mapping):
        source, target = str(spec.get("source", "")), str(spec["target"])
        read_only = bool(spec.get("read_only", False))
    else:
        parts = spec.split(":")
        source, target = parts[0], parts[1]
        read_only = len(parts) > 2 and "ro" in parts[2].split(",")
    named = not source.startswith((".", "/", "~"))
    if not named:
        source = str((directory / source).resolve())
    return Mount(source=source, target=target, read_only=read_only, named=named)


def _published(spec: str | Mapping[str, Any]) -> Published:
    if isinstance(spec, Mapping):
        return Published(
            str(spec.get("host_ip", "0.0.0.0")), int(spec["published"]), int(spec["target"])
        )
    host_ip, host_port, container_port = "0.0.0.0", "", ""
    parts = str(spec).split("/")[0].rsplit(":", 2)
    if len(parts) == 3:
        host_ip, host_port, container_port = parts
    elif len(parts) == 2:
        host_port, container_port = parts
    else:
        host_port = container_port = parts[0]
    return Published(host_ip or "0.0.0.0", int(host_port), int(container_port))


def _extra_hosts(hosts: list[str] | Mapping[str, str]) -> dict[str, str]:
    if isinstance(hosts, Mapping):
        return {str(k): str(v) for k, v in hosts.items()}
    found = {}
    for entry in hosts:
        name, _, address = entry.partition(":") if "=" not in entry else entry.partition("=")
        found[name] = address
    return found


def _healthcheck(body: Mapping[str, Any] | None) -> Healthcheck | None:
    if not body or body.get("disable"):
        return None
    test = body["test"]
    test = ("CMD-SHELL", test) if isinstance(test, str) else tuple(str(t) for t in test)
    if test[0] == "NONE":
        return None
    return Healthcheck(
        test=test,
        interval_s=seconds(body.get("interval", "30s")),
        timeout_s=seconds(body.get("timeout", "30s")),
        retries=int(body.get("retries", 3)),
        start_period_s=seconds(body.get("start_period", "0s")),
    )


def _depends_on(deps: list[str] | Mapping[str, Any]) -> dict[str, str]:
    if isinstance(deps, list):
        return {name: "service_started" for name in deps}
    return {
        name: str((body or {}).get("condition", "service_started")) for name, body in deps.items()
    }


def seconds(text: str | float) -> float:
    """A compose duration (``1m30s``, ``500ms``) in seconds."""
    if isinstance(text, (int, float)):
        return float(text)
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a compose duration: {text!r}")
    return sum(float(n) * _DURATION_UNITS[u] for n, u in parts)
