"""Traffic for the demo shop: ``python -m demo_services.load --rate 20 --duration 60``.

An open-loop generator: requests start on a fixed schedule (``rate`` per second) whether or
not earlier ones have finished, as real users arrive, and each latency is measured from its
*scheduled* start, so a slow shop cannot hide its slowness by slowing the load down
(coordinated omission). Locust is the ecosystem's standard, but it is closed-loop per simulated
user, brings gevent (which monkey-patches the process) and ~15 packages, and takes about a
second to start; this needs a thread pool, requests and rich's progress bar, all already here.
"""

from __future__ import annotations

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
) -> LoadResult:
    """Send ``rate`` requests per second for ``duration`` seconds; wait for the last answers."""
    if rate <= 0 or duration <= 0:
        raise ValueError("rate and duration must be positive")
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
            scheduled = start + i / rate
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
@click.option("--rate", type=click.FloatRange(min=0.1, max=2000), default=10, show_default=True,
              help="Requests per second.")  # fmt: skip
@click.option("--duration", type=click.FloatRange(min=0.1, max=86400), default=30,
              show_default=True, help="Seconds.")  # fmt: skip
@click.option("--checkout-share", type=click.FloatRange(0, 1), default=0.7, show_default=True,
              help="Share of requests that are POST /checkout (the rest GET /).")  # fmt: skip
def main(url: str, rate: float, duration: float, checkout_share: float) -> None:
    """Send open-loop traffic to the demo shop, with a progress bar and a summary."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    try:
        requests.get(f"{url.rstrip('/')}/healthz", timeout=2).raise_for_status()
    except requests.RequestException:
        raise click.ClickException(
            f"the shop does not answer at {url} (start it with: python -m demo_services)"
        ) from None
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
               TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, transient=False) as progress:
        task = progress.add_task(f"{rate:g}/s for {duration:g}s", total=1.0, info="")

        def tick(done: float, so_far: LoadResult) -> None:
            answered = sum(so_far.statuses.values())
            info = f"sent {so_far.sent}, ok {so_far.ok}, failed {answered - so_far.ok}"
            progress.update(task, completed=done, info=info)

        result = run_load(url, rate=rate, duration=duration, checkout_share=checkout_share,
                          on_tick=tick)  # fmt: skip
        progress.update(task, completed=1.0)
    click.echo(result.summary())


if __name__ == "__main__":
    main(prog_name="python -m demo_services.load")
