"""PromQL the dashboards share, built from :mod:`obskit.stack.vocabulary` names only.

Which label names a service:
* on the services' own HTTP histograms, ``job`` (:data:`obskit.stack.promql.SERVICE_LABEL`):
  Prometheus scrapes each service in a job named after it (the OTel Prometheus exporter keeps
  resource attributes in ``target_info``);
* on the collector's span metrics, ``service_name`` (the span's ``service.name``).
"""

from __future__ import annotations

from obskit.stack import vocabulary as v
from obskit.stack.promql import SERVICE_LABEL, le_matcher, quote

SPAN_SERVICE_LABEL = v.SPAN_SERVICE
SERVER_SPANS = f'{v.SPAN_KIND}="SPAN_KIND_SERVER"'
ERROR_SPANS = f'{v.SPAN_STATUS}="STATUS_CODE_ERROR"'
ERROR_STATUS = f'{v.STATUS}=~"5.."'

RATE_INTERVAL = "$__rate_interval"


def selector(service: str, *matchers: str) -> str:
    """``{job="checkout", ...}`` (``$service`` stays a Grafana variable)."""
    return "{" + ", ".join((f"{SERVICE_LABEL}={quote(service)}", *matchers)) + "}"


def span_selector(service: str, *matchers: str) -> str:
    return "{" + ", ".join((f"{SPAN_SERVICE_LABEL}={quote(service)}", *matchers)) + "}"


def by(labels: tuple[str, ...]) -> str:
    return f"sum by ({', '.join(labels)}) " if labels else "sum"


def request_rate(service: str, window: str = RATE_INTERVAL, labels: tuple[str, ...] = ()) -> str:
    return f"{by(labels)}(rate({v.HTTP_SERVER_DURATION}_count{selector(service)}[{window}]))"


def error_ratio(service: str, window: str = RATE_INTERVAL, labels: tuple[str, ...] = ()) -> str:
    """Share of requests answered 5xx. A service with no 5xx at all has no 5xx series, so
    ``or`` fills in zeros per group instead of showing "No data"."""
    errors = (
        f"{by(labels)}(rate({v.HTTP_SERVER_DURATION}_count"
        f"{selector(service, ERROR_STATUS)}[{window}]))"
    )
    total = request_rate(service, window, labels)
    return f"({errors} or 0 * {total}) / {total}"


def latency_quantile(
    quantile: float, service: str, window: str = RATE_INTERVAL, labels: tuple[str, ...] = ()
) -> str:
    group = ", ".join((*labels, "le"))
    return (
        f"histogram_quantile({quantile}, sum by ({group}) "
        f"(rate({v.HTTP_SERVER_DURATION}_bucket{selector(service)}[{window}])))"
    )


def slow_ratio(service: str, threshold_ms: int, window: str) -> str:
    """Share of requests slower than ``threshold_ms``: the bucket at the threshold counts the
    fast ones (the collector and ``obskit instrument`` put every SLO threshold into the
    buckets, as the SLO rules rely on too)."""
    fast = (
        f"sum(rate({v.HTTP_SERVER_DURATION}_bucket"
        f"{selector(service, le_matcher(threshold_ms))}[{window}]))"
    )
    return f"1 - {fast} / {request_rate(service, window)}"
