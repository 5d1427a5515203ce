"""A real Prometheus (Debian 2.42) runs the generated scrape jobs and rules against a service
exposing the whole metric vocabulary; every recording rule returns data and every rule and
dashboard panel expression evaluates without error through ``/api/v1/query``.

Two specs at once: the demo, and the one whose names have dots, dashes and underscores (their
quoting is what breaks first). Every scrape job points at one in-process exporter, except
Prometheus' own job, which scrapes Prometheus.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import shutil
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    start_http_server,
)

from obskit.stack import prometheus, rules
from obskit.stack import vocabulary as v
from obskit.stack.promql import selector
from obskit.stack.serialize import serialize
from obskit.stack.spec import Spec
from tests.conftest import free_port, wait_ready
from tests.specs import SPECS

pytestmark = pytest.mark.slow  # starts real servers or runs end to end

SPEC_NAMES = ("demo", "odd-names")
DATA_TIMEOUT = 30.0  # Prometheus 2.42 scrapes ~5 s after start; rates need a second sample
GRAFANA_VARIABLES = {"__rate_interval": "1m", "__interval": "15s", "__range": "1h"}


class VocabularyService:
    """An in-process exporter with realistic series for every name rules and dashboards use;
    a thread keeps the counters growing so that rates are never empty."""

    def __init__(self, specs: list[Spec]) -> None:
        self.registry = reg = CollectorRegistry()
        thresholds = sorted({t for spec in specs for t in spec.latency_thresholds_ms})
        buckets = v.histogram_buckets_s(thresholds)
        self.services = [s.name for spec in specs for s in spec.services]
        self.externals = [e for spec in specs for e in spec.external]

        def hist(name: str, labels: list[str]) -> Histogram:
            return Histogram(name, name, labels, registry=reg, buckets=buckets)

        def counter(name: str, labels: list[str]) -> Counter:
            return Counter(name.removesuffix("_total"), name, labels, registry=reg)

        self.server = hist(v.HTTP_SERVER_DURATION, [v.ROUTE, v.METHOD, v.STATUS])
        self.client = hist(v.HTTP_CLIENT_DURATION, [v.METHOD, v.SERVER_ADDRESS, v.SERVER_PORT])
        span_labels = [v.SPAN_SERVICE, v.SPAN_NAME, v.SPAN_KIND, v.SPAN_STATUS]
        self.span_calls = counter(v.SPAN_CALLS, span_labels)
        self.span_duration = hist(v.SPAN_DURATION, span_labels)
        edge = [v.GRAPH_CLIENT, v.GRAPH_SERVER]
        self.graph_requests = counter(v.GRAPH_REQUESTS, edge)
        self.graph_failed = counter(v.GRAPH_FAILED, edge)
        self.graph_server = hist(v.GRAPH_SERVER_SECONDS, edge)
        self.graph_client = hist(v.GRAPH_CLIENT_SECONDS, edge)
        receiver, exporter = ["receiver", "transport"], ["exporter"]
        self.collector = [
            (counter(v.COLLECTOR_ACCEPTED_SPANS, receiver), ("otlp", "grpc")),
            (counter(v.COLLECTOR_REFUSED_SPANS, receiver), ("otlp", "grpc")),
            (counter(v.COLLECTOR_SENT_SPANS, exporter), ("otlp_grpc/tempo",)),
            (counter(v.COLLECTOR_SEND_FAILED_SPANS, exporter), ("otlp_grpc/tempo",)),
            (counter(v.COLLECTOR_ENQUEUE_FAILED_SPANS, exporter), ("otlp_grpc/tempo",)),
            (counter("alertmanager_notifications_total", ["integration"]), ("webhook",)),
            (counter("alertmanager_notifications_failed_total", ["integration"]), ("webhook",)),
        ]
        # the data tier (obskit/stack/dependencies.py)
        pool = [v.POOL_NAME]
        self.pool_count = Gauge(v.POOL_COUNT, "pool", [*pool, v.POOL_STATE], registry=reg)
        self.pool_max = Gauge(v.POOL_MAX, "pool", pool, registry=reg)
        self.pool_pending = Gauge(v.POOL_PENDING, "pool", pool, registry=reg)
        self.pool_wait = Histogram(v.POOL_WAIT, "pool", pool, registry=reg)
        self.cache = counter(f"{v.CACHE_REQUESTS}_total", [v.CACHE_NAME, "result"])
        self.queue_depth = Gauge(v.QUEUE_DEPTH, "queue", [v.QUEUE_NAME], registry=reg)
        self.queue_lag = Gauge(v.QUEUE_LAG, "queue", [v.QUEUE_NAME], registry=reg)
        info = Info("target", "Target metadata", registry=reg)
        info.info({"service_name": "checkout", "service_version": "1.0.0"})
        self.stop = threading.Event()
        self.rng = random.Random(7)

    def tick(self) -> None:
        rng = self.rng
        for route, status in (("/api/orders", "200"), ("/api/orders", "500"), ("/health", "200")):
            self.server.labels(route, "GET", status).observe(rng.choice((0.02, 0.2, 0.4, 1.5)))
        for external in self.externals:
            port = str(external.port or 443)
            self.client.labels("POST", external.host, port).observe(rng.choice((0.1, 0.6, 0.9)))
        for caller, callee in itertools.pairwise(self.services):
            for name, kind in ((caller, "SPAN_KIND_SERVER"), (callee, "SPAN_KIND_CLIENT")):
                for status in ("STATUS_CODE_UNSET", "STATUS_CODE_ERROR"):
                    self.span_calls.labels(name, "GET /api", kind, status).inc()
                    self.span_duration.labels(name, "GET /api", kind, status).observe(0.1)
            self.graph_requests.labels(caller, callee).inc()
            self.graph_failed.labels(caller, callee).inc()
            self.graph_server.labels(caller, callee).observe(0.1)
            self.graph_client.labels(caller, callee).observe(0.12)
        for metric, labels in self.collector:
            metric.labels(*labels).inc()
        self.pool_count.labels("payments", "used").set(rng.randint(0, 10))
        self.pool_count.labels("payments", "idle").set(rng.randint(0, 10))
        self.pool_max.labels("payments").set(10)
        self.pool_pending.labels("payments").set(rng.randint(0, 3))
        self.pool_wait.labels("payments").observe(rng.choice((0.0005, 0.02, 0.2)))
        self.cache.labels("quotes", rng.choice(("hit", "hit", "miss"))).inc()
        self.queue_depth.labels("order-emails").inc()
        self.queue_lag.labels("order-emails").set(rng.random())

    def run(self) -> None:
        while not self.stop.wait(0.05):
            self.tick()


def prometheus_config(specs: dict[str, Spec], exporter: str, own: str) -> dict[str, Any]:
    """The generated config of every spec, merged, scraping every second, targets rewritten."""
    jobs: dict[str, dict[str, Any]] = {}
    for spec in specs.values():
        for job in prometheus.config(spec)["scrape_configs"]:
            target = own if job["job_name"] == prometheus.JOB_PROMETHEUS else exporter
            jobs[job["job_name"]] = {**job, "static_configs": [{"targets": [target]}]}
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [f"{name}/prometheus/rules/*.yml" for name in specs],
        "scrape_configs": list(jobs.values()),
    }


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def query_all(self, exprs: list[str]) -> list[dict[str, Any]]:
        """Answers in order; a few at a time (hundreds of queries, one server)."""
        with ThreadPoolExecutor(max_workers=6) as pool:
            return list(pool.map(self.query, exprs))

    def query(self, expr: str) -> dict[str, Any]:
        """The API's answer, also on a 400 (a query that does not parse)."""
        data = urllib.parse.urlencode({"query": expr}).encode()
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/query", data, timeout=10) as resp:
                return json.load(resp)
        except urllib.error.HTTPError as err:
            return json.load(err)


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    binary = shutil.which("prometheus")
    if not binary:
        pytest.fail("prometheus not found: apt-get install -y --no-install-recommends prometheus")
    specs = {name: SPECS[name] for name in SPEC_NAMES}
    root = tmp_path_factory.mktemp("prometheus-live")
    for name, spec in specs.items():
        for path, data in rules.files(spec).items():
            (root / name / path).parent.mkdir(parents=True, exist_ok=True)
            (root / name / path).write_text(serialize(path, data), encoding="utf-8")
    service = VocabularyService(list(specs.values()))
    server, _ = start_http_server(0, addr="127.0.0.1", registry=service.registry)
    feeder = threading.Thread(target=service.run, daemon=True)
    feeder.start()
    port = free_port()
    config = prometheus_config(specs, f"127.0.0.1:{server.server_address[1]}", f"127.0.0.1:{port}")
    (root / "prometheus.yml").write_text(serialize("prometheus.yml", config), encoding="utf-8")
    check = subprocess.run(
        ["promtool", "check", "config", str(root / "prometheus.yml")],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={root / 'prometheus.yml'}",
            f"--storage.tsdb.path={root / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/-/ready")
        yield Prometheus(f"http://127.0.0.1:{port}")
    finally:
        proc.terminate()
        proc.wait(10)
        service.stop.set()
        server.shutdown()


def recording_rules() -> list[tuple[str, str]]:
    """(spec, selector of the series a recording rule writes), for every recording rule."""
    found = []
    for name in SPEC_NAMES:
        for data in rules.files(SPECS[name]).values():
            for group in data["groups"]:
                found += [
                    (name, selector(rule["record"], rule.get("labels", {})))
                    for rule in group["rules"]
                    if "record" in rule
                ]
    return found


def error_of(answer: dict[str, Any]) -> str | None:
    if answer.get("status") == "success":
        return None
    return f"{answer.get('errorType')}: {answer.get('error')}"


def test_every_recording_rule_returns_data(live: Prometheus) -> None:
    wanted = recording_rules()
    assert len(wanted) > 200
    missing = wanted
    deadline = time.monotonic() + DATA_TIMEOUT
    while missing and time.monotonic() < deadline:
        time.sleep(0.5)
        answers = live.query_all([sel for _, sel in missing])
        missing = [
            m for m, answer in zip(missing, answers, strict=True) if not answer["data"]["result"]
        ]
    assert missing == [], (
        f"{len(missing)} recording rules without data after {DATA_TIMEOUT}s: {missing}"
    )


def test_every_alert_expression_evaluates(live: Prometheus) -> None:
    errors = []
    for name in SPEC_NAMES:
        for data in rules.files(SPECS[name]).values():
            for group in data["groups"]:
                for rule in group["rules"]:
                    if "alert" in rule and (err := error_of(live.query(rule["expr"]))):
                        errors.append(f"{name} {rule['alert']}: {err}")
    assert errors == []


def test_watchdog_fires(live: Prometheus) -> None:
    deadline = time.monotonic() + DATA_TIMEOUT
    while time.monotonic() < deadline:
        if live.query('ALERTS{alertname="Watchdog",alertstate="firing"}')["data"]["result"]:
            return
        time.sleep(0.5)
    pytest.fail("Watchdog is not firing")


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))


def dashboard_queries(spec: Spec) -> list[tuple[str, str, str]]:
    """(dashboard, panel title, PromQL) for every Prometheus query of every generated
    dashboard, with Grafana's variables replaced by values: ``$service`` by each service."""
    from obskit.stack import grafana  # built by another module; imported where it is needed

    found = []
    for path, model in grafana.files(spec).items():
        if not path.endswith(".json"):
            continue
        for panel in panels(model.get("panels", [])):
            for target in panel.get("targets", []):
                expr = target.get("expr")
                if not expr:
                    continue
                values = [s.name for s in spec.services] if "service" in expr else [""]
                for service in values:
                    concrete = substitute(expr, {**GRAFANA_VARIABLES, "service": service})
                    found.append((path, str(panel.get("title")), concrete))
    return found


def substitute(expr: str, values: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise AssertionError(f"unknown Grafana variable ${name} in {expr}")
        return values[name]

    # $name, ${name}; not label_replace's "$1"
    return re.sub(r"\$\{(\w+)\}|\$([A-Za-z_]\w*)", one, expr)


def test_every_dashboard_panel_expression_evaluates(live: Prometheus) -> None:
    queries = [(name, *q) for name in SPEC_NAMES for q in dashboard_queries(SPECS[name])]
    answers = live.query_all([expr for *_, expr in queries])
    errors = [
        f"{name} {dashboard} {title!r}: {err}\n  {expr}"
        for (name, dashboard, title, expr), answer in zip(queries, answers, strict=True)
        if (err := error_of(answer))
    ]
    assert len(queries) > 100
    assert errors == [], "\n".join(errors)


def test_a_broken_expression_is_reported(live: Prometheus) -> None:
    """The check above can fail: the API reports a query that does not parse."""
    assert error_of(live.query("sum(rate(x[5m])")) is not None
    assert Path(shutil.which("prometheus") or "").name == "prometheus"
