"""The stack at the repository's top level is exactly what ``obskit init`` generates for
``demo_services/obskit.yaml``: regenerate it into a temporary directory and compare every file
the committed manifest lists, byte for byte.

To update the committed stack after changing a generator:
``obskit init --spec demo_services/obskit.yaml --out .``
"""

from __future__ import annotations

import json
from pathlib import Path

from obskit.stack import writer
from obskit.stack.manifest import NAME as MANIFEST
from obskit.stack.spec import load_spec
from tests.conftest import REPO

DEMO_SPEC = REPO / "demo_services" / "obskit.yaml"
HOW_TO_FIX = "regenerate with `obskit init --spec demo_services/obskit.yaml --out .`"


def test_the_committed_stack_is_what_init_generates(tmp_path: Path) -> None:
    committed = json.loads((REPO / MANIFEST).read_text(encoding="utf-8"))["files"]
    rendered = writer.render(load_spec(DEMO_SPEC), spec_name=DEMO_SPEC.name)
    report = writer.write(tmp_path, rendered)
    assert not report.paths(writer.Status.KEPT)

    assert sorted(committed) == sorted(rendered), HOW_TO_FIX
    different = [
        rel
        for rel in sorted(committed)
        if not (REPO / rel).is_file() or (REPO / rel).read_bytes() != (tmp_path / rel).read_bytes()
    ]
    assert different == [], f"{different} differ from the generated stack: {HOW_TO_FIX}"
    assert (REPO / MANIFEST).read_bytes() == (tmp_path / MANIFEST).read_bytes(), HOW_TO_FIX


def test_the_grafana_password_is_never_committed() -> None:
    ignored = (REPO / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "secrets/" in ignored
    committed = json.loads((REPO / MANIFEST).read_text(encoding="utf-8"))["files"]
    assert not any(rel.startswith("secrets/") for rel in committed)
