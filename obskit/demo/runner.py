"""`obskit demo`: the whole loop on one machine, no Docker.

It starts the embedded trace backend, the demo shop under `obskit instrument`, Prometheus and
Alertmanager (when installed) with configs generated from the demo spec, drives traffic,
slows the payment gateway midway, then analyses the slowest checkout and shows the alerts.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from obskit.demo.inbox import AlertInbox
from obskit.demo.plan import DEMO_SPEC, DemoPlan, make_plan
from obskit.demo.processes import Supervisor
from obskit.errors import BackendError, CheckFailed, InputError

SLOW_GATEWAY_MS = 800
RATE = 6.0  # requests/s: enough for every alert window, light on a 2-core laptop
INSTALL_HINT = "apt-get install prometheus prometheus-alertmanager"


class Demo:
    def __init__(
        self,
        duration: float,
        *,
        workdir: Path | None = None,
        say: Callable[[str], None] = print,
        spec_source: Path = DEMO_SPEC,
    ) -> None:
        if duration < 10:
            raise InputError(f"--duration {duration:g} is too short; use at least 10 seconds")
        self.duration = duration
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="obskit-demo-"))
        self.say = say
        self.spec_source = spec_source
        self.inbox = AlertInbox()
        self.supervisor = Supervisor(self.workdir / "logs")
        self.shop: Any = None
        self.plan: DemoPlan | None = None
        self.has_prometheus = bool(shutil.which("prometheus"))
        self.has_alertmanager = bool(shutil.which("prometheus-alertmanager"))

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> DemoPlan:
        self.inbox.start()
        plan = self.plan = make_plan(self.workdir, self.inbox.url, self.spec_source)
        self._start_backend(plan)
        if self.has_alertmanager:
            self._start_alertmanager(plan)
        if self.has_prometheus:
            self._start_prometheus(plan)
        if not (self.has_prometheus and self.has_alertmanager):
            self.say(f"Prometheus/Alertmanager not installed: no alerts this time ({INSTALL_HINT})")
        self._start_shop(plan)
        return plan

    def stop(self) -> None:
        if self.shop is not None:
            self.shop.stop()
            self.shop = None
        self.supervisor.stop_all()
        self.inbox.stop()

    # --- the story -------------------------------------------------------------------------

    def run_traffic(self, progress: Callable[[float, str], None]) -> str:
        """Traffic for ``duration`` seconds; the gateway slows down halfway."""
        from demo_services.load import run_load

        assert self.plan is not None
        slowed = False

        def tick(done: float, result: Any) -> None:
            nonlocal slowed
            if not slowed and done >= 0.5:
                slowed = True
                set_gateway_latency(self.plan, SLOW_GATEWAY_MS)
                progress(done, f"payments-gateway now answers in ~{SLOW_GATEWAY_MS} ms")
            else:
                progress(done, "")
            self._check_alive()

        result = run_load(self.plan.storefront_url, rate=RATE, duration=self.duration,
                          checkout_share=0.8, on_tick=tick)  # fmt: skip
        return str(result.summary())

    def wait_for_alert(self, alertname: str, timeout: float) -> bool:
        if not (self.has_prometheus and self.has_alertmanager):
            return False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(a["labels"].get("alertname") == alertname for a in self.inbox.firing().values()):
                return True
            time.sleep(0.5)
        return False

    def slowest_checkout(self) -> str:
        """The trace id of the slowest `POST /checkout` at the storefront."""
        import requests

        assert self.plan is not None
        params = {"service": "storefront", "operation": "POST /checkout", "limit": 1500,
                  "start": (time.time_ns() - 3600 * 10**9) // 1000}  # fmt: skip
        deadline = time.monotonic() + 20
        while True:
            response = requests.get(f"{self.plan.query_url}/api/traces", params=params, timeout=30)
            response.raise_for_status()
            traces = response.json()["data"] or []
            if traces or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        if not traces:
            raise CheckFailed("no checkout traces reached the backend; see the logs in "
                              f"{self.supervisor.log_dir}")  # fmt: skip

        def root_duration(trace: dict[str, Any]) -> int:
            return max(span["duration"] for span in trace["spans"])

        return str(max(traces, key=root_duration)["traceID"])

    def analyze(self, trace_id: str) -> Any:
        from obskit.analysis import analyze_trace
        from obskit.ingest import read_trace
        from obskit.sources.http import HttpClient
        from obskit.sources.jaeger import JaegerSource

        assert self.plan is not None
        source = JaegerSource(self.plan.query_url, HttpClient())
        try:
            payload = source.fetch(trace_id)
        finally:
            source.close()
        trace = read_trace(payload.data, trace_id=trace_id)
        names = {e.address: e.name for e in self.plan.spec.external}
        return analyze_trace(trace, external_names=names)

    # --- processes -------------------------------------------------------------------------

    def _start_backend(self, plan: DemoPlan) -> None:
        self.supervisor.start("obskit-serve", [
            sys.executable, "-m", "obskit", "serve", "--otlp-port", str(plan.otlp_port),
            "--query-port", str(plan.query_port), "--data-dir", str(plan.workdir / "traces"),
            "--grpc-port", "0",  # the shop exports OTLP/HTTP; 4317 may belong to someone else
        ])  # fmt: skip
        self._wait("obskit-serve", f"{plan.query_url}/health")

    def _start_alertmanager(self, plan: DemoPlan) -> None:
        self.supervisor.start("alertmanager", [
            "prometheus-alertmanager", f"--config.file={plan.alertmanager_config}",
            f"--storage.path={plan.workdir / 'alertmanager-data'}",
            f"--web.listen-address=127.0.0.1:{plan.alertmanager_port}",
            f"--web.external-url={plan.alertmanager_url}/",
            "--cluster.listen-address=", "--log.level=warn",
        ])  # fmt: skip
        self._wait("alertmanager", f"{plan.alertmanager_url}/-/ready")

    def _start_prometheus(self, plan: DemoPlan) -> None:
        self.supervisor.start("prometheus", [
            "prometheus", f"--config.file={plan.prometheus_config}",
            f"--storage.tsdb.path={plan.workdir / 'prometheus-data'}",
            f"--web.listen-address=127.0.0.1:{plan.prometheus_port}",
            f"--web.external-url={plan.prometheus_url}/", "--log.level=warn",
        ])  # fmt: skip
        self._wait("prometheus", f"{plan.prometheus_url}/-/ready")

    def _start_shop(self, plan: DemoPlan) -> None:
        from demo_services.shop import Shop

        env = {"OTEL_BSP_SCHEDULE_DELAY": "500"}
        self.shop = Shop(plan.spec_path, env=env, log_dir=self.supervisor.log_dir)
        self.shop.start()

    def _wait(self, name: str, url: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=1):
                    return
            except OSError:
                if self.supervisor.dead():
                    break
                time.sleep(0.1)
        why = self.supervisor.last_line(name) or "no output"
        raise BackendError(f"{name} did not start: {why}",
                           hint=f"its log: {self.supervisor.log_path(name)}")  # fmt: skip

    def _check_alive(self) -> None:
        for name, code in self.supervisor.dead():
            raise BackendError(f"{name} stopped with exit code {code}: "
                               f"{self.supervisor.last_line(name)}")  # fmt: skip
        if self.shop is not None and self.shop.dead():
            name, code = self.shop.dead()[0]
            raise BackendError(f"{name} stopped with exit code {code}: {self.shop.last_line(name)}")


def set_gateway_latency(plan: DemoPlan, latency_ms: float) -> None:
    import requests

    response = requests.post(f"{plan.gateway_url}/admin/faults",
                             json={"latency_ms": latency_ms}, timeout=5)  # fmt: skip
    response.raise_for_status()
