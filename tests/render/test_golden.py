"""Golden outputs pin what users see for real traces and for the checkout example
(critical-path.md case 16): a change in reading, analysis or rendering shows up as a diff."""

from __future__ import annotations

import pytest

from obskit.render import render_graph, render_report
from tests.render.golden import check_golden
from tests.render.reports import (
    BOOKINFO,
    HOTROD,
    JAEGER_QUERY,
    PETCLINIC,
    SKEW,
    SMARTTHINGS,
    checkout_report,
    fixture_report,
)

REPORTS = {
    "hotrod": HOTROD,
    "bookinfo": BOOKINFO,
    "jaeger-query": JAEGER_QUERY,
    "petclinic": PETCLINIC,
    "clock-skew": SKEW,
    "smartthings": SMARTTHINGS,
}
EXTENSIONS = {"text": "txt", "json": "json", "markdown": "md"}


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
@pytest.mark.parametrize("name", list(REPORTS))
def test_fixture_report(name: str, fmt: str) -> None:
    text = render_report(fixture_report(REPORTS[name]), fmt)
    check_golden(f"analyze_{name}.{EXTENSIONS[fmt]}", text)


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_checkout_with_a_slow_external_gateway(fmt: str) -> None:
    text = render_report(checkout_report(), fmt)
    check_golden(f"analyze_checkout_external-gateway.{EXTENSIONS[fmt]}", text)
    if fmt == "text":
        assert "▲ checkout → payments-gateway (external)  POST /charge  CP 830.0 ms (83.0%)" in text


@pytest.mark.parametrize(("fmt", "ext"), [("text", "txt"), ("dot", "dot"), ("mermaid", "mmd")])
@pytest.mark.parametrize("name", ["hotrod", "bookinfo"])
def test_fixture_graph(name: str, fmt: str, ext: str) -> None:
    check_golden(f"graph_{name}.{ext}", render_graph(fixture_report(REPORTS[name]), fmt))


def test_checkout_graph_dot() -> None:
    check_golden("graph_checkout_external-gateway.dot", render_graph(checkout_report(), "dot"))
