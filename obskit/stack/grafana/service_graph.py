"""The service-graph dashboard: who calls whom, how often, how often it fails, how slowly,
from the collector's service-graph connector (``traces_service_graph_*``)."""

from __future__ import annotations

from typing import Any

from obskit.stack import vocabulary as v
from obskit.stack.grafana import panels as p
from obskit.stack.grafana.datasources import traces_type, traces_uid
from obskit.stack.grafana.queries import RATE_INTERVAL
from obskit.stack.spec import Spec

UID = "obskit-service-graph"
EDGE = f"{v.GRAPH_CLIENT}, {v.GRAPH_SERVER}"
EDGE_LEGEND = f"{{{{{v.GRAPH_CLIENT}}}}} → {{{{{v.GRAPH_SERVER}}}}}"


def _rate(metric: str, window: str) -> str:
    return f"sum by ({EDGE}) (rate({metric}[{window}]))"


def _p95(histogram: str, window: str) -> str:
    return f"histogram_quantile(0.95, sum by ({EDGE}, le) (rate({histogram}_bucket[{window}])))"


def _failed_ratio(window: str) -> str:
    total = _rate(v.GRAPH_REQUESTS, window)
    return f"({_failed(window)}) / {total}"


def _failed(window: str) -> str:
    """Failed requests per second, 0 on a connection that has not failed yet: the failure
    counter appears only with the first failure."""
    return f"{_rate(v.GRAPH_FAILED, window)} or 0 * {_rate(v.GRAPH_REQUESTS, window)}"


def _node_graph(spec: Spec) -> p.Panel:
    ref = {"type": traces_type(spec), "uid": traces_uid(spec)}
    if traces_type(spec) == "jaeger":
        # Jaeger draws its dependency graph from stored traces.
        return p.node_graph("Service map", ref, {"queryType": "dependencyGraph"})
    # Tempo's service map reads the traces_service_graph_* series through its serviceMap
    # datasource (Prometheus): the same series as the tables below.
    return p.node_graph("Service map", ref, {"queryType": "serviceMap", "filters": []})


def dashboard(spec: Spec) -> dict[str, Any]:
    board = p.Board()
    board.add(_node_graph(spec), w=24, h=14)
    window = "$__range"
    board.add(
        p.table(
            "Connections over the selected time range",
            [
                p.target(_rate(v.GRAPH_REQUESTS, window), "A", instant=True, table=True),
                p.target(_failed_ratio(window), "B", instant=True, table=True),
                p.target(_p95(v.GRAPH_SERVER_SECONDS, window), "C", instant=True, table=True),
                p.target(_p95(v.GRAPH_CLIENT_SECONDS, window), "D", instant=True, table=True),
            ],
            columns={
                v.GRAPH_CLIENT: "Client",
                v.GRAPH_SERVER: "Server",
                "Value #A": "Requests/s",
                "Value #B": "Failed ratio",
                "Value #C": "Server p95 (s)",
                "Value #D": "Client p95 (s)",
            },
            sort_by="Requests/s",
            description="Client p95 minus server p95 is time spent between the two: network, "
            "queues, connection pools.",
        ),
        w=24,
        h=9,
    )
    board.row("Over time")
    panels = (
        ("Requests by connection", _rate(v.GRAPH_REQUESTS, RATE_INTERVAL), "reqps"),
        ("Failed requests by connection", _failed(RATE_INTERVAL), "reqps"),
        ("Server p95 by connection", _p95(v.GRAPH_SERVER_SECONDS, RATE_INTERVAL), "s"),
        ("Client p95 by connection", _p95(v.GRAPH_CLIENT_SECONDS, RATE_INTERVAL), "s"),
    )
    for title, expr, unit in panels:
        board.add(
            p.timeseries(title, [p.target(expr, "A", legend=EDGE_LEGEND)], unit=unit, minimum=0),
            w=12,
            h=8,
        )
    return p.dashboard(
        uid=UID,
        title=f"{spec.project} / Service graph",
        description="Calls between services and to external dependencies, from traces.",
        board=board,
        tags=["obskit", "service-graph"],
    )
