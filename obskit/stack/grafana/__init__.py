"""Grafana: datasource and dashboard provisioning plus four dashboards, as data.

``files(spec)`` returns:

* ``grafana/provisioning/datasources/obskit.yaml``: Prometheus, Tempo or Jaeger, Alertmanager
  (fixed uids, exemplar -> trace and trace -> metrics links);
* ``grafana/provisioning/dashboards/obskit.yaml``: a read-only file provider for folder
  "obskit" reading :data:`DASHBOARDS_MOUNT`;
* ``grafana/dashboards/{red,service-graph,slo,stack-health}.json``.

``panel_queries(dashboard)`` lists every PromQL expression in a dashboard (for cross-checks
and for evaluating them against a live Prometheus, after :func:`expand_query`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from obskit.stack.grafana import datasources, health, red, service_graph, slo
from obskit.stack.grafana.datasources import (
    ALERTMANAGER_UID,
    JAEGER_UID,
    PROMETHEUS_UID,
    TEMPO_UID,
)
from obskit.stack.spec import Spec

__all__ = [
    "ALERTMANAGER_UID",
    "DASHBOARDS_DIR",
    "DASHBOARDS_MOUNT",
    "JAEGER_UID",
    "PROMETHEUS_UID",
    "PROVISIONING_DIR",
    "PROVISIONING_MOUNT",
    "TEMPO_UID",
    "dashboards",
    "expand_query",
    "files",
    "iter_panels",
    "panel_queries",
]

# Where docker-compose mounts the generated directories inside the Grafana container.
PROVISIONING_DIR = "grafana/provisioning"
PROVISIONING_MOUNT = "/etc/grafana/provisioning"
DASHBOARDS_DIR = "grafana/dashboards"
DASHBOARDS_MOUNT = "/var/lib/grafana/dashboards"
FOLDER = "obskit"


def dashboards(spec: Spec) -> dict[str, dict[str, Any]]:
    """File name (``red.json``) -> dashboard model."""
    return {
        "red.json": red.dashboard(spec),
        "service-graph.json": service_graph.dashboard(spec),
        "slo.json": slo.dashboard(spec),
        "stack-health.json": health.dashboard(spec),
        **dependency_dashboards(spec),
    }


def dependency_dashboards(spec: Spec) -> dict[str, dict[str, Any]]:
    from obskit.stack import dependencies

    return {"dependencies.json": dependencies.dashboard(spec)}


def dashboard_provider() -> dict[str, Any]:
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": "obskit",
                "orgId": 1,
                "folder": FOLDER,
                "folderUid": FOLDER,
                "type": "file",
                # Generated dashboards are code: change obskit.yaml, not the UI.
                "disableDeletion": True,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 30,
                "options": {"path": DASHBOARDS_MOUNT, "foldersFromFilesStructure": False},
            }
        ],
    }


def files(spec: Spec) -> dict[str, Any]:
    out: dict[str, Any] = {
        f"{PROVISIONING_DIR}/datasources/obskit.yaml": datasources.provisioning(spec),
        f"{PROVISIONING_DIR}/dashboards/obskit.yaml": dashboard_provider(),
    }
    for name, model in dashboards(spec).items():
        out[f"{DASHBOARDS_DIR}/{name}"] = model
    return out


# --- reading dashboards back ---------------------------------------------------------------


def iter_panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in (collapsed) rows, rows themselves included."""
    stack = list(reversed(dashboard.get("panels", [])))
    while stack:
        panel = stack.pop()
        yield panel
        stack.extend(reversed(panel.get("panels", [])))


def panel_queries(dashboard: Mapping[str, Any]) -> list[str]:
    """Every PromQL expression the dashboard's panels run, in panel order.

    A target counts as PromQL when it has an ``expr`` and its datasource (or its panel's) is
    Prometheus. Expressions keep Grafana's variables; see :func:`expand_query`.
    """
    found: list[str] = []
    for panel in iter_panels(dashboard):
        panel_type = (panel.get("datasource") or {}).get("type")
        for query in panel.get("targets", []):
            source_type = (query.get("datasource") or {}).get("type", panel_type)
            if source_type == "prometheus" and query.get("expr"):
                found.append(query["expr"])
    return found


# Grafana's built-in interval variables and what to put in their place outside Grafana.
DEFAULT_MACROS = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__range": "1h",
}
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")


def expand_query(expr: str, variables: Mapping[str, str] | None = None) -> str:
    """Replace Grafana variables (``$service``, ``${service}``, ``$__rate_interval``...) so a
    panel expression can be sent to Prometheus' ``/api/v1/query`` as it is.

    >>> expand_query('rate(x{job="$service"}[$__rate_interval])', {"service": "api"})
    'rate(x{job="api"}[1m])'
    """
    values = {**DEFAULT_MACROS, **(variables or {})}

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        if name not in values:
            raise KeyError(f"no value for Grafana variable ${name} in {expr!r}")
        return values[name]

    return _VARIABLE.sub(substitute, expr)
