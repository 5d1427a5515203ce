"""promtool unit tests for the generated rules: every alert fires, and does not fire.

Files (``promtool test rules prometheus/tests/*.yml``):

* ``red.yml``: the RED recordings give the exact rate, error ratio and quantiles of a known load.
* ``slo-<service>-page.yml`` (1 minute steps): a total outage fires the fast page within minutes
  and every tier after its ``for``; each page tier fires just above its burn factor and not just
  below it; the minimum-traffic guard keeps a near-idle service from paging.
* ``slo-<service>-ticket.yml`` (1 hour steps, so the 3-day windows stay cheap): a total outage
  opens both tickets after their ``for``; errors exactly at the objective never fire, even
  after 3 days; each ticket tier fires just above its factor and not below it.
* ``budgets.yml``: objective, budget, period error ratio and budget left of a known load.
* ``external.yml``: a slow dependency fires, a fast one, a quiet one and (when the spec gives a
  port) a slow neighbour on another port do not.
* ``platform.yml``: targets down, the collector refusing or dropping spans, Watchdog.

Expected alerts are derived from the rules' own data (thresholds, windows, ``for``), so a rule
change that breaks the intent shows up as a failing promtool test.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from obskit.stack import rules as r
from obskit.stack import vocabulary as v
from obskit.stack.prometheus import JOB_COLLECTOR
from obskit.stack.promql import duration, le_spellings, number, selector, service_labels
from obskit.stack.spec import External, Service, Spec

PAGE_STEP = 60  # seconds between samples (and rule evaluations) in the page tests
TICKET_STEP = 3600
BUSY = 1000.0  # requests per minute of a busy service
QUIET = r.MIN_REQUESTS / 2 / 60  # requests per minute: half the guard's minimum per hour
ROUTE = "/api/orders"
CLIENT_ERROR_SHARE = 0.01  # 404s mixed into availability loads: they are not errors
COLLECTOR_JOB = JOB_COLLECTOR


def test_file(name: str) -> str:
    return f"prometheus/tests/{name}.yml"


def files(spec: Spec) -> dict[str, Any]:
    out: dict[str, Any] = {test_file("red"): red_tests(spec)}
    for service in spec.services:
        if r.objectives(service):
            base = r.slo_file_name(service)
            out[test_file(f"{base}-page")] = slo_tests(service, PAGE_STEP)
            out[test_file(f"{base}-ticket")] = slo_tests(service, TICKET_STEP)
    if any(r.objectives(service) for service in spec.services):
        out[test_file("budgets")] = budget_tests(spec)
    if spec.external:
        out[test_file("external")] = external_tests(spec)
    out[test_file("platform")] = platform_tests(spec)
    out.update(dependency_tests(spec))
    return out


def dependency_tests(spec: Spec) -> dict[str, Any]:
    from obskit.stack import dependencies

    suite = dependencies.tests(spec, r.RATE_WINDOW, r.DEPENDENCY_FOR)
    return {test_file(dependencies.RULE_FILE): suite}


def _suite(rule_file: str, step: int, groups: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "rule_files": [f"../rules/{rule_file}.yml"],
        "evaluation_interval": duration(step),
        "tests": groups,
    }


def _counter(per_minute: float, step: int, until: int) -> str:
    """A counter growing ``per_minute`` from 0, one sample every ``step`` s up to ``until``."""
    return f"0+{number(per_minute * step / 60)}x{math.ceil(until / step)}"


def _series(metric: str, labels: dict[str, str], values: str) -> dict[str, str]:
    return {"series": selector(metric, labels), "values": values}


def _seconds(text: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return int(text[:-1]) * units[text[-1]]


def _round2(value: float) -> float:
    """Two significant digits: the alert's rendered percentage is then free of float noise."""
    return float(f"{value:.2g}")


# --- rendering annotations the way Prometheus does ---------------------------------------------


def go_g4(value: float) -> str:
    """Go's ``%.4g``."""
    text = f"{value:.4g}"
    return text


def humanize_percentage(value: float) -> str:
    return f"{go_g4(value * 100)}%"


def humanize_duration(value: float) -> str:
    """Prometheus' ``humanizeDuration`` for the values these tests produce."""
    if value == 0:
        return "0s"
    if abs(value) >= 1:
        seconds = int(value)
        days, hours = seconds // 86400, seconds // 3600 % 24
        minutes, secs = seconds // 60 % 60, seconds % 60
        if days:
            return f"{days}d {hours}h {minutes}m {secs}s"
        if hours:
            return f"{hours}h {minutes}m {secs}s"
        if minutes:
            return f"{minutes}m {secs}s"
        return f"{go_g4(value)}s"
    prefix = ""
    for unit in ("m", "u", "n", "p"):
        if abs(value) >= 1:
            break
        prefix, value = unit, value * 1000
    return f"{go_g4(value)}{prefix}s"


_TEMPLATE = re.compile(r"\{\{(.*?)\}\}")


def render(template: str, labels: dict[str, str], value: float) -> str:
    """Expand the few template forms the generated rules use; anything else is a bug."""

    def expand(match: re.Match[str]) -> str:
        code = match.group(1).strip()
        if code.startswith("$labels."):
            return labels[code.removeprefix("$labels.")]
        if code == "$value | humanizePercentage":
            return humanize_percentage(value)
        if code == "$value | humanizeDuration":
            return humanize_duration(value)
        if code == 'printf "%.2f" $value':
            return f"{value:.2f}"
        raise ValueError(f"rule_tests cannot render template {{{{ {code} }}}}")

    return _TEMPLATE.sub(expand, template)


def expected_alert(rule: dict[str, Any], labels: dict[str, str], value: float) -> dict[str, Any]:
    """What promtool should see for ``rule`` firing on a series with ``labels`` and ``value``:
    the series' labels plus the rule's (templated) labels, and the rendered annotations."""
    rule_labels = {k: render(str(val), labels, value) for k, val in rule["labels"].items()}
    return {
        "exp_labels": {**labels, **rule_labels},
        "exp_annotations": {
            k: render(text, labels, value) for k, text in rule["annotations"].items()
        },
    }


# --- RED recordings -----------------------------------------------------------------------------


def red_tests(spec: Spec) -> dict[str, Any]:
    """One request per second per service, 10 % of them 5xx; half of the requests take up to
    100 ms, the other half up to 250 ms."""
    until = 600
    series = []
    for service in spec.http_services:
        base = {**service_labels(service), "instance": _instance(service)}
        for status, share in (("200", 0.9), ("500", 0.1)):
            labels = {**base, v.ROUTE: ROUTE, v.METHOD: "GET", v.STATUS: status}
            series.append(
                _series(f"{v.HTTP_SERVER_DURATION}_count", labels, _counter(60 * share, 60, until))
            )
            for le, fraction in (("0.1", 0.5), ("0.25", 1.0), ("+Inf", 1.0)):
                series.append(
                    _series(
                        f"{v.HTTP_SERVER_DURATION}_bucket",
                        {**labels, "le": le},
                        _counter(60 * share * fraction, 60, until),
                    )
                )

    route = {v.ROUTE: ROUTE, v.METHOD: "GET"}
    metric = v.HTTP_SERVER_DURATION

    def check(name: str, value: float, by_route: bool = False) -> dict[str, Any]:
        extra = route if by_route else {}
        expr, shown = name, name
        if ":p" in name:  # interpolated quantiles: compare them rounded to the millisecond
            expr, shown = f"round({name}, 0.001)", ""
        return {
            "expr": expr,
            "eval_time": "5m",
            "exp_samples": [
                {"labels": selector(shown, {"service": s.name, **extra}), "value": value}
                for s in spec.http_services
            ],
        }

    checks = [
        check("service:http_server_requests:rate5m", 1),
        check("service:http_server_request_errors:rate5m", 0.1),
        check("service:http_server_request_errors:ratio_rate5m", 0.1),
        check("service_route:http_server_requests:rate5m", 1, by_route=True),
        check("service_route:http_server_request_errors:rate5m", 0.1, by_route=True),
        check(f"service:{metric}:p50_rate5m", 0.1),
        check(f"service:{metric}:p95_rate5m", 0.235),
        check(f"service:{metric}:p99_rate5m", 0.247),
        check(f"service_route:{metric}:p95_rate5m", 0.235, by_route=True),
    ]
    group = {
        "name": "RED recordings of a known load",
        "interval": duration(60),
        "input_series": series,
        "promql_expr_test": checks,
    }
    return _suite("red", 60, [group])


def _instance(service: Service) -> str:
    return f"127.0.0.1:{service.metrics_port}"


# --- SLO burn rates -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    """A constant load from time 0: ``per_minute`` requests, of which the share ``bad[kind]``
    is bad for the objective of that kind (5xx for availability, slow for latency)."""

    name: str
    bad: dict[str, float]
    per_minute: float = BUSY
    client_errors: float = CLIENT_ERROR_SHARE


def firing(objective: r.Objective, load: Load, at: int, step: int) -> list[r.Tier]:
    """The tiers promtool must see firing at ``at`` seconds, from the rules' own numbers.

    A tier's condition can hold once both its windows hold two samples (from ``step`` on, for
    windows longer than a step), and once its long window has seen ``MIN_REQUESTS`` requests
    (``rate`` over a window only partly filled counts the requests in it); it fires once the
    condition has held for the tier's ``for``."""
    found = []
    bad = load.bad[objective.kind]
    for tier in objective.tiers():
        if tier.short_s < step:
            continue  # its short window never holds two samples
        if step in (tier.short_s, tier.long_s):
            raise ValueError(f"step {step}s equals a window: 2.x and 3.x would disagree")
        if not bad > objective.threshold(tier):
            continue
        per_second = load.per_minute / 60
        if per_second * tier.long_s < r.MIN_REQUESTS:
            continue
        enough_traffic = math.ceil(r.MIN_REQUESTS / per_second / step) * step
        active = max(step, enough_traffic)
        fires_at = active + _seconds(tier.hold)
        if active > step and abs(at - fires_at) < 2 * step:
            raise ValueError(f"{load.name}: look further from {fires_at}s, the guard is fuzzy")
        if at >= fires_at:
            found.append(tier)
    return found


def load_series(
    service: Service, load: Load, step: int, until: int, variant: int
) -> list[dict[str, str]]:
    """Request counts by status (5xx errors, a few 404s that are not errors, the rest 200) and
    the bucket of each latency threshold holding the fast requests."""
    base = {
        **service_labels(service),
        "instance": _instance(service),
        v.ROUTE: ROUTE,
        v.METHOD: "GET",
    }
    errors = load.bad.get(r.AVAILABILITY, 0.0)
    client_errors = min(load.client_errors, 1 - errors)
    shares = (("200", 1 - errors - client_errors), ("404", client_errors), ("500", errors))
    count = f"{v.HTTP_SERVER_DURATION}_count"
    bucket = f"{v.HTTP_SERVER_DURATION}_bucket"
    series = [
        _series(count, {**base, v.STATUS: status}, _counter(load.per_minute * share, step, until))
        for status, share in shares
    ]
    for objective in r.objectives(service):
        if objective.kind != r.LATENCY:
            continue
        assert objective.threshold_ms is not None
        # Exporters spell bucket bounds differently ("1" or "1.0"): alternate between them.
        spellings = le_spellings(objective.threshold_ms)
        le = spellings[variant % len(spellings)]
        fast = load.per_minute * (1 - load.bad[r.LATENCY])
        ok = {**base, v.STATUS: "200"}
        series += [
            _series(bucket, {**ok, "le": le}, _counter(fast, step, until)),
            _series(bucket, {**ok, "le": "+Inf"}, _counter(load.per_minute, step, until)),
        ]
    return series


def _burn_rules(service: Service) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The generated burn-rate alert rules of ``service``, keyed by (slo, long, short)."""
    found = {}
    for rule in r.slo_group(service)["rules"]:
        if "alert" in rule:
            labels = rule["labels"]
            found[(labels["slo"], labels["long_window"], labels["short_window"])] = rule
    return found


def slo_tests(service: Service, step: int) -> dict[str, Any]:
    """One test group per load; each group checks every objective of the service at once."""
    burn_rules = _burn_rules(service)
    groups = []
    for variant, (load, times) in enumerate(_scenarios(service, step)):
        checks = []
        for objective in r.objectives(service):
            labels = {"service": service.name, "slo": objective.kind}
            for at in times:
                exp = [
                    expected_alert(
                        burn_rules[(objective.kind, tier.long, tier.short)],
                        labels,
                        load.bad[objective.kind],
                    )
                    for tier in firing(objective, load, at, step)
                ]
                checks.append(
                    {"eval_time": duration(at), "alertname": objective.alertname, "exp_alerts": exp}
                )
        groups.append(
            {
                "name": f"{service.name}: {load.name}",
                "interval": duration(step),
                "input_series": load_series(service, load, step, max(times), variant),
                "alert_rule_test": checks,
            }
        )
    return _suite(r.slo_file_name(service), step, groups)


def _scenarios(service: Service, step: int) -> list[tuple[Load, list[int]]]:
    """Loads and the times to look at them: the page tiers at fine steps, the ticket tiers
    (and the exact-objective check, over more than the 3-day window) at coarse ones."""
    objectives = r.objectives(service)
    page = step == PAGE_STEP
    outage = {o.kind: 1.0 for o in objectives}
    out: list[tuple[Load, list[int]]] = []
    if page:
        out.append((Load("total outage", outage), [120, 600, 1800]))
        out.append((Load("total outage of a near-idle service", outage, QUIET), [1800]))
    else:
        out.append((Load("total outage", outage), [3600, 10800, 21600]))
        # One objective at a time, on as few series as possible: the ratio then comes out
        # exactly equal to the budget, as the arithmetic allows.
        for o in objectives:
            at_objective = {other.kind: 0.0 for other in objectives} | {o.kind: o.budget}
            share = CLIENT_ERROR_SHARE if o.kind == r.AVAILABILITY else 0.0
            name = f"{o.kind} exactly at the objective"
            out.append((Load(name, at_objective, client_errors=share), [273600]))
    for tier in TIERS_BY_SEVERITY["page" if page else "ticket"]:
        # Look once the tier has had time to fire: its `for` plus a few steps.
        at = step + _seconds(tier.hold) + 3 * step
        factor = f"{tier.factor(objectives[0].window_days):g}x over {tier.long}"
        for name, scale in (("just above", 1.25), ("just below", 0.8)):
            bad = {}
            for o in objectives:
                if tier not in o.tiers():
                    bad[o.kind] = 0.0  # the tier cannot fire for this objective
                    continue
                share = o.threshold(tier) * scale
                bad[o.kind] = 1.0 if share >= 1 else _round2(share)
            out.append((Load(f"{name} {factor}", bad), [at]))
    return out


TIERS_BY_SEVERITY = {
    severity: [t for t in r.TIERS if t.severity == severity] for severity in ("page", "ticket")
}


def budget_tests(spec: Spec) -> dict[str, Any]:
    """Each service spends half of each error budget: half of it is left."""
    until = 600
    series = []
    checks: dict[str, list[dict[str, Any]]] = {}
    for service in spec.services:
        if not r.objectives(service):
            continue
        bad = {o.kind: o.budget / 2 for o in r.objectives(service)}
        load = Load("half the budget", bad, client_errors=0.0)
        series += load_series(service, load, 60, until, 0)
        for o in r.objectives(service):
            labels = {"service": service.name, "slo": o.kind}
            for name, value in (
                ("slo:objective:ratio", float(number(o.target / 100))),
                ("slo:error_budget:ratio", o.budget),
                ("slo:sli_error:ratio_period", o.budget / 2),
                ("slo:error_budget_remaining:ratio", 0.5),
            ):
                checks.setdefault(name, []).append({"labels": selector("", labels), "value": value})
    precision = {
        "slo:sli_error:ratio_period": "0.000001",
        "slo:error_budget_remaining:ratio": "0.001",
    }
    exprs = [
        {
            "expr": f"round({name}, {precision[name]})" if name in precision else f"{name} + 0",
            "eval_time": "10m",
            "exp_samples": samples,
        }
        for name, samples in checks.items()
    ]
    group = {
        "name": "half of every error budget spent",
        "interval": "1m",
        "input_series": series,
        "promql_expr_test": exprs,
    }
    return _suite("budgets", 60, [group])


# --- external dependencies ----------------------------------------------------------------------


def external_tests(spec: Spec) -> dict[str, Any]:
    rules_by_name = {
        rule["labels"]["service"]: rule
        for rule in r.external_group(spec)["rules"]
        if "alert" in rule
    }
    until = 1500
    caller = spec.services[0]

    def client(external: External, labels: dict[str, str], slow: bool, per_minute: float):
        """Every call to ``external`` takes just over its threshold (slow) or just under."""
        limit = external.latency_threshold_ms / 1000
        base = {
            **service_labels(caller),
            "instance": _instance(caller),
            v.METHOD: "POST",
            **labels,
        }
        fast_share = 0.0 if slow else 1.0
        total = _counter(per_minute, 60, until)
        return [
            _series(f"{v.HTTP_CLIENT_DURATION}_count", base, total),
            _series(
                f"{v.HTTP_CLIENT_DURATION}_bucket",
                {**base, "le": repr(limit)},
                _counter(per_minute * fast_share, 60, until),
            ),
            _series(f"{v.HTTP_CLIENT_DURATION}_bucket", {**base, "le": repr(2 * limit)}, total),
            _series(f"{v.HTTP_CLIENT_DURATION}_bucket", {**base, "le": "+Inf"}, total),
        ]

    def group(name: str, slow: bool, per_minute: float, decoys: bool) -> dict[str, Any]:
        series = []
        for external in spec.external:
            series += client(external, r.dependency_labels(external), slow, per_minute)
            if decoys and (decoy := _decoy_port(spec, external)) is not None:
                labels = {**r.dependency_labels(external), v.SERVER_PORT: str(decoy)}
                series += client(external, labels, True, BUSY)
        exp = []
        if slow and per_minute / 60 * r.RATE_WINDOW >= r.MIN_REQUESTS:
            for external in spec.external:
                # p95 interpolated inside the (threshold, 2 × threshold] bucket
                p95 = external.latency_threshold_ms / 1000 * (1 + r.DEPENDENCY_QUANTILE)
                exp.append(
                    expected_alert(rules_by_name[external.name], {"dependency": external.name}, p95)
                )
        hold = _seconds(r.DEPENDENCY_FOR)
        return {
            "name": name,
            "interval": "1m",
            "input_series": series,
            "alert_rule_test": [
                {"eval_time": "5m", "alertname": r.ALERT_DEPENDENCY_SLOW, "exp_alerts": []},
                {
                    "eval_time": duration(60 + hold + 300),
                    "alertname": r.ALERT_DEPENDENCY_SLOW,
                    "exp_alerts": exp,
                },
            ],
        }

    groups = [
        group("every dependency slow", True, BUSY, False),
        group("every dependency fast (neighbours on other ports slow)", False, BUSY, True),
        group("every dependency slow but nearly idle", True, 1.0, False),
    ]
    return _suite("external", 60, groups)


def _decoy_port(spec: Spec, external: External) -> int | None:
    """Another port on the same host, when the dependency is told apart by its port and no
    other dependency on that host would (rightly) match the decoy."""
    if external.port is None:
        return None
    same_host = [e for e in spec.external if e.host == external.host]
    if any(e.port is None for e in same_host):
        return None
    used = {e.port for e in same_host}
    return next(p for p in range(external.port + 1, external.port + 100) if p not in used)


# --- platform -----------------------------------------------------------------------------------


def platform_tests(spec: Spec) -> dict[str, Any]:
    group_rules = r.platform_group(spec)["rules"]
    target_rules = {
        rule["labels"]["service"]: rule
        for rule in group_rules
        if rule["alert"] == r.ALERT_TARGET_DOWN
    }
    by_name = {rule["alert"]: rule for rule in group_rules if rule["alert"] != "TargetDown"}
    until = 1200
    collector = {"job": COLLECTOR_JOB, "instance": "127.0.0.1:8888"}
    spans = {**collector, "receiver": "otlp", "transport": "grpc"}
    export = {**collector, "exporter": "otlp_grpc/tempo"}

    def up(value: int) -> list[dict[str, str]]:
        targets = [{**service_labels(s), "instance": _instance(s)} for s in spec.services]
        return [_series("up", t, f"{value}x{until // 60}") for t in [*targets, collector]]

    def counters(refused: bool, send_failed: bool, enqueue_failed: bool) -> list[dict[str, str]]:
        def grow(on: bool) -> str:
            return _counter(60 if on else 0, 60, until)

        return [
            _series(v.COLLECTOR_ACCEPTED_SPANS, spans, _counter(600, 60, until)),
            _series(v.COLLECTOR_REFUSED_SPANS, spans, grow(refused)),
            _series(v.COLLECTOR_SENT_SPANS, export, _counter(600, 60, until)),
            _series(v.COLLECTOR_SEND_FAILED_SPANS, export, grow(send_failed)),
            _series(v.COLLECTOR_ENQUEUE_FAILED_SPANS, export, grow(enqueue_failed)),
        ]

    def targets_down(at: int) -> dict[str, Any]:
        exp = []
        for service in spec.services:
            if at >= _seconds(r.TARGET_DOWN_FOR):
                labels = {**service_labels(service), "instance": _instance(service)}
                exp.append(expected_alert(target_rules[service.name], labels, 0))
        if at >= _seconds(r.PLATFORM_TARGET_DOWN_FOR):
            exp.append(expected_alert(target_rules["{{ $labels.job }}"], collector, 0))
        return {"eval_time": duration(at), "alertname": r.ALERT_TARGET_DOWN, "exp_alerts": exp}

    def collector_alert(name: str, at: int, fires: bool) -> dict[str, Any]:
        exp = [expected_alert(by_name[name], {"job": COLLECTOR_JOB}, 1.0)] if fires else []
        return {"eval_time": duration(at), "alertname": name, "exp_alerts": exp}

    watchdog = {
        "eval_time": "1m",
        "alertname": r.ALERT_WATCHDOG,
        "exp_alerts": [expected_alert(by_name[r.ALERT_WATCHDOG], {}, 1)],
    }
    late = 60 + _seconds(r.COLLECTOR_FOR) + 240
    healthy = {
        "name": "healthy stack",
        "interval": "1m",
        "input_series": up(1) + counters(False, False, False),
        "alert_rule_test": [
            {"eval_time": "15m", "alertname": r.ALERT_TARGET_DOWN, "exp_alerts": []},
            collector_alert(r.ALERT_COLLECTOR_REFUSING, late, False),
            collector_alert(r.ALERT_COLLECTOR_DROPPING, late, False),
            watchdog,
        ],
    }
    broken = {
        "name": "every target down, collector refusing and failing to export",
        "interval": "1m",
        "input_series": up(0) + counters(True, True, False),
        "alert_rule_test": [
            targets_down(60),
            targets_down(_seconds(r.TARGET_DOWN_FOR) + 60),
            targets_down(_seconds(r.PLATFORM_TARGET_DOWN_FOR) + 120),
            collector_alert(r.ALERT_COLLECTOR_REFUSING, 180, False),
            collector_alert(r.ALERT_COLLECTOR_REFUSING, late, True),
            collector_alert(r.ALERT_COLLECTOR_DROPPING, late, True),
            watchdog,
        ],
    }
    queue_full = {
        "name": "collector sending queue full",
        "interval": "1m",
        "input_series": up(1) + counters(False, False, True),
        "alert_rule_test": [
            collector_alert(r.ALERT_COLLECTOR_DROPPING, late, True),
            collector_alert(r.ALERT_COLLECTOR_REFUSING, late, False),
        ],
    }
    return _suite("platform", 60, [healthy, broken, queue_full])
