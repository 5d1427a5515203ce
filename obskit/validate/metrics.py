"""Every metric a rule, a dashboard panel or a datasource link reads is one the stack
produces: the vocabulary (:data:`obskit.stack.vocabulary.PRODUCED`), the outputs of the
recording rules, and the series Prometheus writes for alerting rules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from obskit.stack.promql_names import PromQLSyntaxError, metric_names
from obskit.stack.vocabulary import PRODUCED
from obskit.validate.check import Check, Outcome, failed, passed, plural
from obskit.validate.stackdir import StackDir

# Prometheus writes these for every alerting rule it evaluates.
ALERT_SERIES = frozenset({"ALERTS", "ALERTS_FOR_STATE"})


def rules(stack: StackDir) -> Iterator[tuple[str, dict[str, Any]]]:
    """(file, rule) for every rule in the generated rule files."""
    for rel in stack.rule_files:
        for group in stack.mapping(rel).get("groups") or []:
            for rule in (group or {}).get("rules") or []:
                if isinstance(rule, dict):
                    yield rel, rule


def rule_queries(stack: StackDir) -> Iterator[tuple[str, str]]:
    for rel, rule in rules(stack):
        kind = "alert" if "alert" in rule else "record"
        yield f"{rel}: {kind} {rule.get(kind)}", str(rule.get("expr", ""))


def dashboard_queries(stack: StackDir) -> Iterator[tuple[str, str]]:
    from obskit.stack.grafana import iter_panels, panel_queries

    for rel in stack.dashboard_files:
        dashboard = stack.mapping(rel)
        for panel in iter_panels(dashboard):
            # One panel at a time (without its nested row panels) to name it in the detail.
            alone = {key: value for key, value in panel.items() if key != "panels"}
            for expr in panel_queries({"panels": [alone]}):
                yield f"{rel}: panel {panel.get('title', '')!r}", expr
        for name, expr in variable_queries(dashboard):
            yield f"{rel}: variable ${name}", expr


def variable_queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """PromQL inside query variables: ``label_values(metric, label)`` reads ``metric``,
    ``query_result(expr)`` reads ``expr``; ``label_values(label)`` reads no metric."""
    for var in (dashboard.get("templating") or {}).get("list") or []:
        if not isinstance(var, dict) or var.get("type") != "query":
            continue
        query = var.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        if not isinstance(query, str):
            continue
        query = query.strip()
        name = str(var.get("name"))
        if query.startswith("label_values(") and query.endswith(")"):
            inner = query[len("label_values(") : -1]
            if "," in inner:  # label_values(metric{...}, label): the label is no metric
                yield name, inner[: inner.rindex(",")]
        elif query.startswith("query_result(") and query.endswith(")"):
            yield name, query[len("query_result(") : -1]


def datasource_queries(stack: StackDir) -> Iterator[tuple[str, str]]:
    """traces-to-metrics queries in datasource provisioning (``$$`` is a literal ``$`` there)."""
    for rel in stack.datasource_files:
        for ds in stack.mapping(rel).get("datasources") or []:
            links = ((ds or {}).get("jsonData") or {}).get("tracesToMetrics") or {}
            for query in links.get("queries") or []:
                if isinstance(query, dict) and query.get("query"):
                    where = f"{rel}: {ds.get('name')} link {query.get('name')!r}"
                    yield where, str(query["query"]).replace("$$", "$")


def check_metrics(stack: StackDir, _: list[str]) -> Outcome:
    all_rules = list(rules(stack))
    produced = set(PRODUCED)
    produced |= {str(rule["record"]) for _, rule in all_rules if "record" in rule}
    if any("alert" in rule for _, rule in all_rules):
        produced |= ALERT_SERIES
    problems: list[str] = []
    queries = 0
    sources = (
        (rule_queries(stack), False),  # promtool reports a rule it cannot parse, precisely
        (dashboard_queries(stack), True),  # nothing else reads dashboard PromQL
        (datasource_queries(stack), True),
    )
    for source, report_syntax in sources:
        for where, expr in source:
            queries += 1
            try:
                names = metric_names(expr)
            except PromQLSyntaxError as err:
                if report_syntax:
                    problems.append(f"{where}: cannot read the query: {err}")
                continue
            for name in names:
                if name not in produced:
                    problems.append(f"{where} reads {name}, which nothing in the stack produces")
    if problems:
        return failed(problems)
    return passed(f"{plural(queries, 'query', 'queries')} read only produced metrics")


CHECKS = (Check("metrics produced", check_metrics),)
