"""Golden files: tests/golden/<name>, compared byte for byte.

Regenerate after an intended change with ``OBSKIT_UPDATE_GOLDEN=1 python -m pytest tests/render
tests/cli``, then read the diff before committing it.
"""

from __future__ import annotations

import os

import pytest

from tests.conftest import REPO

GOLDEN = REPO / "tests" / "golden"
UPDATE = os.environ.get("OBSKIT_UPDATE_GOLDEN") == "1"


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"golden file {path} is missing; create it with OBSKIT_UPDATE_GOLDEN=1")
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{name} differs from its golden file (OBSKIT_UPDATE_GOLDEN=1)"
