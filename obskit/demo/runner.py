"""`obskit demo`: the whole loop on one machine, no Docker.

It starts the embedded trace backend, the demo shop under `obskit instrument`, Prometheus and
Alertmanager (when installed) with configs generated from the demo spec, drives traffic,
slows the payment gateway midway, then analyses the slowest checkout and shows the alerts.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from obskit.demo.inbox import AlertInbox
from obskit.demo.plan import DEMO_SPEC, DemoPlan, make_plan
from obskit.demo.processes import Supervisor
from obskit.errors import BackendError, CheckFailed, InputError

if TYPE_CHECKING:
    from demo_services.faults import FaultSwitch, Injection

SLOW_GATEWAY_MS = 800
RATE = 6.0  # requests/s: enough for every alert window, light on a 2-core laptop
FAULT_RATE = 8.0  # with --fault: enough checkouts in each half for its percentiles
# Requests start in groups, as a flash sale's shoppers do: spaced evenly, one at a time, the
# checkouts never overlap at payments (its charge holds a connection ~60 ms, a checkout comes
# every ~150 ms), so a pool of one connection would never run dry and db-pool=1 change nothing.
# Groups of 4 queued ~60 ms on a quiet machine but only ~30 ms at a load average of 25, where
# the scheduler spreads a group's charges out; groups of 8 keep ~100 ms there.
GROUP = 8
CHECKOUT = ("storefront", "POST /checkout")  # the endpoint the fault report is about
WARM_UP = 0.15  # share of the run before the clean window starts
WARM_UP_S = 5.0  # traffic before the run: pools open their connections, caches fill
SETTLE_S = 2.0  # after injecting: requests already in flight finish
FAULT_SLOW_FACTOR = 3.0
EXPORT_DELAY_MS = 500  # how often the shop's batch span processors export
# Each process exports a trace's spans on its own schedule: a window is read once its end is
# this far in the past, or its last traces lack a service's spans (CI saw a clean run flag
# "storefront → 127.0.0.1" as new on the path: client spans whose server spans were not in yet).
FLUSH_S = 4 * EXPORT_DELAY_MS / 1000
INSTALL_HINT = "apt-get install prometheus prometheus-alertmanager"


class Demo:
    def __init__(
        self,
        duration: float,
        *,
        workdir: Path | None = None,
        say: Callable[[str], None] = print,
        spec_source: Path = DEMO_SPEC,
        faults: Sequence[Injection] = (),
        rate: float = RATE,
    ) -> None:
        """``faults``: inject these midway instead of the story's slow gateway, and report on
        the checkout endpoint before and after (:meth:`fault_report`)."""
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
        self.faults = list(faults)
        self.rate = rate
        self.switch: FaultSwitch | None = None
        # (start_ns, end_ns) of the clean and the faulty windows, set by run_traffic
        self.windows: dict[str, tuple[int, int]] = {}

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
        # what is measured must not be the shop's first seconds (connections, empty caches)
        self.warm_up()
        return plan

    def warm_up(self, seconds: float = WARM_UP_S) -> None:
        """Traffic that is not measured: pools open their connections, caches fill."""
        from demo_services.load import run_load

        assert self.plan is not None
        run_load(self.plan.storefront_url, rate=self.rate, duration=seconds, checkout_share=0.8,
                 group=GROUP)  # fmt: skip

    def stop(self) -> None:
        if self.switch is not None:
            with contextlib.suppress(Exception):  # everything stops next anyway
                self.switch.clear()
            self.switch = None
        if self.shop is not None:
            self.shop.stop()
            self.shop = None
        self.supervisor.stop_all()
        self.inbox.stop()

    # --- the story -------------------------------------------------------------------------

    def run_traffic(self, progress: Callable[[float, str], None]) -> str:
        """Traffic for ``duration`` seconds; halfway the gateway slows down, or the faults
        given are injected."""
        summary, self.windows = self.run_episode(self.faults, self.duration, progress)
        return summary

    def run_episode(
        self,
        faults: Sequence[Injection],
        duration: float,
        progress: Callable[[float, str], None] | None = None,
    ) -> tuple[str, dict[str, tuple[int, int]]]:
        """Traffic for ``duration`` seconds with ``faults`` injected halfway (none: the
        story's slow gateway); the summary and the clean and faulty windows (ns)."""
        from demo_services.load import run_load

        assert self.plan is not None
        started_ns = time.time_ns()
        injected_ns = 0

        def tick(done: float, result: Any) -> None:
            nonlocal injected_ns
            note = ""
            if not injected_ns and done >= 0.5:
                injected_ns = time.time_ns()
                note = self._inject(faults)
            if progress is not None:
                progress(done, note)
            self._check_alive()

        result = run_load(self.plan.storefront_url, rate=self.rate, duration=duration,
                          checkout_share=0.8, on_tick=tick, group=GROUP)  # fmt: skip
        injected_ns = injected_ns or time.time_ns()
        clean_from = started_ns + int((injected_ns - started_ns) * WARM_UP / 0.5)
        # the group started just before the injection meets the fault in flight: not clean
        last_group_ns = min(int(GROUP / self.rate / 2 * 1e9), (injected_ns - clean_from) // 2)
        windows = {
            "clean": (clean_from, injected_ns - last_group_ns),
            "faulty": (injected_ns + int(SETTLE_S * 1e9), time.time_ns()),
        }
        return str(result.summary()), windows

    def _inject(self, faults: Sequence[Injection]) -> str:
        assert self.plan is not None
        if not faults:
            set_gateway_latency(self.plan, SLOW_GATEWAY_MS)
            return f"payments-gateway now answers in ~{SLOW_GATEWAY_MS} ms"
        assert self.switch is not None
        for fault in faults:
            self.switch.on(fault)
        return "injected " + ", ".join(f.text for f in faults)

    def fault_report(self, windows: dict[str, tuple[int, int]] | None = None) -> Any:
        """The aggregate report of the checkout endpoint over the faulty window, compared with
        the clean window before it: hops are flagged by what changed, not by their share
        (a healthy checkout spends half its time at the gateway), and
        ``report.comparison.changes`` ranks them by the change in mean CP time (see
        :func:`slowed_hops`)."""
        from dataclasses import replace

        from obskit.aggregate.compare import compare

        windows = windows or self.windows
        clean = self._aggregate(windows["clean"])
        faulty = self._aggregate(windows["faulty"])
        report = faulty.report(baseline=clean.baseline())
        return replace(report, comparison=compare("before the fault", report, clean.report()))

    def _aggregate(self, window: tuple[int, int]) -> Any:
        from obskit.aggregate.run import new_aggregator
        from obskit.aggregate.sample import Endpoint
        from obskit.collect import collect
        from obskit.sources.http import HttpClient
        from obskit.sources.jaeger import JaegerSource
        from obskit.sources.query import Query

        assert self.plan is not None and self.shop is not None
        service, operation = CHECKOUT
        time.sleep(max(0.0, (window[1] - time.time_ns()) / 1e9 + FLUSH_S))
        # share never flags here: the report is about what the fault changed; and a hop must
        # at least triple its p50 (a busy 2-core machine doubles some on its own)
        aggregator = new_aggregator(
            Endpoint(service, operation), threshold=1.0, slow_factor=FAULT_SLOW_FACTOR
        )
        source = JaegerSource(self.plan.query_url, HttpClient())
        try:
            collect(aggregator, source, Query(service, operation, window[0], window[1], 2000),
                    external_names=self.shop.external_names)  # fmt: skip
        finally:
            source.close()
        return aggregator

    def wait_for_alert(self, alertname: str, timeout: float) -> bool:
        if not (self.has_prometheus and self.has_alertmanager):
            return False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.inbox.ever_fired(alertname):
                return True
            time.sleep(0.5)
        return False

    def slowest_checkout(self) -> str:
        """The trace id of a slow `POST /checkout` at the storefront: the 90th percentile."""
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

        # The 90th percentile, not the maximum: half the checkouts met the slow gateway, and
        # the very slowest is often a stall of a busy machine rather than the story.
        ordered = sorted(traces, key=root_duration)
        return str(ordered[int(0.9 * (len(ordered) - 1))]["traceID"])

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
        from demo_services.faults import FaultSwitch
        from demo_services.shop import Shop

        env = {"OTEL_BSP_SCHEDULE_DELAY": str(EXPORT_DELAY_MS)}
        self.shop = Shop(plan.spec_path, env=env, log_dir=self.supervisor.log_dir)
        self.shop.start()
        note = self.shop.backends.fallback_note
        if note:
            self.say(note)
        self.switch = FaultSwitch(self.shop)
        for fault in self.faults:  # a fault whose server is missing: say so before the run
            self.switch.check_server(fault)

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


def slowed_hops(report: Any) -> list[tuple[str, str]]:
    """The hops that got slower in the faulty window, the most slowed first: where the
    injected fault is (a hop that got faster is not a fault)."""
    changes = report.comparison.changes if report.comparison else ()
    slowed = [c for c in changes if c.kind == "hop" and c.change_ns > 0]
    return [c.name for c in sorted(slowed, key=lambda c: -c.change_ns)]
