"""PromQL the dashboards share, built from :mod:`obskit.stack.vocabulary` names only.

Which label names a service:
* on the services' own HTTP histograms, ``job``: Prometheus scrapes each service in a job
  named after it (the OTel Prometheus exporter keeps resource attributes in ``target_info``);
* on the collector's span metrics, ``service_name`` (the span's ``service.name``).
"""

from __future__ import annotations

from obskit.stack import vocabulary as v

SERVICE_LABEL = "job"
SPAN_SERVICE_LABEL = "service_name"
SERVER_SPANS = 'span_kind="SPAN_KIND_SERVER"'
ERROR_STATUS = f'{v.STATUS}=~"5.."'

RATE_INTERVAL = "$__rate_interval"


def selector(service: str, *matchers: str) -> str:
    """``{job="checkout", ...}``. Service names are validated by the spec (letters, digits,
    ``._-``), so they are safe inside a PromQL string."""
    return "{" + ", ".join((f'{SERVICE_LABEL}="{service}"', *matchers)) + "}"


def span_selector(service: str, *matchers: str) -> str:
    return "{" + ", ".join((f'{SPAN_SERVICE_LABEL}="{service}"', *matchers)) + "}"


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


def le_matcher(threshold_ms: int) -> str:
    """``le`` matcher for a bucket boundary that is equal to ``threshold_ms``.

    Exporters write ``1`` and Prometheus 3 normalises to ``1.0``; a regex accepts both.
    """
    seconds = threshold_ms / 1000
    if seconds == int(seconds):
        return f'le=~"{int(seconds)}(\\\\.0+)?"'
    return 'le=~"' + repr(seconds).replace(".", "\\\\.") + '"'


def slow_ratio(service: str, threshold_ms: int, window: str) -> str:
    """Share of server spans slower than ``threshold_ms``, from the collector's span metrics,
    whose buckets include every SLO threshold (the services' own buckets may not)."""
    fast = (
        f"sum(rate({v.SPAN_DURATION}_bucket"
        f"{span_selector(service, SERVER_SPANS, le_matcher(threshold_ms))}[{window}]))"
    )
    total = f"sum(rate({v.SPAN_DURATION}_count{span_selector(service, SERVER_SPANS)}[{window}]))"
    return f"1 - {fast} / {total}"
