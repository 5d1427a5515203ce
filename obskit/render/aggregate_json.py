"""``--format json`` for the aggregate report: ``AggregateReport.to_dict()``, indented, keys
in schema order, one trailing newline."""

from __future__ import annotations

from obskit.aggregate.report import AggregateGraph, AggregateReport
from obskit.render.json_report import dumps


def render(report: AggregateReport) -> str:
    return dumps(report.to_dict())


def render_graph(graph: AggregateGraph) -> str:
    return dumps(graph.to_dict())
