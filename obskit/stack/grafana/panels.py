"""Small builders for classic Grafana dashboard JSON (schemaVersion 41), as plain dicts.

Each builder emits every field the per-plugin JSON schemas require and no editor-only keys,
so the output validates against Grafana's schemas (tests/stack/test_grafana.py).
:class:`Board` lays panels out on the 24-column grid and numbers them, so ids and positions
depend only on the order panels are added: the same spec gives the same JSON.
"""

from __future__ import annotations

from typing import Any

from obskit.stack.grafana.datasources import PROMETHEUS_UID

SCHEMA_VERSION = 41
GRID_WIDTH = 24

Panel = dict[str, Any]


def prometheus_ref() -> dict[str, str]:
    return {"type": "prometheus", "uid": PROMETHEUS_UID}


def target(
    expr: str,
    ref_id: str,
    *,
    legend: str = "__auto",
    instant: bool = False,
    table: bool = False,
    exemplar: bool = False,
) -> dict[str, Any]:
    """One Prometheus query. Instant queries give one value per series (stats, tables)."""
    query: dict[str, Any] = {
        "datasource": prometheus_ref(),
        "editorMode": "code",
        "expr": expr,
        "legendFormat": legend,
        "range": not instant,
        "instant": instant,
        "refId": ref_id,
    }
    if table:
        query["format"] = "table"
    if exemplar:
        query["exemplar"] = True
    return query


def thresholds(*steps: tuple[float, str], base: str = "green") -> dict[str, Any]:
    """Absolute thresholds; the base step (``value: null``) stands for minus infinity."""
    return {
        "mode": "absolute",
        "steps": [{"color": base, "value": None}]
        + [{"color": color, "value": value} for value, color in steps],
    }


def _field_defaults(
    unit: str,
    *,
    custom: dict[str, Any] | None = None,
    steps: dict[str, Any] | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    decimals: int | None = None,
    mappings: list[dict[str, Any]] | None = None,
    color: str = "palette-classic",
) -> dict[str, Any]:
    defaults: dict[str, Any] = {"unit": unit, "color": {"mode": color}}
    if custom is not None:
        defaults["custom"] = custom
    if decimals is not None:
        defaults["decimals"] = decimals
    if minimum is not None:
        defaults["min"] = minimum
    if maximum is not None:
        defaults["max"] = maximum
    defaults["mappings"] = mappings or []
    defaults["thresholds"] = steps or thresholds()
    return defaults


def timeseries(
    title: str,
    targets: list[dict[str, Any]],
    *,
    unit: str,
    description: str = "",
    steps: dict[str, Any] | None = None,
    show_thresholds: bool = False,
    minimum: float | None = None,
    stacked: bool = False,
) -> Panel:
    custom: dict[str, Any] = {
        "drawStyle": "line",
        "lineWidth": 1,
        "fillOpacity": 10 if stacked else 0,
        "showPoints": "never",
        "spanNulls": False,
        "stacking": {"mode": "normal" if stacked else "none", "group": "A"},
        "thresholdsStyle": {"mode": "dashed" if show_thresholds else "off"},
    }
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": prometheus_ref(),
        "fieldConfig": {
            "defaults": _field_defaults(unit, custom=custom, steps=steps, minimum=minimum),
            "overrides": [],
        },
        "options": {
            "legend": {
                "displayMode": "list",
                "placement": "bottom",
                "showLegend": True,
                "calcs": [],
            },
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "targets": targets,
    }


def stat(
    title: str,
    targets: list[dict[str, Any]],
    *,
    unit: str,
    description: str = "",
    steps: dict[str, Any] | None = None,
    decimals: int | None = None,
    mappings: list[dict[str, Any]] | None = None,
    text_mode: str = "auto",
) -> Panel:
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": prometheus_ref(),
        "fieldConfig": {
            "defaults": _field_defaults(
                unit, steps=steps, decimals=decimals, mappings=mappings, color="thresholds"
            ),
            "overrides": [],
        },
        "options": {
            "graphMode": "none",
            "colorMode": "value",
            "justifyMode": "auto",
            "textMode": text_mode,
            "wideLayout": True,
            "showPercentChange": False,
            "percentChangeColorMode": "standard",
            "orientation": "auto",
            "reduceOptions": {"values": False, "calcs": ["lastNotNull"], "fields": ""},
        },
        "targets": targets,
    }


def table(
    title: str,
    targets: list[dict[str, Any]],
    *,
    columns: dict[str, str],
    description: str = "",
    unit: str = "short",
    sort_by: str | None = None,
) -> Panel:
    """Instant table queries merged on their shared labels; ``columns`` renames fields
    (``Value #A`` -> "Requests/s") and lists, in order, the ones worth showing."""
    panel: Panel = {
        "type": "table",
        "title": title,
        "description": description,
        "datasource": prometheus_ref(),
        "fieldConfig": {"defaults": _field_defaults(unit), "overrides": []},
        "options": {
            "frameIndex": 0,
            "showHeader": True,
            "cellHeight": "sm",
            "footer": {"show": False, "reducer": ["sum"], "countRows": False},
        },
        "targets": targets,
        "transformations": [
            {"id": "merge", "options": {}},
            {
                "id": "organize",
                "options": {
                    "excludeByName": {"Time": True},
                    "indexByName": {name: i for i, name in enumerate(columns)},
                    "renameByName": columns,
                },
            },
        ],
    }
    if sort_by:
        panel["options"]["sortBy"] = [{"displayName": sort_by, "desc": True}]
    return panel


def node_graph(title: str, datasource: dict[str, str], query: dict[str, Any]) -> Panel:
    return {
        "type": "nodeGraph",
        "title": title,
        "datasource": datasource,
        "fieldConfig": {"defaults": {}, "overrides": []},
        "options": {
            "nodes": {"mainStatUnit": "ms", "secondaryStatUnit": "reqps", "arcs": []},
            "edges": {"mainStatUnit": "ms", "secondaryStatUnit": "reqps"},
            "zoomMode": "cooperative",
        },
        "targets": [{"datasource": datasource, "refId": "A", **query}],
    }


def traces_table(title: str, datasource: dict[str, str], query: dict[str, Any]) -> Panel:
    """A trace search shown as a table: each row links to the trace view."""
    return {
        "type": "table",
        "title": title,
        "datasource": datasource,
        "fieldConfig": {"defaults": {}, "overrides": []},
        "options": {"frameIndex": 0, "showHeader": True, "cellHeight": "sm"},
        "targets": [{"datasource": datasource, "refId": "A", **query}],
    }


def text(title: str, content: str) -> Panel:
    return {
        "type": "text",
        "title": title,
        "options": {"mode": "markdown", "content": content},
    }


class Board:
    """Panels in reading order: left to right, wrapping at 24 columns, rows full width.

    Panels after a collapsed row live inside it (Grafana's model); panels after an
    expanded row follow it at the top level.
    """

    def __init__(self) -> None:
        self.panels: list[Panel] = []
        self._next_id = 1
        self._x = 0
        self._y = 0
        self._line_height = 0
        self._collapsed_row: Panel | None = None

    def _place(self, panel: Panel, w: int, h: int) -> Panel:
        if not 0 < w <= GRID_WIDTH:
            raise ValueError(f"panel width {w} is outside 1..{GRID_WIDTH}")
        if self._x + w > GRID_WIDTH:
            self._newline()
        panel["id"] = self._next_id
        self._next_id += 1
        panel["gridPos"] = {"h": h, "w": w, "x": self._x, "y": self._y}
        self._x += w
        self._line_height = max(self._line_height, h)
        return panel

    def _newline(self) -> None:
        self._y += self._line_height
        self._x = 0
        self._line_height = 0

    def add(self, panel: Panel, *, w: int, h: int) -> Panel:
        placed = self._place(panel, w, h)
        if self._collapsed_row is not None:
            self._collapsed_row["panels"].append(placed)
        else:
            self.panels.append(placed)
        return placed

    def row(self, title: str, *, collapsed: bool = False) -> Panel:
        if self._x:
            self._newline()
        row: Panel = {"type": "row", "title": title, "collapsed": collapsed, "panels": []}
        self._collapsed_row = None
        self._place(row, GRID_WIDTH, 1)
        self._newline()
        self.panels.append(row)
        if collapsed:
            self._collapsed_row = row
        return row


def dashboard(
    *,
    uid: str,
    title: str,
    description: str,
    board: Board,
    tags: list[str],
    variables: list[dict[str, Any]] | None = None,
    time_from: str = "now-1h",
) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": tags,
        "timezone": "browser",
        "editable": False,
        "graphTooltip": 1,
        "time": {"from": time_from, "to": "now"},
        "refresh": "30s",
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "links": [
            {
                "title": "obskit dashboards",
                "type": "dashboards",
                "icon": "external link",
                "tooltip": "",
                "tags": ["obskit"],
                "asDropdown": True,
                "targetBlank": False,
                "includeVars": False,
                "keepTime": True,
            }
        ],
        # Grafana adds its built-in "Annotations & Alerts" query on load.
        "annotations": {"list": []},
        "templating": {"list": variables or []},
        "panels": board.panels,
    }
