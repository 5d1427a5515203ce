"""The PromQL metric-name extractor that the dashboard and rule cross-checks rely on."""

from __future__ import annotations

import pytest

from obskit.stack.promql_names import PromQLSyntaxError, metric_names

CASES = [
    ("up", ["up"]),
    ("up == 0", ["up"]),
    ('count by (job) (up{job="api"} == 0)', ["up"]),
    (
        "histogram_quantile(0.95, sum by (le) (rate(http_server_request_duration_seconds_bucket[5m])))",
        ["http_server_request_duration_seconds_bucket"],
    ),
    # grouping after the aggregation, label names that look like metrics, repeated metric
    ("sum(rate(a_total[5m])) by (le, job) / sum(rate(a_total[5m]))", ["a_total"]),
    ("sum without (instance) (b)", ["b"]),
    # vector matching modifiers carry label lists, not metrics
    ("x * on(job) group_left(version, commit) target_info", ["x", "target_info"]),
    ("x / ignoring(code) group_right y", ["x", "y"]),
    # keywords, bool modifiers, set operators
    ("a > bool 1 and b or c unless d", ["a", "b", "c", "d"]),
    # offset, @ modifiers, subqueries with a colon step
    ("rate(a[5m] offset 1h) + b @ 1700000000", ["a", "b"]),
    ("max_over_time(rate(a[1m])[30m:1m])", ["a"]),
    # label values and label names never count, even when they are words like "sum" or "up"
    ('a{by="sum", up=~"or|and", le=~"1(\\\\.0+)?"}', ["a"]),
    # the __name__ matcher names a series; a regex __name__ does not name one series
    ('{__name__="job:requests:rate5m", job="x"}', ["job:requests:rate5m"]),
    ('{__name__=~"http_.*"}', []),
    # Grafana variables in ranges, label values and function arguments
    (
        'sum(rate(c_total{job="$service"}[$__rate_interval])) / ${divisor}',
        ["c_total"],
    ),
    # numbers in all their shapes, and functions without metrics
    ("vector(1e3) + 0x1f + .5 + Inf + NaN + time()", []),
    # strings containing what look like selectors
    ('label_replace(up, "dst", "fake_metric{x}", "src", "(.*)")', ["up"]),
    # comments
    ("a # b\n+ c", ["a", "c"]),
    # aggregation keywords are case-insensitive, metric names are not
    ("SUM BY (le) (Rate_Metric)", ["Rate_Metric"]),
    ("topk(3, sum by (route) (rate(z[5m])))", ["z"]),
]


@pytest.mark.parametrize(("expr", "names"), CASES)
def test_metric_names(expr: str, names: list[str]) -> None:
    assert metric_names(expr) == names


@pytest.mark.parametrize("expr", ["sum(rate(a[5m])", "a{job='x'", "a[5m", "sum by (le (a)"])
def test_unbalanced_expressions_are_rejected(expr: str) -> None:
    with pytest.raises(PromQLSyntaxError):
        metric_names(expr)
