"""Stack generation: ``generate_stack(spec)`` returns every generated file as data, keyed by
its path relative to the output directory. Writing (with the manifest that protects a user's
edits) is :mod:`obskit.stack.writer`'s job; turning data into text is
:mod:`obskit.stack.serialize`'s.

Each component module exposes ``files(spec) -> dict[str, data]``; :data:`COMPONENTS` lists
them in the order they are generated.
"""

from __future__ import annotations

import importlib
from typing import Any

from obskit.stack.spec import Spec

COMPONENTS: tuple[str, ...] = (
    "obskit.stack.collector",
    "obskit.stack.prometheus",
    "obskit.stack.rules",
    "obskit.stack.rule_tests",
    "obskit.stack.alertmanager",
    "obskit.stack.grafana",
    "obskit.stack.compose",
)


def generate_stack(spec: Spec) -> dict[str, Any]:
    """Every generated file, as data, keyed by relative path, in a stable order."""
    files: dict[str, Any] = {}
    for module_name in COMPONENTS:
        module = importlib.import_module(module_name)
        for path, data in module.files(spec).items():
            if path in files:
                raise RuntimeError(f"{module_name} generates {path} a second time")
            files[path] = data
    return dict(sorted(files.items()))
