"""The RED dashboard: rate, errors and duration of one service (the ``$service`` variable),
per route, for its outbound calls, and its recent traces."""

from __future__ import annotations

from typing import Any

from obskit.stack import vocabulary as v
from obskit.stack.grafana import panels as p
from obskit.stack.grafana import queries as q
from obskit.stack.grafana.datasources import traces_type, traces_uid
from obskit.stack.spec import Spec

UID = "obskit-red"
SERVICE = "$service"
ROUTE_LABELS = (v.ROUTE, v.METHOD)
WINDOW = "$__range"  # tables summarise the whole selected time range


def service_variable(spec: Spec) -> dict[str, Any]:
    # Values come from the label the panels filter on, so every choice has data.
    query = f"label_values({v.HTTP_SERVER_DURATION}_count, {q.SERVICE_LABEL})"
    first = spec.http_services[0].name
    return {
        "type": "query",
        "name": "service",
        "label": "Service",
        "description": "A service from obskit.yaml (its Prometheus scrape job).",
        "datasource": p.prometheus_ref(),
        "query": query,
        "definition": query,
        "current": {"text": first, "value": first},
        "options": [],
        "refresh": 2,
        "sort": 1,
        "multi": False,
        "includeAll": False,
        "regex": "",
        "hide": 0,
    }


def _headline(board: p.Board) -> None:
    board.add(
        p.stat(
            "Request rate",
            [p.target(q.request_rate(SERVICE), "A", instant=True)],
            unit="reqps",
            decimals=2,
        ),
        w=6,
        h=4,
    )
    board.add(
        p.stat(
            "Error ratio (5xx)",
            [p.target(q.error_ratio(SERVICE), "A", instant=True)],
            unit="percentunit",
            decimals=2,
            steps=p.thresholds((0.01, "orange"), (0.05, "red")),
        ),
        w=6,
        h=4,
    )
    for quantile in (0.95, 0.99):
        board.add(
            p.stat(
                f"p{round(quantile * 100)} latency",
                [p.target(q.latency_quantile(quantile, SERVICE), "A", instant=True)],
                unit="s",
                decimals=3,
            ),
            w=6,
            h=4,
        )


def _over_time(board: p.Board) -> None:
    status = f"{{{{{v.STATUS}}}}}"
    board.add(
        p.timeseries(
            "Requests by status code",
            [p.target(q.request_rate(SERVICE, labels=(v.STATUS,)), "A", legend=status)],
            unit="reqps",
            stacked=True,
        ),
        w=12,
        h=8,
    )
    board.add(
        p.timeseries(
            "Error ratio (5xx)",
            [p.target(q.error_ratio(SERVICE), "A", legend="5xx")],
            unit="percentunit",
            minimum=0,
        ),
        w=12,
        h=8,
    )
    board.add(
        p.timeseries(
            "Latency p50 / p95 / p99",
            [
                p.target(q.latency_quantile(quantile, SERVICE), ref, legend=legend, exemplar=True)
                for quantile, ref, legend in (
                    (0.5, "A", "p50"),
                    (0.95, "B", "p95"),
                    (0.99, "C", "p99"),
                )
            ],
            unit="s",
            description="From the service's http.server.request.duration histogram.",
            minimum=0,
        ),
        w=12,
        h=8,
    )
    span_p95 = (
        f"histogram_quantile(0.95, sum by (le) (rate({v.SPAN_DURATION}_bucket"
        f"{q.span_selector(SERVICE, q.SERVER_SPANS)}[{q.RATE_INTERVAL}])))"
    )
    board.add(
        p.timeseries(
            "Server span p95 (exemplars link to traces)",
            [p.target(span_p95, "A", legend="p95", exemplar=True)],
            unit="s",
            description=(
                "From the collector's span metrics. Each dot is an exemplar: "
                "click it to open that request's trace."
            ),
            minimum=0,
        ),
        w=12,
        h=8,
    )


def _routes(board: p.Board) -> None:
    board.row("Routes")
    board.add(
        p.table(
            "Routes over the selected time range",
            [
                p.target(
                    q.request_rate(SERVICE, WINDOW, ROUTE_LABELS), "A", instant=True, table=True
                ),
                p.target(
                    q.error_ratio(SERVICE, WINDOW, ROUTE_LABELS), "B", instant=True, table=True
                ),
                p.target(
                    q.latency_quantile(0.95, SERVICE, WINDOW, ROUTE_LABELS),
                    "C",
                    instant=True,
                    table=True,
                ),
                p.target(
                    q.latency_quantile(0.99, SERVICE, WINDOW, ROUTE_LABELS),
                    "D",
                    instant=True,
                    table=True,
                ),
            ],
            columns={
                v.ROUTE: "Route",
                v.METHOD: "Method",
                "Value #A": "Requests/s",
                "Value #B": "Error ratio",
                "Value #C": "p95 (s)",
                "Value #D": "p99 (s)",
            },
            sort_by="Requests/s",
        ),
        w=24,
        h=9,
    )


def _outbound(board: p.Board) -> None:
    board.row("Outbound calls")
    client = f"{v.HTTP_CLIENT_DURATION}"
    where = q.selector(SERVICE)
    server = f"{{{{{v.SERVER_ADDRESS}}}}}"
    board.add(
        p.timeseries(
            "Outbound requests by server",
            [
                p.target(
                    f"sum by ({v.SERVER_ADDRESS}) (rate({client}_count{where}[{q.RATE_INTERVAL}]))",
                    "A",
                    legend=server,
                )
            ],
            unit="reqps",
        ),
        w=12,
        h=8,
    )
    board.add(
        p.timeseries(
            "Outbound p95 latency by server",
            [
                p.target(
                    f"histogram_quantile(0.95, sum by ({v.SERVER_ADDRESS}, le) "
                    f"(rate({client}_bucket{where}[{q.RATE_INTERVAL}])))",
                    "A",
                    legend=server,
                    exemplar=True,
                )
            ],
            unit="s",
            minimum=0,
        ),
        w=12,
        h=8,
    )


def trace_search(spec: Spec, service: str, limit: int = 20) -> dict[str, Any]:
    if traces_type(spec) == "jaeger":
        return {"queryType": "search", "service": service, "limit": limit}
    return {
        "queryType": "traceql",
        "query": f'{{resource.service.name="{service}"}}',
        "filters": [],
        "limit": limit,
        "tableType": "traces",
    }


def dashboard(spec: Spec) -> dict[str, Any]:
    board = p.Board()
    _headline(board)
    _over_time(board)
    _routes(board)
    _outbound(board)
    board.row("Traces")
    board.add(
        p.traces_table(
            "Recent traces of $service",
            {"type": traces_type(spec), "uid": traces_uid(spec)},
            trace_search(spec, SERVICE),
        ),
        w=24,
        h=10,
    )
    return p.dashboard(
        uid=UID,
        title=f"{spec.project} / Service RED",
        description="Rate, errors and duration of one service, per route, with its traces.",
        board=board,
        tags=["obskit", "red"],
        variables=[service_variable(spec)],
    )
