"""``obskit.yaml``: the one spec the whole stack is generated from.

``load_spec(path)`` reads and validates it; every problem is a :class:`SpecError` naming the
field (``services[1].slo.latency.target``) and what is wrong with it. Names are restricted so
that nothing in the spec can inject YAML, PromQL, a shell word or a URL.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from obskit.errors import SpecError
from obskit.stack.ports import published

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
HOST_RE = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
URL_RE = re.compile(r"^https?://[A-Za-z0-9._~:/?#\[\]@!$&()*+,;=%-]+$")
NAME_RULE = (
    "use letters, digits, '.', '_' or '-', starting with a letter or digit, at most 63 characters"
)
TRACES_BACKENDS = ("tempo", "jaeger")
# Names of the stack's own components and Prometheus jobs: a service with one of these names
# would share a scrape job (and its alerts) with the component.
RESERVED_NAMES = (
    "prometheus",
    "alertmanager",
    "grafana",
    "tempo",
    "jaeger",
    "otel-collector",
    "otel-collector-exporter",
)
# `metrics_host`: where `obskit instrument` serves a service's /metrics. `docker-bridge` is
# the address of the docker0 interface, which `host.docker.internal:host-gateway` resolves to
# on Linux (127.0.0.1 where there is none: Docker Desktop forwards to the host's loopback).
DOCKER_BRIDGE = "docker-bridge"


@dataclass(frozen=True)
class LatencySlo:
    threshold_ms: int
    target: float  # % of requests faster than threshold_ms


@dataclass(frozen=True)
class Slo:
    availability: float | None = None  # % of requests without a 5xx
    latency: LatencySlo | None = None
    window_days: int = 30


@dataclass(frozen=True)
class Service:
    name: str
    port: int
    metrics_port: int
    slo: Slo | None = None
    version: str = "0.0.0"
    sampling_ratio: float | None = None  # overrides the spec-wide ratio
    metrics_host: str | None = None  # overrides the spec-wide metrics_host
    # False for a worker that serves no HTTP requests (a queue consumer): it is scraped and
    # watched for being up, but has no HTTP RED rules, panels or SLOs, which would stay empty.
    http: bool = True


@dataclass(frozen=True)
class External:
    name: str
    host: str
    latency_threshold_ms: int
    port: int | None = None  # tells apart two dependencies on one host (the demo's loopback)

    @property
    def address(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class SlackReceiver:
    channel: str
    api_url_file: str  # a file holding the webhook URL: secrets never live in the spec


@dataclass(frozen=True)
class EmailReceiver:
    to: str
    sender: str
    smarthost: str
    auth_username: str = ""
    auth_password_file: str = ""


@dataclass(frozen=True)
class Alerting:
    webhook_url: str | None = None
    slack: SlackReceiver | None = None
    email: EmailReceiver | None = None


@dataclass(frozen=True)
class Spec:
    project: str
    environment: str
    traces_backend: str
    services: tuple[Service, ...]
    external: tuple[External, ...] = ()
    alerting: Alerting = field(default_factory=Alerting)
    sampling_ratio: float = 1.0
    otlp_endpoint: str = "http://127.0.0.1:4318"  # where `obskit instrument` sends spans
    retention_days: int = 15
    # where `obskit analyze` finds traces when no --jaeger/--tempo/--file is given; by default
    # the backend the generated stack runs, on its loopback port
    query_url: str | None = None
    metrics_host: str = DOCKER_BRIDGE

    def metrics_host_of(self, service: Service) -> str:
        """Where ``service`` serves its metrics: its own ``metrics_host``, else the spec's."""
        return service.metrics_host or self.metrics_host

    @property
    def default_query_url(self) -> str:
        if self.query_url:
            return self.query_url
        return (
            "http://127.0.0.1:3200" if self.traces_backend == "tempo" else "http://127.0.0.1:16686"
        )

    def service(self, name: str) -> Service | None:
        return next((s for s in self.services if s.name == name), None)

    @property
    def http_services(self) -> tuple[Service, ...]:
        """The services that serve HTTP requests: the ones with RED rules and panels."""
        return tuple(s for s in self.services if s.http)

    @property
    def latency_thresholds_ms(self) -> list[int]:
        """Every latency threshold in the spec, sorted: histogram buckets must contain them."""
        found = {s.slo.latency.threshold_ms for s in self.services if s.slo and s.slo.latency}
        found |= {e.latency_threshold_ms for e in self.external}
        return sorted(found)


# --- loading -------------------------------------------------------------------------------


def load_spec(path: str | Path) -> Spec:
    """Read and validate ``obskit.yaml``."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(
            str(path), "no such file; run `obskit init` to write a starter spec"
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise SpecError(str(path), f"cannot read it: {err}") from None
    try:
        data = load_yaml(text)
    except RecursionError:
        raise SpecError(str(path), "not valid YAML: nested too deeply") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "invalid YAML"
        raise SpecError(str(path), f"not valid YAML{where}: {problem}") from None
    return parse_spec(data, source=str(path))


# A spec is a few dozen nodes. Anchors and aliases are fine (a shared `slo:` block), but what
# they expand to is bounded: 364 bytes of nested aliases expand to billions of nodes, and the
# checks (or the messages, which show the bad value) would walk them all.
MAX_EXPANDED_NODES = 100_000
# and so is nesting: the composer recurses once per level (900 levels: a RecursionError)
MAX_DEPTH = 50
# digits in a number: Python refuses to convert more than 4,300, slowly
MAX_NUMBER_CHARS = 64


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` that refuses, cheaply and with a YAML error, documents deeper than
    :data:`MAX_DEPTH`, expanding to more than :data:`MAX_EXPANDED_NODES` nodes through
    aliases, or with numbers longer than :data:`MAX_NUMBER_CHARS` characters."""
    loader = _bounded_loader()(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


@functools.cache
def _bounded_loader() -> type:
    import yaml
    from yaml.composer import ComposerError
    from yaml.constructor import ConstructorError

    class BoundedLoader(yaml.SafeLoader):
        depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            self.depth += 1
            try:
                if self.depth > MAX_DEPTH:
                    mark = self.peek_event().start_mark
                    problem = f"nested more than {MAX_DEPTH} levels deep"
                    raise ComposerError(None, None, problem, mark)
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

        def compose_document(self) -> Any:
            node = super().compose_document()
            if node is not None and _expanded_size(node) > MAX_EXPANDED_NODES:
                problem = f"anchors and aliases expand to more than {MAX_EXPANDED_NODES} values"
                raise ComposerError(None, None, problem, node.start_mark)
            return node

        def construct_bounded_number(self, node: Any) -> Any:
            if len(node.value) > MAX_NUMBER_CHARS:
                problem = f"a number {len(node.value)} characters long"
                raise ConstructorError(None, None, problem, node.start_mark)
            if node.tag.endswith(":int"):
                return self.construct_yaml_int(node)
            return self.construct_yaml_float(node)

    for tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float"):
        BoundedLoader.add_constructor(tag, BoundedLoader.construct_bounded_number)
    return BoundedLoader


def _expanded_size(root: Any) -> int:
    """How many nodes ``root`` stands for once every alias is expanded (each distinct node
    is counted once per reference, computed once per node: linear in the document)."""
    from yaml.nodes import CollectionNode

    sizes: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        if not isinstance(node, CollectionNode):
            sizes[id(node)] = 1
            continue
        children = [
            item for pair in node.value for item in (pair if isinstance(pair, tuple) else (pair,))
        ]
        if children_done:
            total = 1 + sum(sizes.get(id(child), 1) for child in children)
            sizes[id(node)] = min(total, MAX_EXPANDED_NODES + 1)
        else:
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
    return sizes[id(root)]


def _show(value: Any) -> str:
    """A bad value, short: a message must not print a huge (or alias-expanded) value."""
    import reprlib

    shown = reprlib.Repr()
    shown.maxlevel, shown.maxlist, shown.maxdict, shown.maxstring, shown.maxother = 2, 4, 4, 60, 60
    return shown.repr(value)


def parse_spec(data: Any, *, source: str | None = None) -> Spec:
    """Validate already-parsed YAML data into a :class:`Spec`."""
    try:
        return _Parser().spec(data)
    except SpecError as err:
        if source:
            raise SpecError(err.field, err.problem, path=source) from None
        raise


class _Parser:
    """Turns plain data into the spec dataclasses, one field at a time."""

    def spec(self, data: Any) -> Spec:
        top = self.mapping(
            data,
            "spec",
            required=("project", "services"),
            optional=(
                "environment",
                "traces_backend",
                "external",
                "alerting",
                "sampling_ratio",
                "otlp_endpoint",
                "retention_days",
                "query_url",
                "metrics_host",
            ),
        )
        services = tuple(
            self.service(item, f"services[{i}]")
            for i, item in enumerate(self.sequence(top["services"], "services", min_items=1))
        )
        external = tuple(
            self.external(item, f"external[{i}]")
            for i, item in enumerate(self.sequence(top.get("external", []), "external"))
        )
        spec = Spec(
            project=self.name(top["project"], "project"),
            environment=self.name(top.get("environment", "dev"), "environment"),
            traces_backend=self.choice(
                top.get("traces_backend", "tempo"), "traces_backend", TRACES_BACKENDS
            ),
            services=services,
            external=external,
            alerting=self.alerting(top.get("alerting", {}), "alerting"),
            sampling_ratio=self.ratio(top.get("sampling_ratio", 1.0), "sampling_ratio"),
            otlp_endpoint=self.url(
                top.get("otlp_endpoint", "http://127.0.0.1:4318"), "otlp_endpoint"
            ),
            retention_days=self.integer(top.get("retention_days", 15), "retention_days", 1, 3650),
            query_url=None
            if top.get("query_url") is None
            else self.url(top["query_url"], "query_url"),
            metrics_host=self.bind_address(top.get("metrics_host", DOCKER_BRIDGE), "metrics_host"),
        )
        self.check_unique(spec)
        return spec

    def service(self, data: Any, where: str) -> Service:
        item = self.mapping(
            data,
            where,
            required=("name", "port", "metrics_port"),
            optional=("slo", "version", "sampling_ratio", "metrics_host", "http"),
        )
        slo = item.get("slo")
        http = self.boolean(item.get("http", True), f"{where}.http")
        if slo is not None and not http:
            raise SpecError(
                f"{where}.slo",
                "a service with `http: false` serves no requests for an SLO to measure; "
                "remove `slo` or `http: false`",
            )
        return Service(
            name=self.name(item["name"], f"{where}.name"),
            port=self.port(item["port"], f"{where}.port"),
            metrics_port=self.port(item["metrics_port"], f"{where}.metrics_port"),
            slo=None if slo is None else self.slo(slo, f"{where}.slo"),
            version=self.version(item.get("version"), f"{where}.version"),
            sampling_ratio=(
                None
                if item.get("sampling_ratio") is None
                else self.ratio(item["sampling_ratio"], f"{where}.sampling_ratio")
            ),
            metrics_host=(
                None
                if item.get("metrics_host") is None
                else self.bind_address(item["metrics_host"], f"{where}.metrics_host")
            ),
            http=http,
        )

    def slo(self, data: Any, where: str) -> Slo:
        item = self.mapping(data, where, optional=("availability", "latency", "window_days"))
        if "availability" not in item and "latency" not in item:
            raise SpecError(where, "give `availability`, `latency` or both (or remove `slo`)")
        latency = None
        if "latency" in item:
            lat = self.mapping(
                item["latency"], f"{where}.latency", required=("threshold_ms", "target")
            )
            latency = LatencySlo(
                threshold_ms=self.integer(
                    lat["threshold_ms"], f"{where}.latency.threshold_ms", 1, 600_000
                ),
                target=self.percent(lat["target"], f"{where}.latency.target"),
            )
        return Slo(
            availability=(
                self.percent(item["availability"], f"{where}.availability")
                if "availability" in item
                else None
            ),
            latency=latency,
            window_days=self.integer(item.get("window_days", 30), f"{where}.window_days", 1, 90),
        )

    def external(self, data: Any, where: str) -> External:
        item = self.mapping(
            data, where, required=("name", "host"), optional=("port", "latency_threshold_ms")
        )
        host = item["host"]
        if not isinstance(host, str) or not HOST_RE.fullmatch(host):
            raise SpecError(
                f"{where}.host", f"must be a host name like api.example.com, got {_show(host)}"
            )
        return External(
            name=self.name(item["name"], f"{where}.name"),
            host=host,
            port=None if item.get("port") is None else self.port(item["port"], f"{where}.port"),
            latency_threshold_ms=self.integer(
                item.get("latency_threshold_ms", 1000), f"{where}.latency_threshold_ms", 1, 600_000
            ),
        )

    def alerting(self, data: Any, where: str) -> Alerting:
        if data is None:
            return Alerting()
        item = self.mapping(data, where, optional=("webhook_url", "slack", "email"))
        slack = email = None
        if item.get("slack") is not None:
            s = self.mapping(item["slack"], f"{where}.slack", required=("channel", "api_url_file"))
            channel = s["channel"]
            if not isinstance(channel, str) or not re.fullmatch(r"^#?[a-z0-9._-]{1,80}$", channel):
                raise SpecError(
                    f"{where}.slack.channel",
                    f"must be a Slack channel like #alerts, got {_show(channel)}",
                )
            slack = SlackReceiver(
                channel=channel,
                api_url_file=self.path(s["api_url_file"], f"{where}.slack.api_url_file"),
            )
        if item.get("email") is not None:
            e = self.mapping(
                item["email"],
                f"{where}.email",
                required=("to", "from", "smarthost"),
                optional=("auth_username", "auth_password_file"),
            )
            email = EmailReceiver(
                to=self.email(e["to"], f"{where}.email.to"),
                sender=self.email(e["from"], f"{where}.email.from"),
                smarthost=self.smarthost(e["smarthost"], f"{where}.email.smarthost"),
                auth_username=self.email(e["auth_username"], f"{where}.email.auth_username")
                if e.get("auth_username")
                else "",
                auth_password_file=self.path(
                    e["auth_password_file"], f"{where}.email.auth_password_file"
                )
                if e.get("auth_password_file")
                else "",
            )
        webhook = item.get("webhook_url")
        return Alerting(
            webhook_url=None if webhook is None else self.send_url(webhook, f"{where}.webhook_url"),
            slack=slack,
            email=email,
        )

    # --- field checks ---------------------------------------------------------------------

    @staticmethod
    def mapping(
        data: Any, where: str, *, required: tuple[str, ...] = (), optional: tuple[str, ...] = ()
    ) -> Mapping[str, Any]:
        if not isinstance(data, Mapping):
            raise SpecError(where, f"must be a mapping, got {_kind(data)}")
        for key in data:
            if key not in required and key not in optional:
                allowed = ", ".join((*required, *optional))
                raise SpecError(
                    f"{where}.{key}" if where != "spec" else str(key),
                    f"unknown field (allowed: {allowed})",
                )
        for key in required:
            if data.get(key) is None:
                raise SpecError(f"{where}.{key}" if where != "spec" else key, "is required")
        return data

    @staticmethod
    def sequence(data: Any, where: str, *, min_items: int = 0) -> list[Any]:
        if not isinstance(data, list):
            raise SpecError(where, f"must be a list, got {_kind(data)}")
        if len(data) < min_items:
            raise SpecError(where, f"needs at least {min_items} item(s)")
        return data

    @staticmethod
    def name(value: Any, where: str) -> str:
        if not isinstance(value, str) or not NAME_RE.fullmatch(value):
            raise SpecError(where, f"{NAME_RULE}; got {_show(value)}")
        return value

    def version(self, value: Any, where: str) -> str:
        if value is None:
            return "0.0.0"  # absent, or `version:` left empty
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)  # `version: 1.2` is meant as text
        return self.name(value, where)

    @staticmethod
    def choice(value: Any, where: str, choices: tuple[str, ...]) -> str:
        if value not in choices:
            raise SpecError(where, f"must be one of {', '.join(choices)}; got {_show(value)}")
        return str(value)

    @staticmethod
    def integer(value: Any, where: str, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise SpecError(
                where, f"must be a whole number from {low} to {high}; got {_show(value)}"
            )
        return value

    def port(self, value: Any, where: str) -> int:
        return self.integer(value, where, 1, 65535)

    @staticmethod
    def percent(value: Any, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 100:
            raise SpecError(
                where, f"must be a percentage above 0 and below 100, like 99.9; got {_show(value)}"
            )
        return float(value)

    @staticmethod
    def boolean(value: Any, where: str) -> bool:
        if not isinstance(value, bool):
            raise SpecError(where, f"must be true or false; got {_show(value)}")
        return value

    @staticmethod
    def ratio(value: Any, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise SpecError(where, f"must be a ratio from 0 to 1, like 0.25; got {_show(value)}")
        return float(value)

    @staticmethod
    def url(value: Any, where: str) -> str:
        if not isinstance(value, str) or not URL_RE.fullmatch(value):
            raise SpecError(where, f"must be an http:// or https:// URL; got {_show(value)}")
        return value

    def send_url(self, value: Any, where: str) -> str:
        """A URL something sends to: ``0.0.0.0`` is where a server listens, not an address."""
        from obskit.stack.host_gateway import is_unspecified, url_host

        url = self.url(value, where)
        if is_unspecified(url_host(url)):
            raise SpecError(
                where,
                f"{url_host(url)} is an address to listen on, not to send to; give the"
                " receiver's address (127.0.0.1 for one on this host)",
            )
        return url

    @staticmethod
    def bind_address(value: Any, where: str) -> str:
        import ipaddress

        if value == DOCKER_BRIDGE:
            return value
        try:
            return str(ipaddress.ip_address(str(value).strip("[]")))
        except ValueError:
            raise SpecError(
                where,
                f"must be {DOCKER_BRIDGE} or an IP address to listen on, like 0.0.0.0 or"
                f" 127.0.0.1; got {value!r}",
            ) from None

    @staticmethod
    def path(value: Any, where: str) -> str:
        if not isinstance(value, str) or not re.fullmatch(r"^[A-Za-z0-9._/-]{1,255}$", value):
            raise SpecError(
                where,
                "must be a file path of letters, digits, '.', '_', '-' and '/'; "
                f"got {_show(value)}",
            )
        return value

    @staticmethod
    def email(value: Any, where: str) -> str:
        if not isinstance(value, str) or not re.fullmatch(
            r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+$", value
        ):
            raise SpecError(where, f"must be an e-mail address; got {_show(value)}")
        return value

    @staticmethod
    def smarthost(value: Any, where: str) -> str:
        if not isinstance(value, str) or not re.fullmatch(r"^[A-Za-z0-9.-]+:\d{1,5}$", value):
            raise SpecError(
                where, f"must be host:port, like smtp.example.com:587; got {_show(value)}"
            )
        return value

    @staticmethod
    def check_unique(spec: Spec) -> None:
        seen_names: set[str] = set()
        for i, svc in enumerate(spec.services):
            if svc.name in seen_names:
                raise SpecError(f"services[{i}].name", f"duplicate service name {_show(svc.name)}")
            if svc.name in RESERVED_NAMES:
                raise SpecError(
                    f"services[{i}].name",
                    f"{_show(svc.name)} is the name of a component of the stack; pick another name",
                )
            seen_names.add(svc.name)
        if not spec.http_services:
            raise SpecError(
                "services",
                "every service has `http: false`; obskit follows requests, so at least one "
                "service must serve HTTP",
            )
        for i, ext in enumerate(spec.external):
            if ext.name in seen_names:
                raise SpecError(
                    f"external[{i}].name",
                    f"{_show(ext.name)} is already a service or external name",
                )
            seen_names.add(ext.name)
        ports: dict[int, str] = {}
        stack_ports = published(spec.traces_backend)
        for i, svc in enumerate(spec.services):
            for key in ("port", "metrics_port"):
                port = getattr(svc, key)
                if port in stack_ports:
                    raise SpecError(
                        f"services[{i}].{key}",
                        f"port {port} is published by the stack ({stack_ports[port]}); "
                        "the service cannot listen on it too: pick another port",
                    )
        for i, svc in enumerate(spec.services):
            for key in ("port", "metrics_port"):
                port = getattr(svc, key)
                if port in ports:
                    raise SpecError(
                        f"services[{i}].{key}", f"port {port} is already used by {ports[port]}"
                    )
                ports[port] = f"services[{i}].{key}"


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__
