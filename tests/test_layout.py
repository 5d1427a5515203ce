"""The rooms' rules (README "Layout"), read from the modules' source: aggregate/ analyses traces
it is handed (no HTTP, files, stdin or rendering), render/ draws reports without linking spans
again, and the aggregate engines import each other one way only."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGE = REPO / "obskit"
# calls that open or read a file (builtins, os, io, pathlib, and helpers named open_*)
FILE_CALLS = {"open", "pread", "read_bytes", "read_text", "write_bytes", "write_text", "fdopen"}


def opens_a_file(name: str) -> bool:
    return name in FILE_CALLS or name.startswith("open_")


def modules(package: str) -> list[Path]:
    return sorted((PACKAGE / package).rglob("*.py"))


def imported(tree: ast.AST) -> list[str]:
    """Every module an import statement names, wherever it stands (in functions too, and
    under ``if TYPE_CHECKING``); ``from a import b`` counts as ``a`` and ``a.b``."""
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def parse(path: Path) -> ast.AST:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


@pytest.mark.parametrize("path", modules("aggregate"), ids=lambda p: p.name)
def test_aggregate_neither_fetches_reads_files_nor_renders(path: Path) -> None:
    tree = parse(path)
    forbidden = ("obskit.sources", "obskit.render", "requests", "obskit.collect")
    bad = [n for n in imported(tree) if any(within(n, f) for f in forbidden)]
    assert bad == [], f"{path.name} imports {bad}"
    stdin = [
        node.lineno
        for node in ast.walk(tree)
        if (isinstance(node, ast.Attribute) and node.attr == "stdin")
        or (isinstance(node, ast.ImportFrom) and any(a.name == "stdin" for a in node.names))
    ]
    assert stdin == [], f"{path.name} reads sys.stdin (lines {stdin})"
    opens = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Name) and opens_a_file(node.func.id))
            or (isinstance(node.func, ast.Attribute) and opens_a_file(node.func.attr))
        )
    ]
    assert opens == [], f"{path.name} opens a file (lines {opens})"


@pytest.mark.parametrize("path", modules("render"), ids=lambda p: p.name)
def test_renderers_read_reports_and_never_link_spans_again(path: Path) -> None:
    bad = [n for n in imported(parse(path)) if within(n, "obskit.analysis.tree")]
    assert bad == [], f"{path.name} imports {bad}"


def test_the_rule_checks_see_what_they_look_for() -> None:
    # the checks above would catch the shapes they forbid
    sample = ast.parse(
        "import sys\nfrom obskit.analysis import tree\n"
        "def f():\n    from obskit.sources.files import FileSource\n"
        "    open('x')\n    sys.stdin.buffer.read()\n"
    )
    names = imported(sample)
    assert "obskit.analysis.tree" in names and "obskit.sources.files" in names
    calls = [n for n in ast.walk(sample) if isinstance(n, ast.Call)]
    assert any(isinstance(c.func, ast.Name) and c.func.id == "open" for c in calls)
    assert any(isinstance(n, ast.Attribute) and n.attr == "stdin" for n in ast.walk(sample))


def function_imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(parse(path)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in node.body:
                names += imported(inner)
    return names


def test_the_engines_import_each_other_one_way_at_the_top() -> None:
    pool, run = PACKAGE / "aggregate" / "pool.py", PACKAGE / "aggregate" / "run.py"
    assert not [n for n in imported(parse(run)) if within(n, "obskit.aggregate.pool")]
    for path in (pool, run):
        inner = [n for n in function_imports(path) if within(n, "obskit.aggregate")]
        assert inner == [], f"{path.name} imports {inner} inside a function"


@pytest.mark.parametrize(
    "order", [("pool", "run"), ("run", "pool")], ids=["pool-then-run", "run-then-pool"]
)
def test_pool_and_run_import_in_either_order_in_a_fresh_interpreter(order: tuple[str, str]) -> None:
    code = "; ".join(f"import obskit.aggregate.{name}" for name in order)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert (done.returncode, done.stderr) == (0, "")


def test_every_type_ignore_says_why() -> None:
    bare = [
        f"{path.relative_to(REPO)}:{n}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "# type: ignore" in line and not re.search(r"# type: ignore\[[\w,-]+\]  # \S", line)
    ]
    assert bare == []
