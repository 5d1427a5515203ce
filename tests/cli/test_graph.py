"""`obskit graph`: the dependency graph from a backend or a file, as text, DOT or Mermaid."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from obskit.cli import cli
from tests.conftest import FIXTURES
from tests.render.golden import GOLDEN
from tests.sources.backend import HOTROD_ID


def test_graph_from_jaeger(jaeger_v3: str) -> None:
    result = CliRunner().invoke(cli, ["graph", "--trace-id", HOTROD_ID, "--jaeger", jaeger_v3])
    assert result.exit_code == 0, result.output
    assert result.stdout == (GOLDEN / "graph_hotrod.txt").read_text()


def test_graph_formats(tmp_path: Path) -> None:
    path = str(FIXTURES / "tempo-v1_api-traces_bookinfo_8spans.json")
    dot = CliRunner().invoke(cli, ["graph", "--file", path, "--format", "dot"])
    assert dot.stdout == (GOLDEN / "graph_bookinfo.dot").read_text()
    out = tmp_path / "deps.mmd"
    mermaid = CliRunner().invoke(cli, ["graph", "--file", path, "-o", str(out)])
    assert mermaid.exit_code == 0
    assert out.read_text() == (GOLDEN / "graph_bookinfo.mmd").read_text()
    assert mermaid.stderr == f"Wrote the mermaid graph to {out}\n"


def test_graph_rejects_report_formats() -> None:
    result = CliRunner().invoke(cli, ["graph", "--file", "x.json", "--format", "html"])
    assert result.exit_code == 2
    assert "Invalid value for '--format'" in result.stderr
