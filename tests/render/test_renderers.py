"""Renderer behaviour a user notices: escaping of hostile names in every format, the HTML
file standing alone, the tree fitting a screen, the format following -o's extension."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import orjson
import pytest

from obskit.analysis import analyze_trace
from obskit.errors import InputError
from obskit.render import (
    GRAPH_FORMATS,
    REPORT_FORMATS,
    format_for_path,
    render_graph,
    render_report,
)
from obskit.render.labels import bar, duration
from tests.render import traces
from tests.render.reports import HOTROD, checkout_report, fixture_report, hostile_report
from tests.render.traces import HOSTILE


class _Page(HTMLParser):
    """Collects what a browser would see: tags with their attributes, and text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


# --- HTML ------------------------------------------------------------------------------------


def test_html_is_self_contained() -> None:
    html = render_report(fixture_report(HOTROD), "html")
    page = parse(html)
    tags = {tag for tag, _ in page.tags}
    assert not tags & {"script", "link", "iframe", "img", "object", "embed"}
    for tag, attrs in page.tags:
        for name in ("src", "href", "action"):
            value = attrs.get(name) or ""
            assert not re.match(r"\s*(https?:)?//", value), (tag, name, value)
    assert "http://" not in html and "https://" not in html
    csp = [
        a for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"
    ]
    assert csp and "default-src 'none'" in (csp[0]["content"] or "")


def test_html_draws_waterfall_critical_sections_and_graph() -> None:
    report = fixture_report(HOTROD)
    page = parse(render_report(report, "html"))
    lanes = [a for t, a in page.tags if t == "div" and a.get("class") == "cp"]
    # every critical-path section is highlighted on its span's row
    assert len(lanes) == len(report.critical_path)
    nodes = [a for t, a in page.tags if t == "g" and (a.get("class") or "").startswith("node")]
    assert len(nodes) == len(report.graph.nodes)
    critical_edges = [a for t, a in page.tags if t == "path" and a.get("class") == "edge critical"]
    assert len(critical_edges) == sum(1 for e in report.graph.edges if e.critical_ns)
    rows = [a for t, a in page.tags if t == "tr" and "title" in a]
    assert len(rows) == report.span_count


def test_html_escapes_every_trace_string() -> None:
    html = render_report(hostile_report(), "html")
    assert "<script>" not in html
    assert "alert(1)</script>" not in html
    page = parse(html)
    assert not any(tag == "script" for tag, _ in page.tags)
    # and the names still read right once the browser decodes them (escaped once, not twice)
    text = "".join(page.text)
    assert HOSTILE in text
    titles = [a["title"] for t, a in page.tags if t == "tr" and "title" in a]
    assert any(HOSTILE in (title or "") for title in titles)
    assert "\x1b" not in html


# --- terminal --------------------------------------------------------------------------------


def test_terminal_shows_control_characters_instead_of_sending_them() -> None:
    for color in (False, True):
        text = render_report(hostile_report(), "text", color=color)
        assert "\\x1b[2J" in text
        assert "\x1b[2J" not in text
    assert "\x1b[" in render_report(hostile_report(), "text", color=True)  # rich's own styles
    assert "\x1b" not in render_report(hostile_report(), "text", color=False)


def test_terminal_tree_collapses_look_alike_siblings() -> None:
    text = render_report(analyze_trace(traces.fan_out(40)), "text")
    assert "├─ ⋯ 37 more redis GetDriver  (37 on the critical path, CP 37.0 ms)" in text
    assert text.count("redis  GetDriver") == 3


def test_terminal_report_fits_a_screen_for_a_huge_fan_out() -> None:
    text = render_report(analyze_trace(traces.fan_out(5_000)), "text")
    assert len(text.splitlines()) < 45
    assert "⋯ 4997 more redis GetDriver" in text


def test_terminal_lists_flagged_hops_before_the_table() -> None:
    text = render_report(checkout_report(), "text")
    assert (
        text.index("Slow hops") < text.index("Critical path by operation") < text.index("Span tree")
    )
    assert "holds 830ms of the critical path" in text


# --- Markdown, DOT, Mermaid, JSON --------------------------------------------------------------


def test_markdown_escapes_names_and_keeps_tables_intact() -> None:
    md = render_report(hostile_report(), "markdown")
    assert "<script" not in md
    table = [line for line in md.splitlines() if line.startswith("| ")]
    for row in table:
        assert len(re.findall(r"(?<!\\)\|", row)) == 5, row  # 4 cells: no stray pipes


def test_dot_keeps_names_out_of_the_syntax() -> None:
    dot = render_graph(hostile_report(), "dot")
    statement = re.compile(
        r"^  n\d+( -> n\d+)? \[label=<[^<>]*(<BR/>[^<>]*)*>(, [a-z]+=[^,\]]+)*\];$"
    )
    body = dot.splitlines()[4:-1]
    assert body and all(statement.match(line) for line in body), dot
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#x27;&amp;" in dot
    assert "\x1b" not in dot


def test_mermaid_labels_use_entity_codes() -> None:
    mmd = render_graph(hostile_report(), "mermaid")
    labels = re.findall(r'"([^"]*)"', mmd)
    assert "#lt;script#gt;alert(1)#lt;/script#gt;#quot;'#amp; (2 spans)" in labels
    for line in mmd.splitlines()[1:]:
        assert re.match(
            r'^  (n\d+(\[.*\]|\[\(.*\)\])|n\d+ -->\|".*"\| n\d+|linkStyle \d+ .*)$', line
        ), line
        assert "<" not in line and line.count('"') in (0, 2)


def test_json_is_the_documented_schema_and_stable() -> None:
    report = checkout_report()
    first = render_report(report, "json")
    assert first == render_report(report, "json")
    data = orjson.loads(first)
    assert data == orjson.loads(orjson.dumps(report.to_dict()))
    assert list(data)[:5] == ["trace_id", "root", "duration_ns", "span_count", "services"]
    hop = data["hops"][0]
    assert (hop["callee"], hop["external"], hop["critical_ns"], hop["flagged"]) == (
        "payments-gateway",
        True,
        830_000_000,
        True,
    )


# --- registry and labels -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("r.html", "html"),
        ("R.HTM", "html"),
        ("r.json", "json"),
        ("r.md", "markdown"),
        ("r.txt", "text"),
    ],
)
def test_report_format_from_extension(path: str, expected: str) -> None:
    assert format_for_path(path, REPORT_FORMATS) == expected


def test_graph_format_from_extension() -> None:
    assert format_for_path("deps.gv", GRAPH_FORMATS) == "dot"
    assert format_for_path("deps.mmd", GRAPH_FORMATS) == "mermaid"


def test_unknown_extension() -> None:
    with pytest.raises(InputError) as err:
        format_for_path("report.pdf", REPORT_FORMATS)
    assert str(err.value) == (
        "cannot tell the output format from 'report.pdf' (known extensions: .txt, .json, .html, "
        ".htm, .md, .markdown) (pass --format text|json|html|markdown)"
    )


def test_durations_and_bars() -> None:
    assert [duration(n) for n in (850, 12_345, 291_500_000, 1_210_000_000, 302_000_000_000)] == [
        "850 ns",
        "12.3 µs",
        "291.5 ms",
        "1.21 s",
        "5 min 02 s",
    ]
    assert bar(1.0) == "█" * 20
    assert bar(0.0) == ""
    assert bar(0.5, width=4) == "██"
    assert bar(0.025, width=20) == "▌"  # 4 of 8 eighths


def test_html_caps_the_waterfall_for_huge_traces() -> None:
    html = render_report(analyze_trace(traces.fan_out(3_000)), "html")
    page = parse(html)
    rows = [a for t, a in page.tags if t == "tr" and "title" in a]
    assert len(rows) == 2000
    assert "1001 more spans not drawn." in "".join(page.text)
