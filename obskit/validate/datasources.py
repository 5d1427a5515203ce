"""Grafana datasources: every uid a dashboard (or another datasource's link) names is
provisioned, with the type the reference expects."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from obskit.validate.check import Check, Outcome, failed, passed, plural
from obskit.validate.stackdir import DATASOURCES_DIR, StackDir

# Grafana's own pseudo-datasources: always there.
BUILTIN_UIDS = frozenset({"grafana", "-- Grafana --", "-- Mixed --", "-- Dashboard --"})


def provisioned(stack: StackDir) -> dict[str, dict[str, Any]]:
    """uid -> datasource, from every provisioning file."""
    found: dict[str, dict[str, Any]] = {}
    for rel in stack.datasource_files:
        for ds in stack.mapping(rel).get("datasources") or []:
            if isinstance(ds, dict) and ds.get("uid"):
                found[str(ds["uid"])] = ds
    return found


def _references(data: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every ``"datasource": ...`` value in a dashboard, with its JSON path."""
    if isinstance(data, dict):
        for key, value in data.items():
            where = f"{path}.{key}" if path else key
            if key == "datasource":
                yield where, value
            else:
                yield from _references(value, where)
    elif isinstance(data, list):
        for i, item in enumerate(data):
            yield from _references(item, f"{path}[{i}]")


def _links(data: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every ``datasourceUid`` in a datasource's ``jsonData`` (exemplars, traces-to-metrics)."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "datasourceUid" and isinstance(value, str):
                yield f"{path}.{key}", value
            else:
                yield from _links(value, f"{path}.{key}")
    elif isinstance(data, list):
        for i, item in enumerate(data):
            yield from _links(item, f"{path}[{i}]")


def dashboard_problems(
    rel: str, dashboard: dict[str, Any], uids: dict[str, dict[str, Any]]
) -> list[str]:
    variables = {
        v.get("name"): v
        for v in (dashboard.get("templating") or {}).get("list") or []
        if isinstance(v, dict)
    }
    problems = []
    for where, ref in _references(dashboard, ""):
        problem = _reference_problem(ref, uids, variables)
        if problem:
            problems.append(f"{rel}: {where}: {problem}")
    for name, var in variables.items():
        if var.get("type") != "datasource":
            continue
        plugin = var.get("query")
        if plugin and not any(ds.get("type") == plugin for ds in uids.values()):
            problems.append(
                f"{rel}: variable ${name}: no provisioned datasource of type {plugin!r}"
            )
        current = (var.get("current") or {}).get("value")
        if _names_uid(current) and current not in uids and current not in BUILTIN_UIDS:
            problems.append(f"{rel}: variable ${name}: default uid {current!r} is not provisioned")
    return problems


def _names_uid(value: Any) -> bool:
    """A literal uid (not empty, not a ``$variable``)."""
    return isinstance(value, str) and bool(value) and not value.startswith("$")


def _reference_problem(
    ref: Any, uids: dict[str, dict[str, Any]], variables: dict[str, Any]
) -> str | None:
    if ref is None:
        return None  # the default datasource
    uid, kind = (ref.get("uid"), ref.get("type")) if isinstance(ref, dict) else (ref, None)
    if uid is None or uid in BUILTIN_UIDS:
        return None
    uid = str(uid)
    if uid.startswith("$"):
        name = uid.strip("${}")
        var = variables.get(name)
        if var is None or var.get("type") != "datasource":
            return f"{uid} is not a datasource variable of this dashboard"
        return None
    if uid not in uids:
        by_name = [u for u, ds in uids.items() if ds.get("name") == uid]
        if isinstance(ref, str) and by_name:
            return None  # legacy reference by name
        return f"datasource uid {uid!r} is not provisioned (provisioned: {', '.join(sorted(uids))})"
    if kind and uids[uid].get("type") != kind:
        return f"datasource {uid!r} has type {uids[uid].get('type')!r}, the panel expects {kind!r}"
    return None


def check_datasources(stack: StackDir, _: list[str]) -> Outcome:
    uids = provisioned(stack)
    if not uids:
        return failed(f"no datasources provisioned in {DATASOURCES_DIR}/")
    problems: list[str] = []
    for rel in stack.datasource_files:
        for i, ds in enumerate(stack.mapping(rel).get("datasources") or []):
            for where, uid in _links((ds or {}).get("jsonData"), f"datasources[{i}].jsonData"):
                if uid not in uids:
                    problems.append(f"{rel}: {where}: datasource uid {uid!r} is not provisioned")
    references = 0
    for rel in stack.dashboard_files:
        dashboard = stack.mapping(rel)
        references += sum(1 for _ in _references(dashboard, ""))
        problems.extend(dashboard_problems(rel, dashboard, uids))
    if problems:
        return failed(problems)
    return passed(
        f"{plural(len(uids), 'datasource')}; {plural(references, 'reference')} in"
        f" {plural(len(stack.dashboard_files), 'dashboard')} resolve"
    )


CHECKS = (Check("grafana datasources", check_datasources),)
