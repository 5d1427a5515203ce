"""The hostile-input corpus (tests/fixtures/hostile): minimal inputs that once crashed, hung or
escaped, one per file (see make_corpus.py there)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import FIXTURES

HOSTILE = FIXTURES / "hostile"
TRACES = sorted((HOSTILE / "traces").iterdir())
SPECS = sorted((HOSTILE / "specs").iterdir())
BIDI = "pay\u202eFDP.exe\u2066x\u2069\u200f"
# characters that reorder or hide text: none may reach an output raw
INVISIBLE = ("\u202e", "\u2066", "\u2069", "\u200f", "\x1b")


def trace(name: str) -> Path:
    return HOSTILE / "traces" / name


def spec(name: str) -> Path:
    return HOSTILE / "specs" / name
