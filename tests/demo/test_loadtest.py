"""The load test's verdict and table, on figures made by hand (no Locust run): it fails when
the storefront's SLOs are broken at 1x the peak, or when the shop did not serve the peak."""

from __future__ import annotations

import json

from demo_services.loadreport import Phase, Plan, Result, broken, table, to_json

SLO = {"availability": 99.9, "latency_ms": 500.0, "latency_target": 99.0}
PLAN = Plan(users=20, spawn_rate=10, duration=60, peak=10)


def result(latencies_1x: list[float], failures: int = 0, seconds: float = 29.0) -> Result:
    one = Phase(seconds, {"GET /": latencies_1x}, {"GET /": failures} if failures else {})
    two = Phase(28.0, {"GET /": [100.0] * 600, "POST /checkout": [900.0] * 60})
    return Result(PLAN, {"1x": one, "2x": two})


def test_met_at_1x_even_when_2x_is_slow() -> None:
    # 290 requests in 29 s = the peak; 99 % within 500 ms; the 2x phase is slow, which is
    # what it is for: it is reported, not judged
    fine = result([100.0] * 288 + [600.0] * 2)
    assert broken(fine, SLO) == ""
    assert table(fine, SLO).splitlines()[-1].endswith(": met")


def test_latency_objective_broken_at_1x() -> None:
    slow = result([100.0] * 280 + [600.0] * 10)
    assert broken(slow, SLO) == "96.6 % of requests within 500 ms < 99 %"


def test_availability_objective_broken_at_1x() -> None:
    failing = result([100.0] * 290, failures=1)
    assert broken(failing, SLO) == "availability 99.66 % < 99.9 %"


def test_a_peak_the_shop_cannot_serve_is_a_failure() -> None:
    starved = result([100.0] * 100)
    assert broken(starved, SLO) == "served 3.4 requests/s of the 10 asked"


def test_the_plan_ramps_to_twice_the_peak() -> None:
    assert PLAN.phase_users("1x") == 10 and PLAN.phase_users("2x") == 20
    assert PLAN.per_user_rps * PLAN.users == 2 * PLAN.peak
    assert PLAN.window("1x") == (1.0, 30.0)  # measured once its 10 users run
    assert PLAN.window("2x") == (31.0, 60.0)


def test_table_and_json_list_every_phase_and_request() -> None:
    r = result([100.0] * 290)
    lines = table(r, SLO).splitlines()
    assert lines[1].split()[:3] == ["phase", "request", "reqs"]
    assert any(line.startswith("2x     POST /checkout") for line in lines)
    figures = json.loads(to_json(r, SLO))
    rows = {(row["phase"], row["name"]): row for row in figures["rows"]}
    assert rows[("2x", "POST /checkout")]["p50_ms"] == 900.0
    assert rows[("1x", "POST /cart")]["p50_ms"] is None  # no such request: null, not NaN
    assert figures["broken"] is None
