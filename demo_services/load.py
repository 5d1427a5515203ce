"""Traffic for the demo shop.

``python -m demo_services.load --users 20 --spawn-rate 10 --duration 60 --peak 10`` is the
load test: Locust, headless, with a realistic mix (mostly browsing, whose prices come from the
cache; adding to the cart; checking out), that holds the declared peak for the first half and
twice the peak for the second. It prints the percentile table of each phase, writes it with
``--report FILE`` (and ``--json FILE``), and exits 1 when the storefront's SLOs in the spec are
broken at 1x the peak (or the shop cannot serve the peak at all).

:func:`run_load` is the steady open-loop traffic `obskit demo` uses while it injects faults:
requests start on a fixed schedule whether or not earlier ones have finished, and each latency
is measured from its *scheduled* start, so a slow shop cannot hide its slowness by slowing the
load down (coordinated omission), which a closed-loop Locust user would.
"""

if __name__ == "__main__":  # Locust's gevent must patch the standard library before any import
    from gevent import monkey

    monkey.patch_all()


import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import click
import requests

from demo_services.common import DEFAULT_PORTS

SKUS = ("tea", "coffee", "mug", "teapot")
MAX_IN_FLIGHT = 256  # requests outstanding at once; more are counted as dropped


@dataclass
class LoadResult:
    sent: int = 0
    dropped: int = 0  # not sent: MAX_IN_FLIGHT requests were still outstanding
    statuses: Counter[str] = field(default_factory=Counter)  # "200", "502", "error"
    latencies_ms: list[float] = field(default_factory=list)
    elapsed_s: float = 0.0

    def quantile(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if status.startswith("2"))

    def summary(self) -> str:
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items()))
        return (
            f"{self.sent} requests in {self.elapsed_s:.1f} s "
            f"({self.sent / max(self.elapsed_s, 1e-9):.1f}/s)"
            f"; {statuses or 'no answers'}; latency p50 {self.quantile(0.5):.0f} ms, "
            f"p95 {self.quantile(0.95):.0f} ms, p99 {self.quantile(0.99):.0f} ms"
            + (f"; {self.dropped} dropped (too many in flight)" if self.dropped else "")
        )


def shop_request(base_url: str, checkout_share: float) -> Callable[[requests.Session], Any]:
    """One user action: browse (``GET /``) or buy (``POST /checkout``)."""

    def act(session: requests.Session) -> requests.Response:
        if random.random() < checkout_share:
            order = {"sku": random.choice(SKUS), "qty": random.randint(1, 3)}
            return session.post(f"{base_url}/checkout", json=order, timeout=30)
        return session.get(f"{base_url}/", timeout=30)

    return act


def run_load(
    base_url: str,
    *,
    rate: float,
    duration: float,
    checkout_share: float = 0.7,
    on_tick: Callable[[float, LoadResult], None] | None = None,
    group: int = 1,
) -> LoadResult:
    """Send ``rate`` requests per second for ``duration`` seconds; wait for the last answers.

    ``group``: the requests start ``group`` at a time, at the same instant, ``rate / group``
    times a second (a flash sale's shoppers press "buy" together). Evenly spaced single
    requests never overlap in a service that answers faster than they arrive, so nothing
    in the shop would ever wait for a shared resource such as a one-connection pool."""
    if rate <= 0 or duration <= 0 or group < 1:
        raise ValueError("rate and duration must be positive, group at least 1")
    act = shop_request(base_url.rstrip("/"), checkout_share)
    result = LoadResult()
    lock = threading.Lock()
    local = threading.local()
    in_flight = threading.BoundedSemaphore(MAX_IN_FLIGHT)

    def one(scheduled: float) -> None:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        try:
            status = str(act(local.session).status_code)
        except requests.RequestException:
            status = "error"
        finally:
            in_flight.release()
        latency = (time.monotonic() - scheduled) * 1000
        with lock:
            result.statuses[status] += 1
            result.latencies_ms.append(latency)

    total = max(1, round(rate * duration))
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=min(MAX_IN_FLIGHT, 64)) as pool:
        for i in range(total):
            scheduled = start + (i - i % group) / rate
            delay = scheduled - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if not in_flight.acquire(blocking=False):
                result.dropped += 1
                continue
            result.sent += 1
            pool.submit(one, scheduled)
            if on_tick is not None:
                on_tick((i + 1) / total, result)
    result.elapsed_s = time.monotonic() - start
    return result


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--url", default=f"http://127.0.0.1:{DEFAULT_PORTS['storefront']}", show_default=True,
              help="The storefront.")  # fmt: skip
@click.option("--users", type=click.IntRange(2, 10_000), default=20, show_default=True,
              help="Simulated users at 2x the peak (half of them at 1x).")  # fmt: skip
@click.option("--spawn-rate", type=click.FloatRange(min=0.1), default=10, show_default=True,
              help="Users started per second.")  # fmt: skip
@click.option("--duration", type=click.FloatRange(min=4, max=86400), default=60,
              show_default=True,
              help="Seconds: the first half at 1x the peak, the second at 2x.")  # fmt: skip
@click.option("--peak", type=click.FloatRange(min=0.1), default=10, show_default=True,
              help="The declared peak, in requests per second.")  # fmt: skip
@click.option("--spec", "spec_path", default=None, metavar="PATH",
              help="Where the storefront's SLOs are [default: the demo spec].")  # fmt: skip
@click.option("--report", "report_path", default=None, metavar="FILE",
              help="Also write the table to FILE.")  # fmt: skip
@click.option("--json", "json_path", default=None, metavar="FILE",
              help="Also write the figures as JSON to FILE.")  # fmt: skip
def main(
    url: str,
    users: int,
    spawn_rate: float,
    duration: float,
    peak: float,
    spec_path: str | None,
    report_path: str | None,
    json_path: str | None,
) -> None:
    """Load-test the demo shop at 1x and then 2x its declared peak, with Locust."""
    from demo_services import loadreport, loadtest

    try:
        requests.get(f"{url.rstrip('/')}/healthz", timeout=2).raise_for_status()
    except requests.RequestException:
        raise click.ClickException(
            f"the shop does not answer at {url} (start it with: python -m demo_services)"
        ) from None
    slo = loadreport.storefront_slo(spec_path)
    plan = loadreport.Plan(users=users, spawn_rate=spawn_rate, duration=duration, peak=peak)
    result = loadtest.run(url, plan)
    table = loadreport.table(result, slo)
    click.echo(table)
    for path, text in ((report_path, table), (json_path, loadreport.to_json(result, slo))):
        if path:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            click.echo(f"Wrote {path}", err=True)
    broken = loadreport.broken(result, slo)
    if broken:
        click.echo(f"SLO broken at 1x the peak: {broken}", err=True)
        raise SystemExit(1)


if __name__ == "__main__":
    main(prog_name="python -m demo_services.load")
