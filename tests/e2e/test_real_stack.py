"""The generated stack on the pinned servers, the way ``docker compose up`` would run it.

For the demo shop's spec with Tempo, then with Jaeger: ``obskit init`` writes the stack, the
harness (:mod:`tests.stack.harness`) runs its docker-compose.yml on the real Collector, trace
backend, Prometheus and Alertmanager, and the shop runs on the host under ``obskit instrument``
sending OTLP to the published port. After traffic, with the payment gateway slowed midway:

* the Collector accepts its config and its health endpoint answers; each healthcheck passes;
* traces land in the backend and ``obskit analyze`` flags the gateway hop;
* Prometheus has every target up, every recording rule and panel query returns data;
* ``ExternalDependencySlow`` and the Watchdog reach a webhook receiver on the host at the
  spec's URL as generated for containers.

Only time is compressed, never what is checked (:func:`compress_time`): the rules come from
the generator's own short timing (30 s windows, 10 s ``for``), Prometheus scrapes and evaluates
every second, and Alertmanager's group waits are seconds.
"""

from __future__ import annotations

import json
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from obskit.demo.inbox import AlertInbox
from obskit.demo.plan import _fast_routes
from obskit.stack import grafana, rules, vocabulary
from obskit.stack.promql import selector
from obskit.stack.serialize import serialize
from obskit.stack.spec import Spec, load_spec
from tests.conftest import REPO, UNDER_CI, free_port
from tests.specs import DEMO_SPEC_PATH
from tests.stack.harness.project import load_project
from tests.stack.harness.stack import Stack, missing_requirements

pytestmark = pytest.mark.slow

BACKENDS = ("tempo", "jaeger")
GATEWAY = "payments-gateway"
ALERT = rules.ALERT_DEPENDENCY_SLOW
RATE = 6.0  # requests per second, as `obskit demo`
CALM_S = 10.0  # traffic before the gateway slows down
SLOW_S = 35.0  # and after: the 30 s window fills with slow calls
SLOW_GATEWAY_MS = 800
ALERT_TIMEOUT_S = 90.0
DATA_TIMEOUT_S = 30.0
COLLECTOR = "otel-collector"
COLLECTOR_HEALTH_PORT = 13133


@dataclass
class Live:
    backend: str
    spec: Spec
    spec_path: Path
    stack_dir: Path
    stack: Stack
    bind: str
    inbox: AlertInbox
    calm_alerts: list[dict[str, Any]]  # ExternalDependencySlow alerts before the slowdown

    def url(self, port: int) -> str:
        return f"http://{self.bind}:{port}"

    @property
    def prometheus(self) -> str:
        return self.url(9090)


# --- the stack ----------------------------------------------------------------------------


def write_spec(workdir: Path, backend: str, bind: str, metrics_host: str | None) -> Path:
    """The demo shop's spec for ``backend``: free ports on the host, the webhook on a free
    port, the metrics endpoints on ``metrics_host``, OTLP to the Collector published on ``bind``."""
    raw = yaml.safe_load(DEMO_SPEC_PATH.read_text(encoding="utf-8"))
    raw["traces_backend"] = backend
    if metrics_host:
        raw["metrics_host"] = metrics_host
    for service in raw["services"]:
        service["port"], service["metrics_port"] = free_port(), free_port()
    for external in raw["external"]:
        external["port"] = free_port()
    raw["otlp_endpoint"] = f"http://{bind}:4318"
    raw["alerting"] = {"webhook_url": f"http://127.0.0.1:{free_port()}/alerts"}
    path = workdir / "obskit.yaml"
    path.write_text(serialize(path, raw, spec_name=str(DEMO_SPEC_PATH)), encoding="utf-8")
    return path


def compress_time(stack_dir: Path, spec: Spec) -> None:
    """Seconds instead of minutes, nothing else: rules from the generator's short timing,
    Prometheus' scrape and evaluation every second, Alertmanager's waits in seconds."""
    for rel, data in rules.files(spec, timing=rules.DEMO_TIMING).items():
        (stack_dir / rel).write_text(serialize(stack_dir / rel, data), encoding="utf-8")
    prom = stack_dir / "prometheus" / "prometheus.yml"
    config = yaml.safe_load(prom.read_text(encoding="utf-8"))
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    prom.write_text(serialize(prom, config), encoding="utf-8")
    am = stack_dir / "alertmanager" / "alertmanager.yml"
    config = yaml.safe_load(am.read_text(encoding="utf-8"))
    am.write_text(serialize(am, _fast_routes(config)), encoding="utf-8")


def generate(spec_path: Path, stack_dir: Path) -> Path:
    """``obskit init``, as a user runs it."""
    init = subprocess.run(
        [sys.executable, "-m", "obskit", "init", "--spec", str(spec_path), "--out", str(stack_dir)],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )  # fmt: skip
    assert init.returncode == 0, init.stdout + init.stderr
    return stack_dir


def stack_dir_image(stack_dir: Path, service: str) -> str:
    return load_project(stack_dir).services[service].image


def loopback_bind(stack_dir: Path) -> str:
    """127.0.0.1 when every published port is free there, else another loopback address:
    this machine is shared, and OBSKIT_BIND is how a user of compose would move them."""
    ports = [p.host_port for s in load_project(stack_dir).services.values() for p in s.published]
    for address in ["127.0.0.1"] + [f"127.{random.randint(1, 254)}.0.1" for _ in range(20)]:
        if all(_free(address, port) for port in ports):
            return address
    raise RuntimeError(f"ports {ports} are busy on every loopback address tried")


def _free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def require(image_refs: list[str]) -> None:
    missing = missing_requirements(image_refs)
    if missing:
        message = "the end-to-end stack needs " + "; ".join(missing)
        if UNDER_CI:
            pytest.fail(f"{message} (CI=true: a missing server fails)", pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="module", params=BACKENDS)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    from demo_services.load import run_load
    from demo_services.shop import Shop

    backend = request.param
    require([])
    workdir = tmp_path_factory.mktemp(f"stack-{backend}")
    stack_dir = workdir / "stack"
    stack = Stack.open(workdir / "run")
    shop = inbox = traffic = None
    try:
        # The services listen on the host's side of the bridge, as on docker0 with Docker.
        spec_path = write_spec(workdir, backend, "127.0.0.1", stack.host_ip)
        generate(spec_path, stack_dir)
        require([s.image for s in load_project(stack_dir).services.values() if s.name != "grafana"])
        bind = loopback_bind(stack_dir)
        if bind != "127.0.0.1":  # the shop sends OTLP where the Collector is published
            raw = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
            raw["otlp_endpoint"] = f"http://{bind}:4318"
            spec_path.write_text(serialize(spec_path, raw), encoding="utf-8")
        spec = load_spec(spec_path)
        compress_time(stack_dir, spec)
        stack.up(stack_dir, {"OBSKIT_BIND": bind})
        for note in stack.notes:  # a stand-in version, a dependency not run: said, not hidden
            warnings.warn(f"{backend} stack: {note}", stacklevel=1)
        webhook_port = urllib.parse.urlsplit(spec.alerting.webhook_url).port
        inbox = AlertInbox(host=stack.host_ip, port=webhook_port)  # the host side of the bridge
        inbox.start()
        shop = Shop(spec_path, env={"OTEL_BSP_SCHEDULE_DELAY": "500"}, log_dir=workdir / "shop")
        shop.start()
        run_load(shop.url, rate=RATE, duration=CALM_S, checkout_share=0.8)
        calm = _firing(_url(bind, 9090), ALERT)
        _set_gateway_latency(shop, SLOW_GATEWAY_MS)
        # Traffic goes on while the tests look: rates over short windows need fresh requests.
        traffic = Traffic(shop.url)
        traffic.start()
        time.sleep(SLOW_S)
        assert not stack.dead(), f"servers stopped during the run: {stack.dead()}"
        yield Live(backend, spec, spec_path, stack_dir, stack, bind, inbox, calm)
    finally:
        if traffic is not None:
            traffic.stop()
        if shop is not None:
            shop.stop()
        if inbox is not None:
            inbox.stop()
        stack.down()


class Traffic(threading.Thread):
    """The shop's load in the background, a few seconds at a time, until stopped."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.halt = threading.Event()

    def run(self) -> None:
        from demo_services.load import run_load

        while not self.halt.is_set():
            run_load(self.url, rate=RATE, duration=2.0, checkout_share=0.8)

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=30)


def _url(bind: str, port: int) -> str:
    return f"http://{bind}:{port}"


def _set_gateway_latency(shop: Any, latency_ms: float) -> None:
    post_json(f"{shop.member(GATEWAY).url}/admin/faults", {"latency_ms": latency_ms})


def get_json(url: str, params: dict[str, Any] | None = None, timeout: float = 10) -> Any:
    if params:
        url = f"{url}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.load(resp)


def post_json(url: str, body: Any) -> None:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


def query(prometheus: str, expr: str) -> list[dict[str, Any]]:
    answer = get_json(f"{prometheus}/api/v1/query", {"query": expr})
    assert answer["status"] == "success", f"{expr}: {answer}"
    return list(answer["data"]["result"])


def _firing(prometheus: str, alertname: str) -> list[dict[str, Any]]:
    return query(prometheus, f'ALERTS{{alertname="{alertname}",alertstate="firing"}}')


# --- the Collector --------------------------------------------------------------------------


def skip_if_not_run(live: Live, service: str) -> None:
    if service in live.stack.not_run:
        pytest.skip(f"not run: {live.stack.not_run[service]}")


def test_the_collector_accepts_its_config(live: Live) -> None:
    skip_if_not_run(live, COLLECTOR)
    binary = live.stack.containers[COLLECTOR].binary
    config = live.stack_dir / "collectors" / "otel-collector.yaml"
    result = subprocess.run(
        [str(binary), "validate", f"--config={config}"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, f"otelcol validate rejects {config}:\n{result.stderr}"


def test_the_collector_health_endpoint_answers(live: Live) -> None:
    skip_if_not_run(live, COLLECTOR)
    url = f"http://{live.stack.address(COLLECTOR)}:{COLLECTOR_HEALTH_PORT}/"
    with urllib.request.urlopen(url, timeout=5) as resp:
        body = json.load(resp)
    assert resp.status == 200 and body["status"] == "Server available", body


@pytest.mark.parametrize("service", [COLLECTOR, "traces backend", "prometheus", "alertmanager"])
def test_each_healthcheck_passes(live: Live, service: str) -> None:
    name = live.backend if service == "traces backend" else service
    skip_if_not_run(live, name)
    if live.stack.containers[name].service.healthcheck is None:
        pytest.skip(f"{name} has no healthcheck in docker-compose.yml")
    health = live.stack.health(name)
    if not health.ran:
        # Compose could not run it either: the compose validator's finding, not this test's.
        pytest.skip(f"{name}'s healthcheck cannot run in its image: {health.detail}")
    assert health.ok, f"{name}'s healthcheck fails: {health.detail}"


# --- traces ---------------------------------------------------------------------------------


def slowest_checkout(live: Live) -> str:
    """The trace id of the slowest ``POST /checkout`` at the storefront, asked of the backend."""
    deadline = time.monotonic() + DATA_TIMEOUT_S
    while True:
        traces = _checkouts(live)
        if traces or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert traces, f"no checkout traces in {live.backend}; logs in {live.stack.workdir}"
    return max(traces, key=lambda t: t[1])[0]


def _checkouts(live: Live) -> list[tuple[str, float]]:
    start = int(time.time()) - 3600
    if live.backend == "tempo":
        traceql = '{ resource.service.name = "storefront" && name = "POST /checkout" }'
        answer = get_json(f"{live.url(3200)}/api/search",
                          {"q": traceql, "limit": 1000, "start": start, "end": int(time.time())})  # fmt: skip
        return [(t["traceID"], float(t.get("durationMs", 0))) for t in answer.get("traces", [])]
    answer = get_json(f"{live.url(16686)}/api/traces",
                      {"service": "storefront", "operation": "POST /checkout", "limit": 1500,
                       "start": start * 10**6})  # fmt: skip
    return [
        (t["traceID"], max(s["duration"] for s in t["spans"])) for t in answer.get("data") or []
    ]


def test_analyze_flags_the_gateway_hop_from_the_backend(live: Live) -> None:
    skip_if_not_run(live, live.backend)
    trace_id = slowest_checkout(live)
    source = (
        ["--tempo", live.url(3200)] if live.backend == "tempo" else ["--jaeger", live.url(16686)]
    )
    proc = subprocess.run(
        [sys.executable, "-m", "obskit", "analyze", *source, "--trace-id", trace_id,
         "--spec", str(live.spec_path), "--format", "json", "--fail-on-flag"],
        capture_output=True, text=True, timeout=60, cwd=REPO,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr  # --fail-on-flag: a hop is flagged
    report = json.loads(proc.stdout)
    assert report["root"]["service"] == "storefront"
    flagged = [hop for hop in report["hops"] if hop["flagged"]]
    assert flagged, report["hops"]
    top = flagged[0]
    assert (top["caller"], top["callee"], top["external"]) == ("payments", GATEWAY, True)
    assert top["critical_ns"] >= 600_000_000  # the gateway answers in ~800 ms now
    assert top["share"] >= 0.5


# --- metrics --------------------------------------------------------------------------------


def test_prometheus_has_every_target_up(live: Live) -> None:
    config = yaml.safe_load((live.stack_dir / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    deadline = time.monotonic() + DATA_TIMEOUT_S
    while True:
        targets = get_json(f"{live.prometheus}/api/v1/targets")["data"]["activeTargets"]
        down = {
            t["labels"]["job"]: f"{t['scrapeUrl']}: {t['health']} {t.get('lastError', '')}"
            for t in targets
            if t["health"] != "up"
        }
        if not down or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert {t["labels"]["job"] for t in targets} == jobs
    assert down == {}, "targets not up:\n" + "\n".join(f"{j}: {why}" for j, why in down.items())


def test_every_recording_rule_returns_data(live: Live) -> None:
    wanted = [
        selector(rule["record"], rule.get("labels", {}))
        for path in sorted((live.stack_dir / "prometheus" / "rules").glob("*.yml"))
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "record" in rule
    ]
    assert len(wanted) > 100
    empty = _without_data(live, wanted)
    assert empty == [], (
        f"{len(empty)} of {len(wanted)} recording rules without data:\n" + "\n".join(empty)
    )


def test_every_dashboard_panel_query_returns_data(live: Live) -> None:
    # The RED dashboard's `$service` offers the services that serve HTTP (not the mailer).
    services = [s.name for s in live.spec.http_services]
    # A service that calls nothing (inventory, pricing) rightly shows no data on its client
    # call panels: those are asked of the services that made client calls.
    client = vocabulary.HTTP_CLIENT_DURATION
    callers = [
        r["metric"]["job"] for r in query(live.prometheus, f"count by (job) ({client}_count)")
    ]
    assert callers, "no service made an HTTP client call"
    queries = []
    for path in sorted((live.stack_dir / "grafana" / "dashboards").glob("*.json")):
        for expr in grafana.panel_queries(json.loads(path.read_text())):
            values = (callers if client in expr else services) if "service" in expr else [""]
            queries += [
                f"{path.stem}: " + grafana.expand_query(expr, {"service": s}) for s in values
            ]
    assert len(queries) > 20
    by_expr = {q.split(": ", 1)[1]: q for q in queries}
    if live.backend in live.stack.not_run:
        # The Collector's exporter to a backend that is not running never sends a span.
        exporter_panels = [e for e in by_expr if "otelcol_exporter_" in e]
        warnings.warn(f"not asked, {live.backend} not run: {exporter_panels}", stacklevel=1)
        by_expr = {e: q for e, q in by_expr.items() if e not in exporter_panels}
    empty = [by_expr[e] for e in _without_data(live, list(by_expr))]
    assert empty == [], f"{len(empty)} of {len(by_expr)} panel queries without data:\n" + "\n".join(
        empty
    )


def _without_data(live: Live, exprs: list[str]) -> list[str]:
    missing = exprs
    deadline = time.monotonic() + DATA_TIMEOUT_S
    while missing:
        missing = [e for e in missing if not query(live.prometheus, e)]
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(1)
    return missing


# --- alerts ---------------------------------------------------------------------------------


def test_the_gateway_alert_and_the_watchdog_reach_the_webhook(live: Live) -> None:
    assert live.calm_alerts == [], f"{ALERT} fired before the gateway slowed: {live.calm_alerts}"
    wanted = {ALERT, rules.ALERT_WATCHDOG}
    missing = wait_for_alerts(live.inbox, wanted, ALERT_TIMEOUT_S)
    if missing:
        pytest.fail(why_no_alert(live.stack, live.prometheus, live.inbox, missing), pytrace=False)
    alert = next(a for a in live.inbox.firing().values() if a["labels"]["alertname"] == ALERT)
    assert alert["labels"]["service"] == GATEWAY
    assert alert["labels"]["severity"] in ("page", "ticket")
    assert GATEWAY in alert["annotations"]["summary"]


def why_no_alert(stack: Stack, prometheus: str, inbox: AlertInbox, missing: set[str]) -> str:
    """Which part of the way from Prometheus to the webhook broke, in words."""
    assert stack.project is not None
    receiver = f"{stack.host_ip}:{urllib.parse.urlsplit(inbox.url).port}"
    lines = [
        f"{', '.join(sorted(missing))} never reached the webhook receiver on the host "
        f"({receiver}, host.docker.internal in the containers)."
    ]
    am_path = stack.project.directory / "alertmanager" / "alertmanager.yml"
    am_config = yaml.safe_load(am_path.read_text(encoding="utf-8"))
    urls = sorted({
        hook["url"]
        for receiver_body in am_config.get("receivers", [])
        for hook in receiver_body.get("webhook_configs", [])
    })  # fmt: skip
    for url in urls:
        host = urllib.parse.urlsplit(url).hostname or ""
        if host in ("localhost", "::1") or host.startswith("127."):
            lines.append(
                f"Alertmanager posts to {url}: a loopback address, which inside the alertmanager "
                "container is the container itself, not the host. Generate "
                "host.docker.internal (with extra_hosts: host.docker.internal:host-gateway)."
            )
        elif host == "host.docker.internal":
            am = stack.containers["alertmanager"].service
            if am.extra_hosts.get(host) != "host-gateway":
                lines.append(
                    f"Alertmanager posts to {url}, but the alertmanager service has no "
                    "extra_hosts: host.docker.internal:host-gateway, so the name does not resolve."
                )
    for name in sorted(missing):
        fired = _firing(prometheus, name)
        lines.append(f"Prometheus: {name} {'is firing' if fired else 'is not firing'}.")
    failed = failed_webhook_notifications(stack)
    lines.append(f"Alertmanager: {failed:g} webhook requests failed.")
    log = stack.containers["alertmanager"].log_tail(200).splitlines()
    notify = [line for line in log if "notify" in line.lower() and "level=" in line][-2:]
    lines += [f"Alertmanager log: {line}" for line in notify]
    return "\n".join(lines)


def failed_webhook_notifications(stack: Stack) -> float:
    """Alertmanager's own count (its /metrics, inside the compose network)."""
    url = f"http://{stack.address('alertmanager')}:9093/metrics"
    with urllib.request.urlopen(url, timeout=5) as resp:
        text = resp.read().decode()
    prefix = 'alertmanager_notification_requests_failed_total{integration="webhook"'
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix)
    )


def wait_for_alerts(inbox: AlertInbox, wanted: set[str], timeout: float) -> set[str]:
    """The alert names of ``wanted`` that did not arrive firing within ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        missing = wanted - {a["labels"]["alertname"] for a in inbox.firing().values()}
        if not missing or time.monotonic() > deadline:
            return missing
        time.sleep(1)


def test_a_loopback_webhook_url_fails_with_a_message_that_says_so(tmp_path: Path) -> None:
    """Broken on purpose: the webhook URL as the spec gives it (127.0.0.1, the host's
    loopback), not as a container reaches the host. The Watchdog, which fires at once, never
    arrives, and the failure message of the test above names the loopback URL."""
    require([])
    stack = Stack.open(tmp_path / "run")
    inbox = None
    try:
        spec_path = write_spec(tmp_path, "tempo", "127.0.0.1", None)  # no services run here
        stack_dir = generate(spec_path, tmp_path / "stack")
        require(
            [stack_dir_image(stack_dir, "prometheus"), stack_dir_image(stack_dir, "alertmanager")]
        )
        spec = load_spec(spec_path)
        compress_time(stack_dir, spec)
        am = stack_dir / "alertmanager" / "alertmanager.yml"
        config = yaml.safe_load(am.read_text(encoding="utf-8"))
        for receiver in config["receivers"]:
            for hook in receiver.get("webhook_configs", []):
                hook["url"] = spec.alerting.webhook_url
        am.write_text(serialize(am, config), encoding="utf-8")
        bind = loopback_bind(stack_dir)
        stack.up(stack_dir, {"OBSKIT_BIND": bind}, services=["prometheus"])
        inbox = AlertInbox(
            host=stack.host_ip, port=urllib.parse.urlsplit(spec.alerting.webhook_url).port
        )
        inbox.start()
        # Prometheus' first notification goes out before it has found Alertmanager and is
        # resent a minute later; post the Watchdog as Prometheus would, not to wait for it.
        watchdog = {rules.ALERT_WATCHDOG}
        deadline = time.monotonic() + DATA_TIMEOUT_S
        while not (firing := _firing(_url(bind, 9090), rules.ALERT_WATCHDOG)):
            assert time.monotonic() < deadline, "Prometheus does not fire the Watchdog"
            time.sleep(0.5)
        labels = {
            k: v for k, v in firing[0]["metric"].items() if k not in ("__name__", "alertstate")
        }
        post_json(f"{_url(bind, 9093)}/api/v2/alerts", [{"labels": labels}])
        deadline = time.monotonic() + 30
        while failed_webhook_notifications(stack) == 0 and time.monotonic() < deadline:
            time.sleep(0.5)  # until Alertmanager has tried to deliver it
        assert wait_for_alerts(inbox, watchdog, 0) == watchdog, "the Watchdog arrived anyway"
        message = why_no_alert(stack, _url(bind, 9090), inbox, watchdog)
        assert f"Alertmanager posts to {spec.alerting.webhook_url}: a loopback address" in message
        assert "Prometheus: Watchdog is firing." in message
        assert "Alertmanager: 0 webhook" not in message, message
    finally:
        if inbox is not None:
            inbox.stop()
        stack.down()
