"""``obskit.yaml``: the one spec the whole stack is generated from.

``load_spec(path)`` reads and validates it; every problem is a :class:`SpecError` naming the
field (``services[1].slo.latency.target``) and what is wrong with it. Names are restricted so
that nothing in the spec can inject YAML, PromQL, a shell word or a URL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from obskit.errors import SpecError

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
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "invalid YAML"
        raise SpecError(str(path), f"not valid YAML{where}: {problem}") from None
    return parse_spec(data, source=str(path))


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
            optional=("slo", "version", "sampling_ratio", "metrics_host"),
        )
        slo = item.get("slo")
        return Service(
            name=self.name(item["name"], f"{where}.name"),
            port=self.port(item["port"], f"{where}.port"),
            metrics_port=self.port(item["metrics_port"], f"{where}.metrics_port"),
            slo=None if slo is None else self.slo(slo, f"{where}.slo"),
            version=self.name(str(item.get("version", "0.0.0")), f"{where}.version"),
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
        if not isinstance(host, str) or not HOST_RE.match(host):
            raise SpecError(
                f"{where}.host", f"must be a host name like api.example.com, got {host!r}"
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
            if not isinstance(channel, str) or not re.match(r"^#?[a-z0-9._-]{1,80}$", channel):
                raise SpecError(
                    f"{where}.slack.channel",
                    f"must be a Slack channel like #alerts, got {channel!r}",
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
        if not isinstance(value, str) or not NAME_RE.match(value):
            raise SpecError(where, f"{NAME_RULE}; got {value!r}")
        return value

    @staticmethod
    def choice(value: Any, where: str, choices: tuple[str, ...]) -> str:
        if value not in choices:
            raise SpecError(where, f"must be one of {', '.join(choices)}; got {value!r}")
        return str(value)

    @staticmethod
    def integer(value: Any, where: str, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise SpecError(where, f"must be a whole number from {low} to {high}; got {value!r}")
        return value

    def port(self, value: Any, where: str) -> int:
        return self.integer(value, where, 1, 65535)

    @staticmethod
    def percent(value: Any, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 100:
            raise SpecError(
                where, f"must be a percentage above 0 and below 100, like 99.9; got {value!r}"
            )
        return float(value)

    @staticmethod
    def ratio(value: Any, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise SpecError(where, f"must be a ratio from 0 to 1, like 0.25; got {value!r}")
        return float(value)

    @staticmethod
    def url(value: Any, where: str) -> str:
        if not isinstance(value, str) or not URL_RE.match(value):
            raise SpecError(where, f"must be an http:// or https:// URL; got {value!r}")
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
        if not isinstance(value, str) or not re.match(r"^[A-Za-z0-9._/-]{1,255}$", value):
            raise SpecError(
                where,
                f"must be a file path of letters, digits, '.', '_', '-' and '/'; got {value!r}",
            )
        return value

    @staticmethod
    def email(value: Any, where: str) -> str:
        if not isinstance(value, str) or not re.match(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+$", value):
            raise SpecError(where, f"must be an e-mail address; got {value!r}")
        return value

    @staticmethod
    def smarthost(value: Any, where: str) -> str:
        if not isinstance(value, str) or not re.match(r"^[A-Za-z0-9.-]+:\d{1,5}$", value):
            raise SpecError(where, f"must be host:port, like smtp.example.com:587; got {value!r}")
        return value

    @staticmethod
    def check_unique(spec: Spec) -> None:
        seen_names: set[str] = set()
        for i, svc in enumerate(spec.services):
            if svc.name in seen_names:
                raise SpecError(f"services[{i}].name", f"duplicate service name {svc.name!r}")
            if svc.name in RESERVED_NAMES:
                raise SpecError(
                    f"services[{i}].name",
                    f"{svc.name!r} is the name of a component of the stack; pick another name",
                )
            seen_names.add(svc.name)
        for i, ext in enumerate(spec.external):
            if ext.name in seen_names:
                raise SpecError(
                    f"external[{i}].name", f"{ext.name!r} is already a service or external name"
                )
            seen_names.add(ext.name)
        ports: dict[int, str] = {}
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
