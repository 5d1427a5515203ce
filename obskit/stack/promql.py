"""Small PromQL building blocks shared by the rule and dashboard generators.

Names from the spec may contain dots, dashes and underscores, so every label value goes into a
query as an exact ``=`` matcher on a properly escaped string; a regex is only ever built from
values this module escapes itself (histogram ``le`` bounds).
"""

from __future__ import annotations

from collections.abc import Mapping

from obskit.stack.spec import Service

# The label that tells services apart: Prometheus scrapes each service in its own job, named
# after the service (obskit.stack.prometheus), and OTel's Prometheus exporter adds no
# service label of its own to the HTTP histograms.
SERVICE_LABEL = "job"

_REGEX_SPECIALS = set("\\.+*?()|[]{}^$")


def quote(value: str) -> str:
    """A PromQL double-quoted string literal holding exactly ``value``."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def regex_escape(value: str) -> str:
    """``value`` as an RE2 pattern that matches only itself."""
    return "".join(f"\\{c}" if c in _REGEX_SPECIALS else c for c in value)


def matchers(labels: Mapping[str, str], *extra: str) -> str:
    """``{a="x",b="y"}`` from exact label values, plus already-built matchers in ``extra``."""
    parts = [f"{name}={quote(value)}" for name, value in labels.items()]
    parts.extend(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def selector(metric: str, labels: Mapping[str, str] | None = None, *extra: str) -> str:
    return metric + matchers(labels or {}, *extra)


def service_labels(service: Service | str) -> dict[str, str]:
    """Exact matchers selecting one service's own series."""
    name = service if isinstance(service, str) else service.name
    return {SERVICE_LABEL: name}


def duration(seconds: int) -> str:
    """A Prometheus duration in the largest unit that divides it: 300 -> "5m", 86400 -> "1d"."""
    if seconds <= 0:
        raise ValueError(f"duration must be positive, got {seconds}")
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def le_spellings(threshold_ms: int) -> list[str]:
    """Every way an exporter writes the histogram bound ``threshold_ms`` as an ``le`` value.

    OTel's Python exporter prints ``str(bound)`` ("0.3", "1.0", or "1" for an int bound), Go
    exporters print the shortest form ("0.3", "1"), and Prometheus 3 normalises integers to
    "1.0" on ingestion. Thresholds are whole milliseconds, so these forms are all there are.
    """
    seconds = threshold_ms / 1000
    forms = [repr(seconds)]
    if seconds.is_integer():
        forms = [str(int(seconds)), f"{int(seconds)}.0"]
    return forms


def le_matcher(threshold_ms: int) -> str:
    """An ``le=~`` matcher selecting the bucket whose upper bound is ``threshold_ms``."""
    pattern = "|".join(regex_escape(form) for form in le_spellings(threshold_ms))
    return f"le=~{quote(pattern)}"


def number(value: float) -> str:
    """A float as a short PromQL literal (no binary noise: 0.0144, not 0.014400000000000001)."""
    text = f"{value:.12g}"
    return text
