"""The data tier behind the services: database connection pools, caches and message queues.

Recording rules, three alerts with their promtool tests, and the "Dependencies" dashboard, all
on metrics named after OpenTelemetry's semantic conventions in Prometheus form
(``db.client.connection.*``, ``messaging.*``), which a service exports from its
instrumentation where one measures them, or from its own prometheus-client metrics (the demo
shop's :mod:`demo_services.metrics`):

    db_client_connection_count{db_client_connection_pool_name, db_client_connection_state}
    db_client_connection_max{db_client_connection_pool_name}
    db_client_connection_pending_requests{db_client_connection_pool_name}
    db_client_connection_wait_time_seconds_bucket{db_client_connection_pool_name, le}
    cache_requests_total{cache, result="hit"|"miss"|"error"}
    messaging_queue_depth{messaging_destination_name}
    messaging_consumer_lag_seconds{messaging_destination_name}

A service without such metrics simply has no series here: the alerts stay silent.
"""

from __future__ import annotations

from typing import Any

from obskit.stack import vocabulary as v
from obskit.stack.promql import duration, number
from obskit.stack.spec import Spec

RULE_FILE = "dependencies"
GROUP = "obskit-dependencies"
ALERT_POOL_SATURATED = "DBPoolSaturated"
ALERT_CACHE_COLLAPSED = "CacheHitRatioCollapsed"
ALERT_QUEUE_BACKLOG = "QueueBacklogGrowing"
POOL_BUSY = 0.9  # share of the pool's connections in use
POOL_WAIT_S = 0.05  # p95 wait for a connection
CACHE_HIT_FLOOR = 0.5
CACHE_MIN_LOOKUPS = 10  # per window: a near-idle cache does not alert
QUEUE_BACKLOG = 20  # messages ready and not consumed

POOL = v.POOL_NAME
JOB_POOL = f"job, {POOL}"
JOB_CACHE = f"job, {v.CACHE_NAME}"
JOB_QUEUE = f"job, {v.QUEUE_NAME}"


def _names(window_s: int) -> dict[str, str]:
    w = duration(window_s)
    return {
        "pool_usage": f"pool:{v.POOL_COUNT}:usage_ratio_avg{w}",
        "pool_wait": f"pool:{v.POOL_WAIT}:p95_rate{w}",
        "cache_hits": f"cache:{v.CACHE_REQUESTS}:hit_ratio_rate{w}",
        "cache_rate": f"cache:{v.CACHE_REQUESTS}:rate{w}",
        "queue_growth": f"queue:{v.QUEUE_DEPTH}:deriv{w}",
    }


def group(spec: Spec, window_s: int, for_: str) -> dict[str, Any]:
    """Recordings per pool, cache and queue over ``window_s``; alerts that hold ``for_``."""
    w = duration(window_s)
    n = _names(window_s)
    used = f'{v.POOL_COUNT}{{{v.POOL_STATE}="used"}}'
    rules: list[dict[str, Any]] = [
        {"record": n["pool_usage"], "expr": (
            f"sum by ({JOB_POOL}) (avg_over_time({used}[{w}]))\n"
            f"/ sum by ({JOB_POOL}) ({v.POOL_MAX})")},
        {"record": n["pool_wait"], "expr": (
            f"histogram_quantile(0.95, sum by (le, {JOB_POOL}) "
            f"(rate({v.POOL_WAIT}_bucket[{w}])))")},
        {"record": n["cache_rate"],
         "expr": f"sum by ({JOB_CACHE}) (rate({v.CACHE_REQUESTS}_total[{w}]))"},
        {"record": n["cache_hits"], "expr": (
            f'sum by ({JOB_CACHE}) (rate({v.CACHE_REQUESTS}_total{{result="hit"}}[{w}]))\n'
            f"/ {n['cache_rate']}")},
        {"record": n["queue_growth"], "expr": f"deriv({v.QUEUE_DEPTH}[{w}])"},
        _alert(
            ALERT_POOL_SATURATED,
            f"{n['pool_usage']} >= {number(POOL_BUSY)}\n"
            f"and on ({JOB_POOL}) {n['pool_wait']} > {number(POOL_WAIT_S)}",
            for_,
            f"connection pool {{{{ $labels.{POOL} }}}} of {{{{ $labels.job }}}} is saturated",
            f"{{{{ $labels.job }}}} uses {number(POOL_BUSY * 100)} % or more of pool "
            f"{{{{ $labels.{POOL} }}}}'s connections over {w}, and requests wait for one "
            f"(p95 above {number(POOL_WAIT_S * 1000)} ms): the pool is too small for the "
            "load, or connections are held too long (a call made while holding one).",
        ),
        _alert(
            ALERT_CACHE_COLLAPSED,
            f"{n['cache_hits']} < {number(CACHE_HIT_FLOOR)}\n"
            f"and on ({JOB_CACHE}) {n['cache_rate']} * {window_s} >= {CACHE_MIN_LOOKUPS}",
            for_,
            f"cache {{{{ $labels.{v.CACHE_NAME} }}}} of {{{{ $labels.job }}}}: hit ratio "
            "collapsed",
            f"Only {{{{ $value | humanizePercentage }}}} of look-ups in cache "
            f"{{{{ $labels.{v.CACHE_NAME} }}}} hit over {w}: reads fall through to the "
            "database (cache down, flushed, or keys that never match).",
        ),
        _alert(
            ALERT_QUEUE_BACKLOG,
            f"{n['queue_growth']} > 0\nand on ({JOB_QUEUE}) {v.QUEUE_DEPTH} > {QUEUE_BACKLOG}",
            for_,
            f"queue {{{{ $labels.{v.QUEUE_NAME} }}}}: backlog growing",
            f"Queue {{{{ $labels.{v.QUEUE_NAME} }}}} holds more than {QUEUE_BACKLOG} messages "
            f"and grows by {{{{ printf \"%.2f\" $value }}}}/s over {w}: its consumers are "
            "slower than its producers.",
        ),
    ]  # fmt: skip
    return {"name": GROUP, "rules": rules}


def _alert(name: str, expr: str, for_: str, summary: str, description: str) -> dict[str, Any]:
    from obskit.stack.rules import runbook_url

    return {
        "alert": name,
        "expr": expr,
        "for": for_,
        "labels": {"severity": "ticket", "service": "{{ $labels.job }}"},
        "annotations": {
            "summary": summary,
            "description": description,
            "runbook_url": runbook_url(name),
        },
    }


# --- promtool tests ------------------------------------------------------------------------

STEP = 60  # seconds between samples in the tests
LATE = "20m"  # past the window and the alerts' `for`
EARLY = "4m"


def tests(spec: Spec, window_s: int, for_: str) -> dict[str, Any]:
    """Each alert fires on the load it is about, and stays silent on its look-alikes."""
    from obskit.stack.rule_tests import expected_alert

    rules = {r["alert"]: r for r in group(spec, window_s, for_)["rules"] if "alert" in r}
    pool = {"job": "payments", POOL: "payments"}
    cache = {"job": "pricing", v.CACHE_NAME: "quotes"}
    queue = {"job": "mailer", v.QUEUE_NAME: "order-emails"}

    def pool_load(used: int, slow_waits: bool) -> list[dict[str, str]]:
        # 60 waits a minute, in (0.05, 0.1] s when slow (p95 0.0975 s), else under 1 ms
        fast, slow = ("0x30", "0+60x30") if slow_waits else ("0+60x30", "0+60x30")
        return [
            _s(v.POOL_COUNT, {**pool, v.POOL_STATE: "used"}, f"{used}x30"),
            _s(v.POOL_COUNT, {**pool, v.POOL_STATE: "idle"}, f"{10 - used}x30"),
            _s(v.POOL_MAX, pool, "10x30"),
            _s(f"{v.POOL_WAIT}_bucket", {**pool, "le": "0.001"}, fast),
            _s(f"{v.POOL_WAIT}_bucket", {**pool, "le": "0.05"}, fast),
            _s(f"{v.POOL_WAIT}_bucket", {**pool, "le": "0.1"}, slow),
            _s(f"{v.POOL_WAIT}_bucket", {**pool, "le": "+Inf"}, slow),
        ]

    def cache_load(hits: float, misses: float) -> list[dict[str, str]]:
        return [
            _s(f"{v.CACHE_REQUESTS}_total", {**cache, "result": "hit"}, f"0+{hits:g}x30"),
            _s(f"{v.CACHE_REQUESTS}_total", {**cache, "result": "miss"}, f"0+{misses:g}x30"),
        ]

    def case(name: str, series: list[dict[str, str]], alert: str, at: str, fires: list) -> dict:
        return {
            "name": name,
            "interval": duration(STEP),
            "input_series": series,
            "alert_rule_test": [{"eval_time": at, "alertname": alert, "exp_alerts": fires}],
        }

    def fired(alert: str, labels: dict[str, str], value: float) -> list[dict[str, Any]]:
        return [expected_alert(rules[alert], labels, value)]

    cases = [
        case("pool busy and requests wait", pool_load(10, True), ALERT_POOL_SATURATED, LATE,
             fired(ALERT_POOL_SATURATED, pool, 1.0)),
        case("pool busy, not yet for long", pool_load(10, True), ALERT_POOL_SATURATED, EARLY, []),
        case("pool busy, nobody waits", pool_load(10, False), ALERT_POOL_SATURATED, LATE, []),
        case("pool waits, a third in use", pool_load(3, True), ALERT_POOL_SATURATED, LATE, []),
        case("cache hits 20 %", cache_load(12, 48), ALERT_CACHE_COLLAPSED, LATE,
             fired(ALERT_CACHE_COLLAPSED, cache, 0.2)),
        case("cache hits 95 %", cache_load(57, 3), ALERT_CACHE_COLLAPSED, LATE, []),
        case("cache near idle, all misses", cache_load(0, 1), ALERT_CACHE_COLLAPSED, LATE, []),
        case("queue grows by 10 a minute", [_s(v.QUEUE_DEPTH, queue, "0+10x30")],
             ALERT_QUEUE_BACKLOG, LATE, fired(ALERT_QUEUE_BACKLOG, queue, 10 / 60)),
        case("queue long but steady", [_s(v.QUEUE_DEPTH, queue, "50x30")],
             ALERT_QUEUE_BACKLOG, LATE, []),
        case("queue grows, still short", [_s(v.QUEUE_DEPTH, queue, "0+0.5x30")],
             ALERT_QUEUE_BACKLOG, LATE, []),
    ]  # fmt: skip
    return {
        "rule_files": [f"../rules/{RULE_FILE}.yml"],
        "evaluation_interval": duration(STEP),
        "tests": cases,
    }


def _s(metric: str, labels: dict[str, str], values: str) -> dict[str, str]:
    from obskit.stack.promql import selector

    return {"series": selector(metric, labels), "values": values}


# --- the "Dependencies" dashboard --------------------------------------------------------------

DASHBOARD_UID = "obskit-dependencies"


def dashboard(spec: Spec) -> dict[str, Any]:
    """One "Dependencies" row: each pool's use and waits, each cache's hit ratio, each
    queue's depth and its consumer's lag."""
    from obskit.stack.grafana import panels as p
    from obskit.stack.grafana.queries import RATE_INTERVAL

    w = RATE_INTERVAL
    board = p.Board()
    board.row("Dependencies")
    panels = [
        ("Connection pool in use", "percentunit", [
            (f"sum by ({JOB_POOL}) ({v.POOL_COUNT}{{{v.POOL_STATE}=\"used\"}})\n"
             f"/ sum by ({JOB_POOL}) ({v.POOL_MAX})", f"{{{{job}}}} {{{{{POOL}}}}}")]),
        ("Wait for a connection (p95) and requests waiting", "s", [
            (f"histogram_quantile(0.95, sum by (le, {JOB_POOL}) "
             f"(rate({v.POOL_WAIT}_bucket[{w}])))", f"p95 {{{{job}}}} {{{{{POOL}}}}}"),
            (f"sum by ({JOB_POOL}) ({v.POOL_PENDING})", f"waiting {{{{job}}}} {{{{{POOL}}}}}")]),
        ("Cache hit ratio", "percentunit", [
            (f'sum by ({JOB_CACHE}) (rate({v.CACHE_REQUESTS}_total{{result="hit"}}[{w}]))\n'
             f"/ sum by ({JOB_CACHE}) (rate({v.CACHE_REQUESTS}_total[{w}]))",
             f"{{{{job}}}} {{{{{v.CACHE_NAME}}}}}")]),
        ("Cache look-ups by result", "reqps", [
            (f"sum by ({JOB_CACHE}, result) (rate({v.CACHE_REQUESTS}_total[{w}]))",
             f"{{{{{v.CACHE_NAME}}}}} {{{{result}}}}")]),
        ("Queue depth", "short", [
            (f"sum by ({JOB_QUEUE}) ({v.QUEUE_DEPTH})", f"{{{{{v.QUEUE_NAME}}}}}")]),
        ("Consumer lag", "s", [
            (f"max by ({JOB_QUEUE}) ({v.QUEUE_LAG})", f"{{{{job}}}} {{{{{v.QUEUE_NAME}}}}}")]),
    ]  # fmt: skip
    for title, unit, rows in panels:
        targets = [
            p.target(expr, chr(ord("A") + i), legend=legend)
            for i, (expr, legend) in enumerate(rows)
        ]
        board.add(p.timeseries(title, targets, unit=unit, minimum=0), w=12, h=8)
    return p.dashboard(
        uid=DASHBOARD_UID,
        title=f"{spec.project} / Dependencies",
        description="Database connection pools, caches and message queues behind the services.",
        board=board,
        tags=["obskit", "dependencies"],
    )
