"""Issue 15 at `obskit analyze`: every file of the hostile corpus ends in a report (exit 0) or
one clean line (exit 2), in every output format (case 9: a JSON report used to die on times
past int64); a file (or stdin) is read up to the size limit HTTP answers have, raised with
--max-size (case 6: /dev/zero was read until MemoryError); and bidirectional-text marks are
inert in every output format (case 12)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner, Result

from obskit.cli import cli
from tests.hostile.corpus import BIDI, INVISIBLE, TRACES, trace


def analyze(*args: str, input: bytes | None = None) -> Result:
    return CliRunner().invoke(cli, ["analyze", *args], input=input)


def assert_clean(result: Result) -> None:
    """A report, or `Error: <one line>` and exit 2; never a traceback."""
    assert isinstance(result.exception, SystemExit | None), result.exception
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 2:
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), result.output


@pytest.mark.parametrize("path", TRACES, ids=lambda p: p.name)
@pytest.mark.parametrize("fmt", ["text", "json", "html", "markdown"])
def test_every_corpus_file_gives_a_report_or_one_line(path: Path, fmt: str) -> None:
    assert_clean(analyze("--file", str(path), "--format", fmt))


def test_a_file_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_bytes(trace("otlp-bidi-names.json").read_bytes() + b" " * 4096)
    result = analyze("--file", str(big), "--max-size", "1KiB")
    assert result.exit_code == 2
    assert "more than 1024 bytes" in result.output and "--max-size" in result.output
    assert analyze("--file", str(big), "--max-size", "1MiB").exit_code == 0


def test_stdin_over_the_size_limit_is_refused() -> None:
    result = analyze("--file", "-", "--max-size", "100", input=b"x" * 1000)
    assert result.exit_code == 2
    assert "stdin: more than 100 bytes" in result.output


@pytest.mark.slow
def test_dev_zero_ends_in_one_line_not_a_memory_error() -> None:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "obskit", "analyze", "--file", "/dev/zero", "--max-size", "8MiB"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "Error: /dev/zero: more than 8388608 bytes (pass --max-size (or set "
        "OBSKIT_MAX_RESPONSE_BYTES) if the trace really is that big)"
    ]
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("fmt", ["text", "json", "html", "markdown"])
def test_bidi_marks_are_inert_in_every_report_format(fmt: str) -> None:
    result = analyze("--file", str(trace("otlp-bidi-names.json")), "--format", fmt)
    assert result.exit_code == 0, result.output
    assert not any(mark in result.output for mark in INVISIBLE)
    if fmt == "json":
        # escaped, not changed: a JSON reader gets the names back as they were
        report = orjson.loads(result.output)
        assert BIDI in orjson.dumps(report).decode()
    else:
        assert "\\u202e" in result.output


@pytest.mark.parametrize("fmt", ["text", "dot", "mermaid", "json"])
def test_bidi_marks_are_inert_in_every_graph_format(fmt: str) -> None:
    result = CliRunner().invoke(
        cli, ["graph", "--file", str(trace("otlp-bidi-names.json")), "--format", fmt]
    )
    assert result.exit_code == 0, result.output
    assert not any(mark in result.output for mark in INVISIBLE)
    assert "\\u202e" in result.output  # the name is there, shown escaped
