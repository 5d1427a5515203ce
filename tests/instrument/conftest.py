"""One demo shop per test session: all six processes on free loopback ports, the five
services under `obskit instrument`, exporting to an in-thread OTLP receiver."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from demo_services.shop import DEMO_SPEC, GATEWAY, Shop
from tests.conftest import free_port
from tests.instrument.otlp_receiver import Receiver

# Spans leave a service 0.1 s after they end instead of the SDK's 5 s.
FAST_EXPORT = {"OTEL_BSP_SCHEDULE_DELAY": "100"}
GATEWAY_DEFAULTS = {"latency_ms": 50, "jitter_ms": 10, "error_rate": 0}
INVENTORY_DEFAULTS = {"slow_query_ms": 0}


def demo_spec_data(otlp_endpoint: str) -> dict[str, Any]:
    """The demo spec with every port replaced by a free one."""
    data = yaml.safe_load(DEMO_SPEC.read_text())
    for service in data["services"]:
        service["port"], service["metrics_port"] = free_port(), free_port()
    for external in data["external"]:
        external["port"] = free_port()
    data["otlp_endpoint"] = otlp_endpoint
    return data


def write_demo_spec(directory: Path, otlp_endpoint: str) -> Path:
    path = directory / "obskit.yaml"
    path.write_text(yaml.safe_dump(demo_spec_data(otlp_endpoint), sort_keys=False))
    return path


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    with Receiver() as found:
        yield found


@pytest.fixture(scope="session")
def shop(receiver: Receiver, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    directory = tmp_path_factory.mktemp("shop")
    # the SQLite fallback: these tests are about the traces of the services themselves
    # (tests/e2e/test_flash_sale.py runs the shop on PostgreSQL, Redis and RabbitMQ)
    running = Shop(
        write_demo_spec(directory, receiver.endpoint),
        env=FAST_EXPORT,
        log_dir=directory / "logs",
        servers=False,
    )
    running.start(timeout=90)
    try:
        yield running
    finally:
        running.stop()


class Faults:
    """Changes the shop's fault knobs through its admin endpoints."""

    def __init__(self, shop: Shop) -> None:
        self.shop = shop

    def gateway(self, **knobs: float) -> None:
        self._post(GATEWAY, knobs)

    def inventory(self, **knobs: float) -> None:
        self._post("inventory", knobs)

    def reset(self) -> None:
        self.gateway(**GATEWAY_DEFAULTS)
        self.inventory(**INVENTORY_DEFAULTS)

    def _post(self, name: str, knobs: dict[str, float]) -> None:
        url = f"{self.shop.member(name).url}/admin/faults"
        requests.post(url, json=knobs, timeout=5).raise_for_status()


@pytest.fixture
def faults(shop: Shop) -> Iterator[Faults]:
    """Fault knobs, back at their defaults after the test (the shop is shared)."""
    knobs = Faults(shop)
    knobs.reset()
    try:
        yield knobs
    finally:
        knobs.reset()
