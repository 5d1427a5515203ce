"""The load test at 1x and 2x the declared peak, with Locust as a library (headless).

Each simulated user keeps a constant pace (Locust's ``constant_throughput``) so that
``users / 2`` of them make the declared peak and ``users`` make twice that. The mix is a
shop's: mostly browsing (the product list, priced from the cache), some adding to the cart,
a few checking out. Every request is recorded with the phase it started in; the figures of a
phase count only requests started after its users were all running.

Imported by ``python -m demo_services.load`` after gevent has patched the standard library.
"""

from __future__ import annotations

import random
import time
from typing import Any

from locust import HttpUser, LoadTestShape, constant_throughput, task
from locust.env import Environment

from demo_services.loadreport import MIX, PHASES, Phase, Plan, Result

SKUS = ("tea", "coffee", "mug", "teapot")


def run(url: str, plan: Plan) -> Result:
    started = time.monotonic()
    phases = {p: Phase(plan.window(p)[1] - plan.window(p)[0]) for p in PHASES}

    class Shopper(HttpUser):
        host = url
        wait_time = constant_throughput(plan.per_user_rps)

        @task(MIX["GET /"])
        def browse(self) -> None:
            self.client.get("/", name="GET /")

        @task(MIX["POST /cart"])
        def add_to_cart(self) -> None:
            item = {"sku": random.choice(SKUS), "qty": random.randint(1, 3)}
            self.client.post("/cart", json=item, name="POST /cart")

        @task(MIX["POST /checkout"])
        def checkout(self) -> None:
            order = {"sku": random.choice(SKUS), "qty": random.randint(1, 3)}
            self.client.post("/checkout", json=order, name="POST /checkout")

    class TwoSteps(LoadTestShape):
        def tick(self) -> tuple[int, float] | None:
            elapsed = self.get_run_time()
            if elapsed >= plan.duration:
                return None
            phase = "1x" if elapsed < plan.duration / 2 else "2x"
            return plan.phase_users(phase), plan.spawn_rate

    env = Environment(user_classes=[Shopper], shape_class=TwoSteps(), host=url)

    def record(request_type: str, name: str, response_time: float, response_length: int,
               exception: Any = None, **kwargs: Any) -> None:  # fmt: skip
        at = time.monotonic() - started - response_time / 1000  # when it was sent
        for phase in PHASES:
            low, high = plan.window(phase)
            if low <= at < high:
                figures = phases[phase]
                figures.latencies_ms.setdefault(name, []).append(response_time)
                if exception is not None:
                    figures.failures[name] = figures.failures.get(name, 0) + 1

    env.events.request.add_listener(record)
    runner = env.create_local_runner()
    runner.start_shape()
    assert runner.shape_greenlet is not None
    runner.shape_greenlet.join()
    runner.quit()
    return Result(plan, phases)
