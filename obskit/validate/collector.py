"""The OpenTelemetry Collector config, checked the way the Collector checks it at start-up
(there is no Collector binary to run here): every component a pipeline names is defined,
connectors join an exporting pipeline to a receiving one of the right signal types, and
``memory_limiter`` comes first wherever data enters."""

from __future__ import annotations

from typing import Any

from obskit.validate.check import Check, Outcome, failed, passed, plural
from obskit.validate.stackdir import COLLECTOR, StackDir

SIGNALS = ("traces", "metrics", "logs", "profiles")

# Connector type -> (signals it consumes, signals it emits), for the connectors we know.
CONNECTOR_SIGNALS: dict[str, tuple[set[str], set[str]]] = {
    "spanmetrics": ({"traces"}, {"metrics"}),
    "span_metrics": ({"traces"}, {"metrics"}),
    "servicegraph": ({"traces"}, {"metrics"}),
    "service_graph": ({"traces"}, {"metrics"}),
}
SAME_SIGNAL_CONNECTORS = frozenset({"forward", "routing", "failover", "roundrobin"})


def component_type(component_id: str) -> str:
    """``otlp/tempo`` -> ``otlp``."""
    return component_id.split("/", 1)[0]


def pipeline_problems(config: dict[str, Any]) -> list[str]:
    """Everything the Collector would reject (or we require) in ``service.pipelines``."""
    defined = {
        kind: set(_section(config, kind))
        for kind in ("receivers", "processors", "exporters", "connectors", "extensions")
    }
    service = config.get("service") or {}
    pipelines = service.get("pipelines") or {}
    if not isinstance(pipelines, dict) or not pipelines:
        return ["service.pipelines: no pipelines defined"]
    problems: list[str] = []
    for ext in service.get("extensions") or []:
        if ext not in defined["extensions"]:
            problems.append(_undefined("service.extensions", "extension", ext, defined))
    fed_by: dict[str, list[str]] = {}  # connector -> pipelines it receives from (as exporter)
    feeds: dict[str, list[str]] = {}  # connector -> pipelines it feeds (as receiver)
    for name, pipeline in pipelines.items():
        where = f"pipeline {name!r}"
        signal = component_type(name)
        if signal not in SIGNALS:
            problems.append(f"{where}: unknown signal {signal!r} (use {', '.join(SIGNALS)})")
        pipeline = pipeline or {}
        receivers = list(pipeline.get("receivers") or [])
        processors = list(pipeline.get("processors") or [])
        exporters = list(pipeline.get("exporters") or [])
        for role, ids in (("receivers", receivers), ("exporters", exporters)):
            if not ids:
                problems.append(f"{where}: no {role}")
        for role, ids in (
            ("receiver", receivers),
            ("processor", processors),
            ("exporter", exporters),
        ):
            for dup in sorted({i for i in ids if ids.count(i) > 1}):
                problems.append(f"{where}: {role} {dup!r} listed twice")
        for rid in receivers:
            if rid in defined["connectors"]:
                feeds.setdefault(rid, []).append(name)
            elif rid not in defined["receivers"]:
                problems.append(_undefined(where, "receiver", rid, defined, "receivers"))
        for pid in processors:
            if pid not in defined["processors"]:
                problems.append(_undefined(where, "processor", pid, defined, "processors"))
        for eid in exporters:
            if eid in defined["connectors"]:
                fed_by.setdefault(eid, []).append(name)
            elif eid not in defined["exporters"]:
                problems.append(_undefined(where, "exporter", eid, defined, "exporters"))
        problems.extend(_memory_limiter_problems(where, receivers, processors, defined))
    problems.extend(_connector_problems(defined["connectors"], fed_by, feeds))
    return problems


def _memory_limiter_problems(
    where: str, receivers: list[str], processors: list[str], defined: dict[str, set[str]]
) -> list[str]:
    """The limiter must refuse data before any other processor holds it in memory. Pipelines
    fed only by connectors get data that already passed a limiter."""
    limiters = [p for p in processors if component_type(p) == "memory_limiter"]
    entry = any(r not in defined["connectors"] for r in receivers)
    if limiters and component_type(processors[0]) != "memory_limiter":
        return [f"{where}: memory_limiter must be the first processor, not {processors[0]!r}"]
    if entry and not limiters:
        return [f"{where}: takes data from a receiver but has no memory_limiter processor first"]
    return []


def _connector_problems(
    connectors: set[str], fed_by: dict[str, list[str]], feeds: dict[str, list[str]]
) -> list[str]:
    problems: list[str] = []
    for cid in sorted(connectors):
        sources, targets = fed_by.get(cid, []), feeds.get(cid, [])
        if not sources and not targets:
            continue  # defined, unused: the Collector ignores it
        if not sources:
            problems.append(
                f"connector {cid!r} is a receiver in {_names(targets)}"
                " but no pipeline exports to it"
            )
            continue
        if not targets:
            problems.append(
                f"connector {cid!r} is an exporter in {_names(sources)}"
                " but no pipeline receives from it"
            )
            continue
        kind = component_type(cid)
        for source in sources:
            for target in targets:
                pair = (component_type(source), component_type(target))
                if not _connects(kind, *pair):
                    problems.append(
                        f"connector {cid!r} cannot join {pair[0]} pipeline {source!r}"
                        f" to {pair[1]} pipeline {target!r}"
                    )
    return problems


def _connects(kind: str, source_signal: str, target_signal: str) -> bool:
    if kind in CONNECTOR_SIGNALS:
        consumes, emits = CONNECTOR_SIGNALS[kind]
        return source_signal in consumes and target_signal in emits
    if kind in SAME_SIGNAL_CONNECTORS:
        return source_signal == target_signal
    return True  # a connector we do not know: trust it


def _section(config: dict[str, Any], kind: str) -> dict[str, Any]:
    section = config.get(kind) or {}
    return section if isinstance(section, dict) else {}


def _undefined(
    where: str, role: str, cid: str, defined: dict[str, set[str]], section: str = "extensions"
) -> str:
    sections = [section, "connectors"] if role in ("receiver", "exporter") else [section]
    known = sorted(set().union(*(defined[s] for s in sections)))
    return (
        f"{where}: {role} {cid!r} is not defined under {' or '.join(sections)}"
        f" (defined: {', '.join(known) or 'none'})"
    )


def _names(pipelines: list[str]) -> str:
    return ", ".join(repr(p) for p in pipelines)


def check_pipelines(stack: StackDir, _: list[str]) -> Outcome:
    config = stack.mapping(COLLECTOR)
    problems = pipeline_problems(config)
    if problems:
        return failed([f"{COLLECTOR}: {p}" for p in problems])
    pipelines = config["service"]["pipelines"]
    connectors = len(_section(config, "connectors"))
    return passed(
        f"{plural(len(pipelines), 'pipeline')}, {plural(connectors, 'connector')},"
        " every component defined"
    )


CHECKS = (Check("collector pipelines", check_pipelines),)
