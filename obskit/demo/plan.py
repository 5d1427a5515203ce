"""What `obskit demo` runs, laid out in a work directory: the demo shop's spec with free ports,
and Prometheus and Alertmanager configs generated from it for this machine.

The configs come from the same generators as `obskit init`; the demo only points them at
loopback (no compose network here) and compresses time (1 s scrapes, short alert windows), so
that what takes minutes in production happens within the demo's run.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from obskit.stack.serialize import serialize
from obskit.stack.spec import Spec, load_spec

DEMO_SPEC = Path(__file__).resolve().parent.parent.parent / "demo_services" / "obskit.yaml"
HOST = "127.0.0.1"
GATEWAY = "payments-gateway"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class DemoPlan:
    workdir: Path
    spec_path: Path
    spec: Spec
    otlp_port: int
    query_port: int
    prometheus_port: int
    alertmanager_port: int

    @property
    def query_url(self) -> str:
        return f"http://{HOST}:{self.query_port}"

    @property
    def prometheus_url(self) -> str:
        return f"http://{HOST}:{self.prometheus_port}"

    @property
    def alertmanager_url(self) -> str:
        return f"http://{HOST}:{self.alertmanager_port}"

    @property
    def prometheus_config(self) -> Path:
        return self.workdir / "prometheus" / "prometheus.yml"

    @property
    def alertmanager_config(self) -> Path:
        return self.workdir / "alertmanager" / "alertmanager.yml"

    @property
    def gateway_url(self) -> str:
        gateway = next(e for e in self.spec.external if e.name == GATEWAY)
        return f"http://{gateway.host}:{gateway.port}"

    @property
    def storefront_url(self) -> str:
        storefront = self.spec.service("storefront")
        assert storefront is not None
        return f"http://{HOST}:{storefront.port}"


def make_plan(workdir: Path, inbox_url: str, spec_source: Path = DEMO_SPEC) -> DemoPlan:
    """Copy the demo spec with free ports into ``workdir`` and generate the local configs."""
    import yaml

    raw = yaml.safe_load(spec_source.read_text(encoding="utf-8"))
    for service in raw["services"]:
        service["port"], service["metrics_port"] = free_port(), free_port()
    for external in raw.get("external", []):
        if external.get("host") == HOST:
            external["port"] = free_port()
    otlp_port, query_port = free_port(), free_port()
    raw["otlp_endpoint"] = f"http://{HOST}:{otlp_port}"
    raw["query_url"] = f"http://{HOST}:{query_port}"
    raw["alerting"] = {"webhook_url": inbox_url}
    # Everything runs on this machine, Prometheus included: metrics on loopback.
    raw["metrics_host"] = HOST
    workdir.mkdir(parents=True, exist_ok=True)
    spec_path = workdir / "obskit.yaml"
    spec_path.write_text(serialize(spec_path, raw, spec_name=str(spec_source)), encoding="utf-8")
    plan = DemoPlan(
        workdir=workdir,
        spec_path=spec_path,
        spec=load_spec(spec_path),
        otlp_port=otlp_port,
        query_port=query_port,
        prometheus_port=free_port(),
        alertmanager_port=free_port(),
    )
    write_configs(plan)
    return plan


def write_configs(plan: DemoPlan) -> None:
    for relpath, data in local_configs(plan).items():
        path = plan.workdir / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(serialize(path, data), encoding="utf-8")


def local_configs(plan: DemoPlan) -> dict[str, Any]:
    from obskit.stack import alertmanager, prometheus, rules

    out: dict[str, Any] = dict(rules.files(plan.spec, timing=rules.DEMO_TIMING))
    out[prometheus.PATH] = _local_prometheus(plan, prometheus.config(plan.spec))
    # Alertmanager runs on this machine too: the spec's URLs as they are, not for a container.
    out[alertmanager.PATH] = _fast_routes(alertmanager.config(plan.spec, in_container=False))
    return out


def _local_prometheus(plan: DemoPlan, config: dict[str, Any]) -> dict[str, Any]:
    """The generated config, scraping this machine's loopback every second."""
    metrics_ports = {s.name: s.metrics_port for s in plan.spec.services}
    jobs = [
        _job("prometheus", plan.prometheus_port),
        _job("alertmanager", plan.alertmanager_port),
        _job("obskit-serve", plan.query_port),
    ]
    jobs += [
        _job(job["job_name"], metrics_ports[job["job_name"]])
        for job in config["scrape_configs"]
        if job["job_name"] in metrics_ports
    ]
    return {
        **config,
        "global": {**config["global"], "scrape_interval": "1s", "evaluation_interval": "1s"},
        "alerting": {
            "alertmanagers": [
                {"static_configs": [{"targets": [f"{HOST}:{plan.alertmanager_port}"]}]}
            ]
        },
        "scrape_configs": jobs,
    }


def _job(name: str, port: int) -> dict[str, Any]:
    return {"job_name": name, "static_configs": [{"targets": [f"{HOST}:{port}"]}]}


def _fast_routes(config: dict[str, Any]) -> dict[str, Any]:
    """Alertmanager's routing as generated, with waits of seconds instead of minutes."""

    def fast(route: dict[str, Any]) -> dict[str, Any]:
        timed = {"group_wait": "1s", "group_interval": "5s"} if "group_wait" in route else {}
        children = {"routes": [fast(r) for r in route["routes"]]} if "routes" in route else {}
        return {**route, **timed, **children}

    return {**config, "route": fast(config["route"])}
