"""Prometheus rules: RED recordings, SLO burn-rate alerts, dependency and platform alerts.

Files (relative to the output directory):

* ``prometheus/rules/red.yml``: per-service and per-route request rate, errors and latency
  quantiles from the services' ``http_server_request_duration_seconds`` histograms.
* ``prometheus/rules/slo-<service>.yml``: one per service with an SLO: SLI error ratios over
  every alert window, objective and error-budget recordings, and multiwindow multi-burn-rate
  alerts (Google SRE workbook; Sloth's factors: 2 %/5 % of the period's budget in 1 h/6 h pages,
  10 %/10 % in 1 d/3 d open a ticket; 14.4×/6×/3×/1× for 30 days), with a minimum-traffic guard.
* ``prometheus/rules/external.yml``: p95 latency of each external dependency, seen from the
  calling services' client histograms.
* ``prometheus/rules/platform.yml``: target down, the collector refusing or dropping spans,
  and the always-firing Watchdog.

Every alert carries the labels ``severity`` and ``service`` and the annotations ``summary``,
``description`` and ``runbook_url``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from obskit.stack import vocabulary as v
from obskit.stack.promql import (
    duration,
    le_matcher,
    matchers,
    number,
    quote,
    selector,
    service_labels,
)
from obskit.stack.spec import External, Service, Spec

RUNBOOK_BASE = "https://github.com/obskit/obskit/blob/main/docs/runbooks.md"

# A burn-rate alert needs at least this many requests in its long window (at the current
# rate): one failed request out of three is a 33 % error ratio, not an outage worth a page.
MIN_REQUESTS = 10

RATE_WINDOW = 300  # seconds: the window of the RED recordings and dependency alerts
SLO_WINDOWS = (300, 1800, 3600, 7200, 21600, 86400, 259200)  # every window an alert uses
ERROR_STATUS = "5.."  # an availability error is a 5xx response

AVAILABILITY = "availability"
LATENCY = "latency"

ALERT_BUDGET_BURN = {
    AVAILABILITY: "AvailabilityErrorBudgetBurn",
    LATENCY: "LatencyErrorBudgetBurn",
}
ALERT_DEPENDENCY_SLOW = "ExternalDependencySlow"
ALERT_TARGET_DOWN = "TargetDown"
ALERT_COLLECTOR_REFUSING = "CollectorRefusingSpans"
ALERT_COLLECTOR_DROPPING = "CollectorDroppingSpans"
ALERT_WATCHDOG = "Watchdog"

TARGET_DOWN_FOR = "2m"
PLATFORM_TARGET_DOWN_FOR = "5m"
COLLECTOR_FOR = "5m"
DEPENDENCY_FOR = "10m"
DEPENDENCY_QUANTILE = 0.95


@dataclass(frozen=True)
class Tier:
    """One multiwindow burn-rate condition: the long and short windows must both burn the
    budget faster than ``factor`` times the sustainable rate."""

    severity: str
    long_s: int
    short_s: int
    budget_share: float  # share of the whole period's budget this tier allows in long_s
    hold: str  # the alert's `for`

    def factor(self, window_days: int) -> float:
        return round(self.budget_share * window_days * 86400 / self.long_s, 6)

    @property
    def long(self) -> str:
        return duration(self.long_s)

    @property
    def short(self) -> str:
        return duration(self.short_s)


TIERS: tuple[Tier, ...] = (
    Tier("page", 3600, 300, 0.02, "2m"),
    Tier("page", 21600, 1800, 0.05, "15m"),
    Tier("ticket", 86400, 7200, 0.10, "1h"),
    Tier("ticket", 259200, 21600, 0.10, "3h"),
)


@dataclass(frozen=True)
class Objective:
    """One SLO of one service."""

    service: str
    kind: str  # AVAILABILITY or LATENCY
    target: float  # percent of good requests
    window_days: int
    threshold_ms: int | None = None  # latency objectives only

    @property
    def budget(self) -> float:
        """The allowed ratio of bad requests, without binary noise (99.9 -> 0.001)."""
        return round((100 - self.target) / 100, 12)

    @property
    def alertname(self) -> str:
        return ALERT_BUDGET_BURN[self.kind]

    def tiers(self) -> list[Tier]:
        """The tiers that can fire at all: a 14.4× burn of a 10 % budget is impossible."""
        return [t for t in TIERS if t.factor(self.window_days) * self.budget < 1]

    def threshold(self, tier: Tier) -> float:
        return float(number(tier.factor(self.window_days) * self.budget))

    @property
    def what(self) -> str:
        """What a bad request is, for humans."""
        if self.kind == AVAILABILITY:
            return "failed with a 5xx"
        return f"took longer than {self.threshold_ms} ms"

    @property
    def title(self) -> str:
        if self.kind == AVAILABILITY:
            return f"{self.target:g}% availability"
        return f"{self.target:g}% of requests faster than {self.threshold_ms} ms"


def objectives(service: Service) -> list[Objective]:
    slo = service.slo
    if slo is None:
        return []
    found = []
    if slo.availability is not None:
        found.append(Objective(service.name, AVAILABILITY, slo.availability, slo.window_days))
    if slo.latency is not None:
        found.append(
            Objective(
                service.name,
                LATENCY,
                slo.latency.target,
                slo.window_days,
                slo.latency.threshold_ms,
            )
        )
    return found


def runbook_url(alertname: str) -> str:
    return f"{RUNBOOK_BASE}#{alertname.lower()}"


def rule_file(name: str) -> str:
    return f"prometheus/rules/{name}.yml"


def slo_file_name(service: Service) -> str:
    return f"slo-{service.name}"


@dataclass(frozen=True)
class Timing:
    """How quickly the dependency alerts react. :data:`PRODUCTION` is what `obskit init`
    writes; `obskit demo` uses :data:`DEMO_TIMING` so the whole loop shows within a minute."""

    rate_window_s: int = RATE_WINDOW
    dependency_for: str = DEPENDENCY_FOR


PRODUCTION = Timing()
DEMO_TIMING = Timing(rate_window_s=30, dependency_for="10s")


def files(spec: Spec, timing: Timing = PRODUCTION) -> dict[str, Any]:
    out: dict[str, Any] = {rule_file("red"): {"groups": [red_group(spec)]}}
    for service in spec.services:
        if objectives(service):
            out[rule_file(slo_file_name(service))] = {"groups": [slo_group(service)]}
    if any(objectives(service) for service in spec.services):
        out[rule_file("budgets")] = {"groups": [budget_group(spec)]}
    if spec.external:
        out[rule_file("external")] = {"groups": [external_group(spec, timing)]}
    out[rule_file("platform")] = {"groups": [platform_group(spec)]}
    out.update(dependency_rules(spec, timing))
    return out


def dependency_rules(spec: Spec, timing: Timing = PRODUCTION) -> dict[str, Any]:
    """Pools, caches and queues (:mod:`obskit.stack.dependencies`)."""
    from obskit.stack import dependencies

    group = dependencies.group(spec, timing.rate_window_s, timing.dependency_for)
    return {rule_file(dependencies.RULE_FILE): {"groups": [group]}}


# --- RED recordings --------------------------------------------------------------------------


def _server(suffix: str, service: str, *extra: str) -> str:
    return selector(f"{v.HTTP_SERVER_DURATION}_{suffix}", service_labels(service), *extra)


def _rate(series: str, window_s: int = RATE_WINDOW) -> str:
    return f"rate({series}[{duration(window_s)}])"


def _record(name: str, expr: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"record": name, "expr": expr, "labels": labels}


def red_group(spec: Spec) -> dict[str, Any]:
    rules: list[dict[str, Any]] = []
    by_route = f"{v.ROUTE}, {v.METHOD}"
    window = duration(RATE_WINDOW)
    errors_matcher = f"{v.STATUS}=~{quote(ERROR_STATUS)}"
    for service in spec.http_services:
        name = service.name
        labels = {"service": name}
        count = _server("count", name)
        errors = _server("count", name, errors_matcher)
        bucket = _server("bucket", name)
        own = matchers(labels)
        rules += [
            _record(f"service:http_server_requests:rate{window}", f"sum({_rate(count)})", labels),
            _record(
                f"service:http_server_request_errors:rate{window}",
                f"sum({_rate(errors)}) or vector(0)",
                labels,
            ),
            _record(
                f"service:http_server_request_errors:ratio_rate{window}",
                f"service:http_server_request_errors:rate{window}{own}\n"
                f"/\nservice:http_server_requests:rate{window}{own}",
                labels,
            ),
        ]
        for q in (0.5, 0.95, 0.99):
            rules.append(
                _record(
                    f"service:{v.HTTP_SERVER_DURATION}:p{round(q * 100)}_rate{window}",
                    f"histogram_quantile({q}, sum by (le) ({_rate(bucket)}))",
                    labels,
                )
            )
        rules += [
            _record(
                f"service_route:http_server_requests:rate{window}",
                f"sum by ({by_route}) ({_rate(count)})",
                labels,
            ),
            # A route that has not failed records 0, not nothing (as the service-wide rate).
            _record(
                f"service_route:http_server_request_errors:rate{window}",
                f"sum by ({by_route}) ({_rate(errors)})\n"
                f"or\n0 * sum by ({by_route}) ({_rate(count)})",
                labels,
            ),
            _record(
                f"service_route:{v.HTTP_SERVER_DURATION}:p95_rate{window}",
                f"histogram_quantile(0.95, sum by (le, {by_route}) ({_rate(bucket)}))",
                labels,
            ),
        ]
    return {"name": "obskit-red", "rules": rules}


# --- SLOs ------------------------------------------------------------------------------------


def _total(service: str, window_s: int) -> str:
    return f"sum({_rate(_server('count', service), window_s)})"


def _bad(objective: Objective, window_s: int) -> str:
    """The rate of bad requests; 0 (not nothing) when there are none."""
    name = objective.service
    if objective.kind == AVAILABILITY:
        errors = _server("count", name, f"{v.STATUS}=~{quote(ERROR_STATUS)}")
        return f"(sum({_rate(errors, window_s)}) or vector(0))"
    assert objective.threshold_ms is not None
    # The bucket whose bound is the threshold: the collector and `obskit instrument` put every
    # SLO threshold into the histogram buckets, so no interpolation is needed.
    fast = _server("bucket", name, le_matcher(objective.threshold_ms))
    return f"({_total(name, window_s)} - sum({_rate(fast, window_s)}))"


def slo_group(service: Service) -> dict[str, Any]:
    """What the burn-rate alerts need: request rates over the long windows (the traffic
    guard), error ratios over every window, and the alerts."""
    name = service.name
    svc = {"service": name}
    long_windows = sorted({t.long_s for o in objectives(service) for t in o.tiers()})
    rules: list[dict[str, Any]] = [
        _record(f"slo:sli_requests:rate{duration(w)}", _total(name, w), svc) for w in long_windows
    ]
    for objective in objectives(service):
        labels = {"service": name, "slo": objective.kind}
        rules += [
            _record(
                f"slo:sli_error:ratio_rate{duration(w)}",
                f"{_bad(objective, w)}\n/\n{_total(name, w)}",
                labels,
            )
            for w in SLO_WINDOWS
        ]
        rules += [_burn_alert(objective, tier) for tier in objective.tiers()]
    return {"name": f"obskit-slo-{name}", "rules": rules}


def budget_group(spec: Spec) -> dict[str, Any]:
    """Objectives, error budgets and what is left of them over each SLO's period, for the SLO
    dashboard (kept apart from the alerts: the alerts do not need them)."""
    rules: list[dict[str, Any]] = []
    window = SLO_WINDOWS[0]
    rate = f"rate{duration(window)}"
    for service in spec.services:
        if not objectives(service):
            continue
        svc = {"service": service.name}
        rules.append(_record(f"slo:sli_requests:{rate}", _total(service.name, window), svc))
        for objective in objectives(service):
            labels = {**svc, "slo": objective.kind}
            own = matchers(labels)
            period = duration(objective.window_days * 86400)
            rules += [
                _record(f"slo:sli_errors:{rate}", _bad(objective, window), labels),
                _record("slo:objective:ratio", f"vector({number(objective.target / 100)})", labels),
                _record("slo:error_budget:ratio", f"vector({number(objective.budget)})", labels),
                # Traffic-weighted over the whole period (not an average of 5m ratios).
                _record(
                    "slo:sli_error:ratio_period",
                    f"sum_over_time(slo:sli_errors:{rate}{own}[{period}])\n/ ignoring (slo)\n"
                    f"sum_over_time(slo:sli_requests:{rate}{matchers(svc)}[{period}])",
                    labels,
                ),
                _record(
                    "slo:error_budget_remaining:ratio",
                    f"1 - slo:sli_error:ratio_period{own} / {number(objective.budget)}",
                    labels,
                ),
            ]
    return {"name": "obskit-slo-budget", "rules": rules}


def _burn_alert(objective: Objective, tier: Tier) -> dict[str, Any]:
    labels = {"service": objective.service, "slo": objective.kind}
    own = matchers(labels)
    limit = number(objective.threshold(tier))
    factor = f"{tier.factor(objective.window_days):g}"
    guard = (
        f"slo:sli_requests:rate{tier.long}{matchers({'service': objective.service})}"
        f" * {tier.long_s} >= {MIN_REQUESTS}"
    )
    expr = (
        f"slo:sli_error:ratio_rate{tier.long}{own} > {limit}\n"
        f"and\nslo:sli_error:ratio_rate{tier.short}{own} > {limit}\n"
        f"and on (service)\n{guard}"
    )
    speed = "fast" if tier.severity == "page" else "steadily"
    return {
        "alert": objective.alertname,
        "expr": expr,
        "for": tier.hold,
        "labels": {
            "severity": tier.severity,
            **labels,
            "long_window": tier.long,
            "short_window": tier.short,
        },
        "annotations": {
            "summary": (
                f"{{{{ $labels.service }}}} is burning its {objective.kind} error budget {speed}"
                f" ({factor}× over {tier.long} and {tier.short})"
            ),
            "description": (
                f"{{{{ $labels.service }}}}: {{{{ $value | humanizePercentage }}}} of requests "
                f"{objective.what} over the last {tier.long} (the last {tier.short} agree). "
                f"That spends the {objective.window_days}-day error budget of the objective "
                f"({objective.title}) at least {factor}× faster than it lasts."
            ),
            "runbook_url": runbook_url(objective.alertname),
        },
    }


# --- external dependencies -------------------------------------------------------------------


def dependency_labels(external: External) -> dict[str, str]:
    """Exact matchers on the client histograms for calls to ``external``."""
    labels = {v.SERVER_ADDRESS: external.host}
    if external.port is not None:
        labels[v.SERVER_PORT] = str(external.port)
    return labels


def external_group(spec: Spec, timing: Timing = PRODUCTION) -> dict[str, Any]:
    rules: list[dict[str, Any]] = []
    window = duration(timing.rate_window_s)
    quantile = f"p{round(DEPENDENCY_QUANTILE * 100)}"
    for external in spec.external:
        labels = {"dependency": external.name}
        own = matchers(labels)
        client = dependency_labels(external)
        count = selector(f"{v.HTTP_CLIENT_DURATION}_count", client)
        bucket = selector(f"{v.HTTP_CLIENT_DURATION}_bucket", client)
        limit_s = number(external.latency_threshold_ms / 1000)
        rules += [
            _record(
                f"dependency:http_client_requests:rate{window}",
                f"sum({_rate(count, timing.rate_window_s)})",
                labels,
            ),
            _record(
                f"dependency:{v.HTTP_CLIENT_DURATION}:{quantile}_rate{window}",
                f"histogram_quantile({DEPENDENCY_QUANTILE}, "
                f"sum by (le) ({_rate(bucket, timing.rate_window_s)}))",
                labels,
            ),
            {
                "alert": ALERT_DEPENDENCY_SLOW,
                "expr": (
                    f"dependency:{v.HTTP_CLIENT_DURATION}:{quantile}_rate{window}{own} > {limit_s}"
                    f"\nand on (dependency)\n"
                    f"dependency:http_client_requests:rate{window}{own} * {timing.rate_window_s}"
                    f" >= {MIN_REQUESTS}"
                ),
                "for": timing.dependency_for,
                "labels": {"severity": "ticket", "service": external.name},
                "annotations": {
                    "summary": f"{external.name} ({external.address}) is slow",
                    "description": (
                        f"Calls from our services to {external.name} "
                        f"({external.address}) take {{{{ $value | humanizeDuration }}}} at the "
                        f"{quantile} over the last {window}, above the "
                        f"{external.latency_threshold_ms} ms threshold."
                    ),
                    "runbook_url": runbook_url(ALERT_DEPENDENCY_SLOW),
                },
            },
        ]
    return {"name": "obskit-external", "rules": rules}


# --- platform --------------------------------------------------------------------------------


def platform_group(spec: Spec) -> dict[str, Any]:
    rules: list[dict[str, Any]] = []
    for service in spec.services:
        # A service that is down records no requests, so its SLO alerts stay silent: page.
        rules.append(
            {
                "alert": ALERT_TARGET_DOWN,
                "expr": f"{selector('up', service_labels(service))} == 0",
                "for": TARGET_DOWN_FOR,
                "labels": {"severity": "page", "service": service.name},
                "annotations": {
                    "summary": f"{service.name} is down",
                    "description": (
                        "Prometheus cannot scrape {{ $labels.instance }} of "
                        f"{service.name}: the service is down or unreachable, and its "
                        "SLO alerts cannot see requests it does not serve."
                    ),
                    "runbook_url": runbook_url(ALERT_TARGET_DOWN),
                },
            }
        )
    not_services = ",".join(f"job!={quote(s.name)}" for s in spec.services)
    job_service = "{{ $labels.job }}"
    rules += [
        {
            "alert": ALERT_TARGET_DOWN,
            "expr": f"up{{{not_services}}} == 0",
            "for": PLATFORM_TARGET_DOWN_FOR,
            "labels": {"severity": "ticket", "service": job_service},
            "annotations": {
                "summary": "{{ $labels.job }} is down",
                "description": (
                    "Prometheus cannot scrape {{ $labels.instance }} of the observability "
                    "stack's {{ $labels.job }}: its telemetry and alerts may be incomplete."
                ),
                "runbook_url": runbook_url(ALERT_TARGET_DOWN),
            },
        },
        {
            "alert": ALERT_COLLECTOR_REFUSING,
            "expr": f"sum by (job) ({_rate(v.COLLECTOR_REFUSED_SPANS)}) > 0",
            "for": COLLECTOR_FOR,
            "labels": {"severity": "ticket", "service": job_service},
            "annotations": {
                "summary": "{{ $labels.job }} refuses spans",
                "description": (
                    '{{ $labels.job }} refuses {{ printf "%.2f" $value }} spans/s at its '
                    "receivers (memory_limiter or a full pipeline): those traces are lost."
                ),
                "runbook_url": runbook_url(ALERT_COLLECTOR_REFUSING),
            },
        },
        {
            "alert": ALERT_COLLECTOR_DROPPING,
            "expr": (
                f"sum by (job) ({_rate(v.COLLECTOR_SEND_FAILED_SPANS)}) > 0\nor\n"
                f"sum by (job) ({_rate(v.COLLECTOR_ENQUEUE_FAILED_SPANS)}) > 0"
            ),
            "for": COLLECTOR_FOR,
            "labels": {"severity": "ticket", "service": job_service},
            "annotations": {
                "summary": "{{ $labels.job }} drops spans",
                "description": (
                    '{{ $labels.job }} fails to export {{ printf "%.2f" $value }} spans/s '
                    "(the trace backend is down or its sending queue is full): those traces "
                    "are lost."
                ),
                "runbook_url": runbook_url(ALERT_COLLECTOR_DROPPING),
            },
        },
        {
            "alert": ALERT_WATCHDOG,
            "expr": "vector(1)",
            "labels": {"severity": "none", "service": "prometheus"},
            "annotations": {
                "summary": "Alerting pipeline heartbeat (always firing)",
                "description": (
                    "This alert always fires, so that a receiver can tell the pipeline from "
                    "Prometheus through Alertmanager works; when it stops arriving, alerting "
                    f"is broken for project {spec.project}."
                ),
                "runbook_url": runbook_url(ALERT_WATCHDOG),
            },
        },
    ]
    return {"name": "obskit-platform", "rules": rules}
