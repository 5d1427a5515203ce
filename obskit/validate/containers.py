"""The stack as Docker will run it: checks built on what each pinned image contains
(:mod:`obskit.stack.images`) and on Docker's rules for bind mounts and networking.

* image facts: every image's tag is one whose facts obskit knows (a warning otherwise);
* healthchecks: a healthcheck only runs programs the image has, and nothing waits for a
  service to be healthy that has no healthcheck;
* container file access: the image's user can read every file compose bind-mounts into it
  (a bind mount keeps the host's mode and numeric owner), and a secret readable by everyone
  sits in a directory other users of the host cannot enter;
* container URLs: a config that runs in a container sends nothing to loopback (that is the
  container itself), and a container that sends to ``host.docker.internal`` has the
  ``host-gateway`` mapping Linux needs;
* host targets: a service Prometheus scrapes on the host listens where the container can
  reach it (the spec's ``metrics_host``);
* retention: Prometheus keeps samples at least as long as the longest range a rule reads.

Every failure is one line: the file, the service and the fix.
"""

from __future__ import annotations

import os
import re
import shlex
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from obskit.stack.host_gateway import (
    EXTRA_HOST,
    HOST,
    address_for_container,
    for_container,
    is_loopback,
)
from obskit.stack.images import ImageFacts, facts_for
from obskit.validate.check import Check, Outcome, failed, passed, plural, skipped, warned
from obskit.validate.interpolation import interpolate_all
from obskit.validate.stackdir import (
    ALERTMANAGER,
    COLLECTOR,
    COMPOSE,
    PROMETHEUS,
    StackDir,
)

DEFAULT_RETENTION = "15d"  # Prometheus' own default
SERVICE_STARTED = "condition: service_started"


@dataclass(frozen=True)
class Service:
    name: str
    body: dict[str, Any]
    image: str
    facts: ImageFacts | None

    @property
    def uid(self) -> int | None:
        user = str(self.body.get("user") or "")
        if user:
            head = user.split(":", 1)[0]
            return int(head) if head.isdigit() else None
        return None if self.facts is None else self.facts.uid

    @property
    def gids(self) -> set[int]:
        user = str(self.body.get("user") or "")
        found: set[int] = set()
        if ":" in user and user.split(":", 1)[1].isdigit():
            found.add(int(user.split(":", 1)[1]))
        elif self.facts is not None and not user:
            found.add(self.facts.gid)
        found |= {int(g) for g in self.body.get("group_add") or [] if str(g).isdigit()}
        return found

    @property
    def who(self) -> str:
        return f"service {self.name!r}"


def services(stack: StackDir) -> list[Service]:
    """The compose services, ``${VAR}`` resolved as compose would (shell first, then .env)."""
    compose = interpolate_all(stack.mapping(COMPOSE), {**stack.env(), **os.environ})
    found = []
    for name, body in (compose.get("services") or {}).items():
        body = body or {}
        image = str(body.get("image") or "")
        found.append(Service(name, body, image, facts_for(image)))
    return found


def _top_level_secrets(stack: StackDir) -> dict[str, Any]:
    compose = interpolate_all(stack.mapping(COMPOSE), {**stack.env(), **os.environ})
    return compose.get("secrets") or {}


# --- image facts ------------------------------------------------------------------------------


def check_image_facts(stack: StackDir, _: list[str]) -> Outcome:
    found = services(stack)
    unknown = [
        f"{COMPOSE}: {s.who}: image {s.image or '(none)'} is not in obskit's image facts"
        " (obskit/stack/images.py): its healthcheck, user and file access are not checked;"
        " facts unknown"
        for s in found
        if s.facts is None
    ]
    if unknown:
        return warned(unknown)
    return passed(f"{plural(len(found), 'image')}, each with known facts")


# --- healthchecks -----------------------------------------------------------------------------


def _healthcheck_program(test: Any) -> tuple[bool, str] | None:
    """(needs a shell, the program it runs) for a compose healthcheck ``test``."""
    if isinstance(test, str):
        words = shlex.split(test)
        return (True, words[0]) if words else None
    if not isinstance(test, list) or not test or test[0] == "NONE":
        return None
    if test[0] == "CMD-SHELL":
        words = shlex.split(" ".join(str(t) for t in test[1:]))
        return (True, words[0]) if words else None
    if test[0] == "CMD" and len(test) > 1:
        return False, str(test[1])
    return None


def _has_healthcheck(body: dict[str, Any]) -> bool:
    check = body.get("healthcheck") or {}
    return bool(check) and not check.get("disable") and _healthcheck_program(check.get("test"))


def healthcheck_problems(found: list[Service]) -> list[str]:
    problems = []
    by_name = {s.name: s for s in found}
    for service in found:
        check = service.body.get("healthcheck") or {}
        run = None if check.get("disable") else _healthcheck_program(check.get("test"))
        if run is not None and service.facts is not None:
            needs_shell, program = run
            facts = service.facts
            lacking = (
                "a shell" if needs_shell and not facts.shell else
                program if not facts.can_run(program) else None
            )  # fmt: skip
            if lacking:
                problems.append(
                    f"{COMPOSE}: {service.who}: the healthcheck runs {lacking}, which"
                    f" {facts.ref} ({facts.base}) does not have, so it never turns healthy;"
                    f" remove the healthcheck and let dependents wait with {SERVICE_STARTED}"
                )
        depends = service.body.get("depends_on") or {}
        if isinstance(depends, dict):
            for target, how in depends.items():
                wants_healthy = (how or {}).get("condition") == "service_healthy"
                other = by_name.get(target)
                if wants_healthy and other is not None and not _has_healthcheck(other.body):
                    problems.append(
                        f"{COMPOSE}: {service.who} waits for {target!r} to be healthy, but"
                        f" {target!r} has no healthcheck, so it never starts; use"
                        f" {SERVICE_STARTED}"
                    )
    return problems


def check_healthchecks(stack: StackDir, _: list[str]) -> Outcome:
    found = services(stack)
    problems = healthcheck_problems(found)
    if problems:
        return failed(problems)
    checked = sum(1 for s in found if _has_healthcheck(s.body))
    return passed(
        f"{plural(checked, 'healthcheck')} the images can run; every awaited service has one"
    )


# --- file access ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mount:
    source: str  # as written in docker-compose.yml, relative to the stack or absolute
    target: str
    secret: bool


def mounts(service: Service, top_secrets: dict[str, Any]) -> list[Mount]:
    """Host files bind-mounted into the service: ``./x:/y`` volumes and file secrets."""
    found = []
    for volume in service.body.get("volumes") or []:
        if isinstance(volume, dict):
            if volume.get("type") == "bind" and volume.get("source"):
                found.append(Mount(str(volume["source"]), str(volume.get("target", "")), False))
            continue
        source, _, rest = str(volume).partition(":")
        if source.startswith((".", "/", "~")):
            found.append(Mount(source, rest.split(":", 1)[0], False))
    for entry in service.body.get("secrets") or []:
        name = entry.get("source") if isinstance(entry, dict) else entry
        secret = top_secrets.get(str(name)) or {}
        if secret.get("file"):
            found.append(Mount(str(secret["file"]), f"/run/secrets/{name}", True))
    return found


def _resolve(stack: StackDir, source: str) -> Path:
    path = Path(os.path.expanduser(source))
    return path if path.is_absolute() else stack.root / path


def _display(stack: StackDir, path: Path) -> str:
    try:
        return path.relative_to(stack.root).as_posix()
    except ValueError:
        return str(path)


def can_read(st: os.stat_result, uid: int, gids: set[int], *, directory: bool) -> bool:
    """Whether ``uid`` with groups ``gids`` may read (and, for a directory, enter) it."""
    if uid == 0:
        return True
    need = 0o5 if directory else 0o4
    if st.st_uid == uid:
        bits = (st.st_mode >> 6) & 0o7
    elif st.st_gid in gids:
        bits = (st.st_mode >> 3) & 0o7
    else:
        bits = st.st_mode & 0o7
    return bits & need == need


def _walk(path: Path) -> Iterator[Path]:
    yield path
    if path.is_dir():
        yield from sorted(path.rglob("*"))


def access_problems(stack: StackDir) -> tuple[list[str], int]:
    problems: list[str] = []
    checked = 0
    top_secrets = _top_level_secrets(stack)
    for service in services(stack):
        uid = service.uid
        for mount in mounts(service, top_secrets):
            path = _resolve(stack, mount.source)
            shown = _display(stack, path)
            if not path.exists():
                if mount.secret:
                    problems.append(
                        f"{COMPOSE}: {service.who}: secret file {shown} does not exist and"
                        " compose refuses to start without it; run `obskit init` (it writes"
                        " the Grafana password) or create it"
                    )
                continue
            if uid is None:
                continue  # a user obskit knows nothing about: the image facts check warned
            for item in _walk(path):
                checked += 1
                st = item.stat()
                directory = stat.S_ISDIR(st.st_mode)
                if can_read(st, uid, service.gids, directory=directory):
                    continue
                what = "secret" if mount.secret else "directory" if directory else "file"
                mode = "755" if directory else "644"
                problems.append(
                    f"{COMPOSE}: {service.who} (uid {uid}) cannot read {what}"
                    f" {_display(stack, item)} (mode {stat.S_IMODE(st.st_mode):04o}, owner"
                    f" {st.st_uid}:{st.st_gid}): a bind mount keeps the host's mode and owner;"
                    f" chmod {mode} it"
                    + (
                        f" and keep {_display(stack, item.parent)}/ at mode 0700"
                        if mount.secret
                        else ""
                    )
                )
                break  # one line per mount
            if mount.secret:
                problems += _exposure(stack, service, path)
    return problems, checked


def _exposure(stack: StackDir, service: Service, path: Path) -> list[str]:
    """A secret everyone may read must sit in a directory others cannot enter."""
    st, parent = path.stat(), path.parent.stat()
    if st.st_mode & 0o004 and parent.st_mode & 0o001:
        shown = _display(stack, path)
        return [
            f"{COMPOSE}: {service.who}: secret {shown} (mode"
            f" {stat.S_IMODE(st.st_mode):04o}) is readable by every user of this host, as"
            f" {_display(stack, path.parent)}/ lets them in; chmod 700"
            f" {_display(stack, path.parent)}"
        ]
    return []


def check_access(stack: StackDir, _: list[str]) -> Outcome:
    problems, checked = access_problems(stack)
    if problems:
        return failed(problems)
    return passed(f"{plural(checked, 'mounted path')} readable by the container users")


# --- URLs inside containers -------------------------------------------------------------------


def _mounted_by(stack: StackDir, found: list[Service], rel: str) -> Service | None:
    """The service that bind-mounts the stack file ``rel`` (or a directory holding it)."""
    target = (stack.root / rel).resolve()
    top_secrets = _top_level_secrets(stack)
    for service in found:
        for mount in mounts(service, top_secrets):
            source = _resolve(stack, mount.source).resolve()
            if target == source or source in target.parents:
                return service
    return None


def _strings(data: Any, path: str, keys: frozenset[str]) -> Iterator[tuple[str, str]]:
    """Every string under one of ``keys``, with its path."""
    if isinstance(data, dict):
        for key, value in data.items():
            where = f"{path}.{key}" if path else str(key)
            if key in keys and isinstance(value, str):
                yield where, value
            else:
                yield from _strings(value, where, keys)
    elif isinstance(data, list):
        for i, item in enumerate(data):
            yield from _strings(item, f"{path}[{i}]", keys)


def _host_port(address: str) -> tuple[str, int | None]:
    """``host`` and port of a URL or ``host:port``."""
    from urllib.parse import urlsplit

    if "://" in address:
        parts = urlsplit(address)
        try:
            return parts.hostname or "", parts.port
        except ValueError:
            return parts.hostname or "", None
    host, sep, port = address.rpartition(":")
    if not sep:
        return address, None
    return host.strip("[]"), int(port) if port.isdigit() else None


def _destinations(stack: StackDir) -> Iterator[tuple[str, str, str]]:
    """(file, where, address) for every address a containerised component sends to."""
    if stack.exists(ALERTMANAGER):
        keys = frozenset({"url", "api_url", "smarthost"})
        for where, value in _strings(
            stack.mapping(ALERTMANAGER).get("receivers"), "receivers", keys
        ):
            yield ALERTMANAGER, where, value
    if stack.exists(PROMETHEUS):
        config = stack.mapping(PROMETHEUS)
        for section in ("scrape_configs", "alerting"):
            for where, targets in _lists(config.get(section), section, "targets"):
                for i, target in enumerate(targets):
                    yield PROMETHEUS, f"{where}[{i}]", str(target)
    if stack.exists(COLLECTOR):
        exporters = stack.mapping(COLLECTOR).get("exporters")
        for where, value in _strings(exporters, "exporters", frozenset({"endpoint"})):
            yield COLLECTOR, where, value
    for rel in stack.datasource_files:
        sources = stack.mapping(rel).get("datasources")
        for where, value in _strings(sources, "datasources", frozenset({"url"})):
            yield rel, where, value


def _lists(data: Any, path: str, key: str) -> Iterator[tuple[str, list[Any]]]:
    if isinstance(data, dict):
        for k, value in data.items():
            where = f"{path}.{k}"
            if k == key and isinstance(value, list):
                yield where, value
            else:
                yield from _lists(value, where, key)
    elif isinstance(data, list):
        for i, item in enumerate(data):
            yield from _lists(item, f"{path}[{i}]", key)


def url_problems(stack: StackDir) -> tuple[list[str], int]:
    found = services(stack)
    problems: list[str] = []
    count = 0
    needs_gateway: dict[str, tuple[Service, str]] = {}
    for rel, where, address in _destinations(stack):
        service = _mounted_by(stack, found, rel)
        if service is None:
            continue  # not run in a container of this stack
        count += 1
        host, port = _host_port(address)
        if host == HOST:
            needs_gateway.setdefault(service.name, (service, rel))
            continue
        # Prometheus scraping itself (localhost:9090) is the one loopback address that
        # makes sense in a container; an exporter sending to its own port is a loop.
        own_ports: set[int] = set()
        if rel == PROMETHEUS:
            own_ports = set(service.facts.ports if service.facts else ())
            own_ports |= _container_ports(service.body)
        if is_loopback(host) and port not in own_ports:
            fixed = for_container(address) if "://" in address else address_for_container(address)
            problems.append(
                f"{rel}: {where}: {address} is the {service.name} container itself, not the"
                f" host ({service.who}); use {fixed}, or the compose service's name for"
                " another container"
            )
    for service, rel in needs_gateway.values():
        if EXTRA_HOST not in [str(h).replace("=", ":", 1) for h in _extra_hosts(service.body)]:
            problems.append(
                f"{COMPOSE}: {service.who}: {rel} sends to {HOST}, which Linux only defines"
                f' with extra_hosts: ["{EXTRA_HOST}"]; add it'
            )
    return problems, count


def _extra_hosts(body: dict[str, Any]) -> list[str]:
    hosts = body.get("extra_hosts") or []
    if isinstance(hosts, dict):
        return [f"{k}:{v}" for k, v in hosts.items()]
    return [str(h) for h in hosts]


def _container_ports(body: dict[str, Any]) -> set[int]:
    found = set()
    for entry in body.get("ports") or []:
        if isinstance(entry, dict):
            target = str(entry.get("target", ""))
        else:
            target = str(entry).rsplit(":", 1)[-1].split("/", 1)[0]
        if target.isdigit():
            found.add(int(target))
    return found


def check_urls(stack: StackDir, _: list[str]) -> Outcome:
    problems, count = url_problems(stack)
    if problems:
        return failed(problems)
    return passed(f"{plural(count, 'address', 'addresses')} in container configs reachable")


# --- services on the host ---------------------------------------------------------------------


def host_target_problems(stack: StackDir) -> tuple[list[str], int]:
    from obskit.stack.spec import DOCKER_BRIDGE

    spec = stack.spec()
    by_port = {s.metrics_port: s for s in spec.services}
    problems: list[str] = []
    count = 0
    for job in stack.mapping(PROMETHEUS).get("scrape_configs") or []:
        for static in (job or {}).get("static_configs") or []:
            for target in (static or {}).get("targets") or []:
                host, port = _host_port(str(target))
                if host != HOST or port not in by_port:
                    continue
                count += 1
                service = by_port[port]
                listens = spec.metrics_host_of(service)
                if is_loopback(listens):
                    problems.append(
                        f"{PROMETHEUS}: job {job.get('job_name')!r} scrapes {target}, but"
                        f" {stack.spec_name} has {service.name} serve metrics on {listens}"
                        " (metrics_host), which Prometheus in Docker cannot reach on Linux;"
                        f" set metrics_host: {DOCKER_BRIDGE} (the default) or 0.0.0.0"
                    )
    return problems, count


def check_host_targets(stack: StackDir, _: list[str]) -> Outcome:
    if stack.spec() is None:
        return skipped(
            "no obskit.yaml next to the stack: pass --spec to check where host services listen"
        )
    problems, count = host_target_problems(stack)
    if problems:
        return failed(problems)
    return passed(f"{plural(count, 'service')} on the host reachable from Prometheus")


# --- retention --------------------------------------------------------------------------------

_RANGE = re.compile(r"\[(\d+(?:[smhdwy]|ms)(?:\d+(?:[smhdwy]|ms))*)(?::[^\]]*)?\]")
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def seconds(duration: str) -> float:
    """A Prometheus duration (``30d``, ``1h30m``) in seconds."""
    return sum(int(n) * _UNIT[u] for n, u in re.findall(r"(\d+)(ms|[smhdwy])", duration))


def longest_range(stack: StackDir) -> tuple[float, str, str] | None:
    """(seconds, range, where) of the longest range selector the rules read."""
    from obskit.validate.metrics import rules

    best: tuple[float, str, str] | None = None
    for rel, rule in rules(stack):
        for text in _RANGE.findall(str(rule.get("expr", ""))):
            length = seconds(text)
            if best is None or length > best[0]:
                kind = "alert" if "alert" in rule else "record"
                best = (length, text, f"{rel}: {kind} {rule.get(kind)}")
    return best


def check_retention(stack: StackDir, _: list[str]) -> Outcome:
    found = services(stack)
    prometheus = _mounted_by(stack, found, PROMETHEUS)
    if prometheus is None:
        return passed("no Prometheus service in docker-compose.yml")
    command = prometheus.body.get("command") or []
    words = shlex.split(command) if isinstance(command, str) else [str(c) for c in command]
    retention = next(
        (w.split("=", 1)[1] for w in words if w.startswith("--storage.tsdb.retention.time=")),
        DEFAULT_RETENTION,
    )
    longest = longest_range(stack)
    if longest is None or seconds(retention) >= longest[0]:
        return passed(
            f"{retention} kept; the longest rule range is {longest[1] if longest else 'none'}"
        )
    return failed(
        f"{COMPOSE}: {prometheus.who} keeps {retention} of samples"
        f" (--storage.tsdb.retention.time), but {longest[2]} reads [{longest[1]}], over data"
        f" already deleted; keep at least {longest[1]} (obskit.yaml: retention_days)"
    )


CHECKS = (
    Check("image facts", check_image_facts),
    Check("healthchecks", check_healthchecks),
    Check("container file access", check_access),
    Check("container URLs", check_urls),
    Check("host targets", check_host_targets),
    Check("retention", check_retention),
)
