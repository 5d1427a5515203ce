"""A generated stack on disk: where each file lives and its parsed contents."""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from obskit.errors import InputError

if TYPE_CHECKING:
    from obskit.stack.spec import Spec

COLLECTOR = "collectors/otel-collector.yaml"
PROMETHEUS = "prometheus/prometheus.yml"
RULES_DIR = "prometheus/rules"
TESTS_DIR = "prometheus/tests"
ALERTMANAGER = "alertmanager/alertmanager.yml"
COMPOSE = "docker-compose.yml"
ENV = ".env"
DATASOURCES_DIR = "grafana/provisioning/datasources"
DASHBOARDS_DIR = "grafana/dashboards"

# A directory is a generated stack when it holds at least one of these.
MARKERS = (PROMETHEUS, COLLECTOR, ALERTMANAGER)


_INIT_HINT = "give the directory `obskit init --out` wrote, or run `obskit init` first"


class NotAStack(InputError):
    """``obskit validate DIR`` where DIR holds no generated stack (exit 2)."""


class FileProblem(Exception):
    """A stack file is absent or unreadable; the check that needs it fails with this line."""


SPEC_NAME = "obskit.yaml"


class StackDir:
    def __init__(self, root: str | Path, spec: str | Path | Spec | None = None) -> None:
        self.root = Path(root)
        self._spec_source = spec
        if not self.root.exists():
            raise NotAStack(f"{self.root} does not exist", hint=_INIT_HINT)
        if not self.root.is_dir():
            raise NotAStack(f"{self.root} is not a directory", hint=_INIT_HINT)
        if not any((self.root / marker).is_file() for marker in MARKERS):
            raise NotAStack(
                f"{self.root} is not a generated stack: it has none of {', '.join(MARKERS)}",
                hint=_INIT_HINT,
            )
        self._cache: dict[str, Any] = {}

    def path(self, rel: str) -> Path:
        return self.root / rel

    @cached_property
    def _loaded_spec(self) -> tuple[Spec | None, str]:
        from obskit.stack.spec import Spec, load_spec

        source = self._spec_source
        if isinstance(source, Spec):
            return source, SPEC_NAME
        path = Path(source) if source is not None else self.root / SPEC_NAME
        if source is None and not path.is_file():
            return None, SPEC_NAME
        return load_spec(path), path.name

    def spec(self) -> Spec | None:
        """The spec the stack was generated from: ``--spec``, else ``obskit.yaml`` in it."""
        return self._loaded_spec[0]

    @property
    def spec_name(self) -> str:
        return self._loaded_spec[1]

    def exists(self, rel: str) -> bool:
        return (self.root / rel).is_file()

    def require(self, rel: str) -> Path:
        path = self.root / rel
        if not path.is_file():
            raise FileProblem(f"{rel} not found")
        return path

    def glob(self, rel_dir: str, *patterns: str) -> list[str]:
        """Files in ``rel_dir`` matching any pattern, as sorted paths relative to the root."""
        base = self.root / rel_dir
        found = {p for pattern in patterns for p in base.glob(pattern) if p.is_file()}
        return sorted(p.relative_to(self.root).as_posix() for p in found)

    @cached_property
    def rule_files(self) -> list[str]:
        return self.glob(RULES_DIR, "*.yml", "*.yaml")

    @cached_property
    def rule_test_files(self) -> list[str]:
        return self.glob(TESTS_DIR, "*.yml", "*.yaml")

    @cached_property
    def datasource_files(self) -> list[str]:
        return self.glob(DATASOURCES_DIR, "*.yml", "*.yaml")

    @cached_property
    def dashboard_files(self) -> list[str]:
        return self.glob(DASHBOARDS_DIR, "**/*.json")

    def load(self, rel: str) -> Any:
        """Parsed YAML or JSON; a missing or malformed file raises :class:`FileProblem`."""
        if rel not in self._cache:
            path = self.require(rel)
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as err:
                raise FileProblem(f"{rel}: cannot read it: {err}") from None
            self._cache[rel] = (
                _parse_json(rel, text) if rel.endswith(".json") else _parse_yaml(rel, text)
            )
        return self._cache[rel]

    def mapping(self, rel: str) -> dict[str, Any]:
        data = self.load(rel)
        if not isinstance(data, dict):
            raise FileProblem(f"{rel}: expected a mapping at the top, got {type(data).__name__}")
        return data

    def env(self) -> dict[str, str]:
        """The stack's ``.env`` (compose reads it for ``${VAR}`` interpolation); empty if absent."""
        if not self.exists(ENV):
            return {}
        values: dict[str, str] = {}
        for line in self.path(ENV).read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            key, _, value = line.partition("=")
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            values[key.strip()] = value
        return values


def _parse_yaml(rel: str, text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise FileProblem(
            f"{rel}: not valid YAML{where}: {getattr(err, 'problem', None) or err}"
        ) from None


def _parse_json(rel: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise FileProblem(
            f"{rel}: not valid JSON at line {err.lineno}, column {err.colno}: {err.msg}"
        ) from None
