"""A real Prometheus (Debian's) scrapes the instrumented demo shop: the HTTP histograms the
generated rules and dashboards use are there, the generated recording rules return data, and
a slower payment gateway shows in the payment path's p95."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from demo_services.load import run_load
from demo_services.shop import GATEWAY, Shop
from obskit.stack.serialize import to_yaml
from tests.conftest import free_port, wait_ready

pytestmark = pytest.mark.slow  # starts real servers or runs end to end

PROMETHEUS = shutil.which("prometheus")
EVERY = "1s"  # scrape and rule evaluation interval, so tests see data within seconds

ROUTES = {
    "storefront": {("GET", "/"), ("POST", "/checkout")},
    "checkout": {("POST", "/orders")},
    "inventory": {("GET", "/stock"), ("POST", "/reserve")},
    "pricing": {("GET", "/quote"), ("GET", "/prices")},
    "payments": {("POST", "/charge")},
}


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, expr: str) -> list[dict[str, Any]]:
        resp = requests.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        resp.raise_for_status()
        return resp.json()["data"]["result"]

    def value(self, expr: str) -> float:
        result = self.query(expr)
        assert len(result) == 1, f"{expr}: {result}"
        return float(result[0]["value"][1])

    def wait_for(self, expr: str, timeout: float = 30) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(expr)
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"no data for {expr} after {timeout}s")
            time.sleep(0.5)


def rule_files(shop: Shop) -> dict[str, Any]:
    """The recording and alerting rules `obskit init` generates for this spec, evaluated
    every second instead of the generated interval."""
    try:
        from obskit.stack import rules
    except ImportError:
        return {}
    files = rules.files(shop.spec)
    for data in files.values():
        for group in data["groups"]:
            group["interval"] = EVERY
    return files


def config(shop: Shop, rule_paths: list[str]) -> dict[str, Any]:
    # One job per service, named after it: the generated stack's convention, which the
    # generated rules select on.
    jobs = [
        {"job_name": m.name, "static_configs": [{"targets": [f"127.0.0.1:{m.metrics_port}"]}]}
        for m in shop.members
        if m.metrics_port is not None
    ]
    return {
        "global": {"scrape_interval": EVERY, "evaluation_interval": EVERY},
        "rule_files": rule_paths,
        "scrape_configs": jobs,
    }


@pytest.fixture(scope="module")
def prometheus(shop: Shop, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    if PROMETHEUS is None:
        pytest.fail("prometheus is not installed: apt-get install prometheus")
    directory: Path = tmp_path_factory.mktemp("prometheus")
    paths = []
    for relpath, data in rule_files(shop).items():
        path = directory / Path(relpath).name
        path.write_text(to_yaml(data))
        paths.append(str(path))
    (directory / "prometheus.yml").write_text(to_yaml(config(shop, paths)))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (directory / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [PROMETHEUS, f"--config.file={directory / 'prometheus.yml'}",
         f"--storage.tsdb.path={directory / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
         f"--web.external-url={url}"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_ready(f"{url}/-/ready", timeout=30)
        yield Prometheus(url)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def traffic(shop: Shop, prometheus: Prometheus) -> None:
    """Some of every kind of request, including failed payments (so error rules have data)."""
    requests.post(f"{shop.member(GATEWAY).url}/admin/faults", json={"error_rate": 0.3}, timeout=5)
    try:
        result = run_load(shop.url, rate=25, duration=3, checkout_share=0.7)
    finally:
        requests.post(f"{shop.member(GATEWAY).url}/admin/faults", json={"error_rate": 0}, timeout=5)
    assert result.statuses.get("200", 0) > 0 and result.statuses.get("502", 0) > 0


def test_prometheus_scrapes_server_and_client_histograms(
    shop: Shop, prometheus: Prometheus, traffic: None
) -> None:
    for service, routes in ROUTES.items():
        found = prometheus.wait_for(
            f'http_server_request_duration_seconds_count{{job="{service}"}}'
        )
        seen = {(s["metric"]["http_request_method"], s["metric"]["http_route"]) for s in found}
        assert seen == routes, service
    gateway = shop.member(GATEWAY)
    to_gateway = prometheus.wait_for(
        "http_client_request_duration_seconds_bucket"
        f'{{job="payments",server_address="127.0.0.1",server_port="{gateway.port}"}}'
    )
    assert {s["metric"]["http_response_status_code"] for s in to_gateway} == {"200", "503"}
    # every latency threshold of the spec is a bucket bound (the SLO rules count with it)
    checkout_slo = prometheus.query(
        'http_server_request_duration_seconds_bucket{job="checkout",le="0.3"}'
    )
    assert checkout_slo, "checkout's 300 ms SLO threshold is not a bucket bound"
    # the resource is there for joins (target_info)
    info = prometheus.wait_for('target_info{job="payments"}')
    assert info[0]["metric"]["service_namespace"] == "shop"


def test_generated_recording_rules_return_data(
    shop: Shop, prometheus: Prometheus, traffic: None
) -> None:
    files = rule_files(shop)
    if not files:
        pytest.fail("obskit.stack.rules is missing: the generated rules cannot be checked")
    # This shop runs on SQLite, without pools, cache or queue: the data tier's rules are
    # checked against the real servers in tests/e2e/test_flash_sale.py.
    from obskit.stack.dependencies import GROUP

    records = {
        rule["record"]
        for data in files.values()
        for group in data["groups"]
        for rule in group["rules"]
        if "record" in rule and group["name"] != GROUP
    }
    assert records
    empty = set(records)
    deadline = time.monotonic() + 30
    while empty and time.monotonic() < deadline:
        empty = {name for name in empty if not prometheus.query(name)}
        time.sleep(1)
    assert not empty, f"recording rules without data: {sorted(empty)}"
    # per service, too
    for service in ROUTES:
        assert prometheus.query(f'service:http_server_requests:rate5m{{service="{service}"}}')


def p95(prometheus: Prometheus, window: str) -> float:
    return prometheus.value(
        "histogram_quantile(0.95, sum by (le) (rate("
        f'http_server_request_duration_seconds_bucket{{job="payments",http_route="/charge"}}'
        f"[{window}])))"
    )


def test_slower_gateway_raises_the_payment_p95(shop: Shop, prometheus: Prometheus, faults) -> None:
    window = "4s"
    run_load(shop.url, rate=10, duration=5, checkout_share=1)
    time.sleep(2)  # one more scrape
    before = p95(prometheus, window)
    faults.gateway(latency_ms=600, jitter_ms=0)
    run_load(shop.url, rate=10, duration=5, checkout_share=1)
    time.sleep(2)
    after = p95(prometheus, window)
    assert before < 0.25, before
    assert after > 0.5, after
