"""Which instrumentation packages a service needs, and which of them are missing.

``opentelemetry-bootstrap`` decides from every distribution installed in the environment; in
a typical venv that asks for instrumentations of libraries the service never imports (click,
jinja2 pulled in by tools). We look at what the service actually imports instead: the entry
script (or ``-m`` module) and, following its imports, every module of the service's own code
(anything not in site-packages or the standard library). Each imported third-party module is
mapped to its distribution and looked up in bootstrap's own table
(``opentelemetry.instrumentation.bootstrap_gen``), with bootstrap's version rule: an
instrumentation is needed only when the installed library version is one it supports.
Standard-library modules that bootstrap always instruments (sqlite3, threading, logging, ...)
count too when the service imports them.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import sys
import sysconfig
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

from obskit.instrument.launchers import DJANGO_SETTINGS_MODULE, Entry, module_file

# stdlib module -> the default instrumentation (bootstrap installs these for every app)
STDLIB_INSTRUMENTED = {
    "sqlite3": "opentelemetry-instrumentation-sqlite3",
    "threading": "opentelemetry-instrumentation-threading",
    "concurrent": "opentelemetry-instrumentation-threading",  # ThreadPoolExecutor
    "logging": "opentelemetry-instrumentation-logging",
    "urllib": "opentelemetry-instrumentation-urllib",
    "asyncio": "opentelemetry-instrumentation-asyncio",
}
MAX_FILES = 500  # the service's own modules we read, at most
# rows of bootstrap's table that name the instrumentation of another library which merely
# uses this one (tortoise-orm is built on pydantic): every FastAPI app imports pydantic
SECONDARY = frozenset({("pydantic", "opentelemetry-instrumentation-tortoiseorm")})


@dataclass(frozen=True)
class Needed:
    module: str  # what the service imports
    requirement: str  # the pinned instrumentation, as pip wants it

    @property
    def distribution(self) -> str:
        return Requirement(self.requirement).name


def imported_modules(entry: tuple[str, str] | Entry, *, cwd: Path | None = None) -> set[str]:
    """Top-level names of the third-party and stdlib modules the service's code imports:
    from an :class:`~obskit.instrument.launchers.Entry`, or ``("file", path)`` /
    ``("module", name)`` as ``python`` runs it."""
    cwd = cwd or Path.cwd()
    if isinstance(entry, tuple):
        kind, target = entry
        start = (cwd / target) if kind == "file" else module_file(target, cwd, run=True)
        entry = Entry(files=(start,) if start else (), base=cwd)
    return _Scan(entry, cwd).run()


def django_settings(entry: Entry, *, cwd: Path | None = None) -> str | None:
    """The Django settings module the service runs with: the one the command or the
    environment names, else the one its code sets (``manage.py``, ``wsgi.py``)."""
    scan = _Scan(entry, cwd or Path.cwd())
    scan.run()
    return scan.django_settings


def missing_instrumentations(
    modules: Iterable[str],
    *,
    installed: Callable[[str], str | None] | None = None,
    libraries: Sequence[dict[str, str]] | None = None,
    defaults: Sequence[str] | None = None,
) -> list[Needed]:
    """The instrumentations the service's imports need and the environment lacks."""
    from opentelemetry.instrumentation import bootstrap_gen

    installed = installed or _installed_version
    libraries = bootstrap_gen.libraries if libraries is None else libraries
    defaults = bootstrap_gen.default_instrumentations if defaults is None else defaults
    pinned = {Requirement(r).name: r for r in defaults}
    dists = metadata.packages_distributions()
    missing: dict[str, Needed] = {}
    for module in sorted(set(modules)):
        for requirement in _requirements_for(module, dists, libraries, pinned, installed):
            name = Requirement(requirement).name
            if installed(name) is None and name not in missing:
                missing[name] = Needed(module, requirement)
    return list(missing.values())


def missing_for_installed(
    *,
    installed: Callable[[str], str | None] | None = None,
    libraries: Sequence[dict[str, str]] | None = None,
    defaults: Sequence[str] | None = None,
) -> list[Needed]:
    """What ``opentelemetry-bootstrap`` would install and the environment lacks: the
    instrumentation of every installed library at a version it supports, and its defaults."""
    from opentelemetry.instrumentation import bootstrap_gen

    installed = installed or _installed_version
    libraries = bootstrap_gen.libraries if libraries is None else libraries
    defaults = bootstrap_gen.default_instrumentations if defaults is None else defaults
    missing: dict[str, Needed] = {}
    for entry in libraries:
        library = Requirement(entry["library"])
        version = installed(library.name)
        if version is None or not library.specifier.contains(version, prereleases=True):
            continue
        name = Requirement(entry["instrumentation"]).name
        if (_norm(library.name), name) in SECONDARY:
            continue
        if installed(name) is None and name not in missing:
            missing[name] = Needed(library.name, entry["instrumentation"])
    for requirement in defaults:
        name = Requirement(requirement).name
        if installed(name) is None and name not in missing:
            missing[name] = Needed(name.removeprefix("opentelemetry-instrumentation-"), requirement)
    return list(missing.values())


def pip_command(needed: Sequence[Needed]) -> str:
    return "pip install " + " ".join(f"'{n.requirement}'" for n in needed)


# --- helpers ------------------------------------------------------------------------------


def _requirements_for(
    module: str,
    dists: dict[str, list[str]],
    libraries: Sequence[dict[str, str]],
    pinned: dict[str, str],
    installed: Callable[[str], str | None],
) -> list[str]:
    if module in STDLIB_INSTRUMENTED and module in sys.stdlib_module_names:
        name = STDLIB_INSTRUMENTED[module]
        return [pinned.get(name, name)]
    needs = []
    for dist in dists.get(module, []):
        version = installed(dist)
        for entry in libraries:
            lib = Requirement(entry["library"])
            if _norm(lib.name) != _norm(dist) or version is None:
                continue
            if (_norm(lib.name), Requirement(entry["instrumentation"]).name) in SECONDARY:
                continue
            # bootstrap's rule: an unsupported library version gets no instrumentation
            if lib.specifier.contains(version, prereleases=True):
                needs.append(entry["instrumentation"])
    return needs


def _installed_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


class _Scan:
    """Follows the imports of the service's own files, breadth first, up to MAX_FILES.

    Besides ``import`` statements, a string naming one of the service's own modules
    (Celery's ``include=["proj.tasks"]``, Django's ``ROOT_URLCONF``) is followed too, and
    Django's settings module (``DJANGO_SETTINGS_MODULE``, from the environment, the command
    or ``os.environ.setdefault`` in manage.py/wsgi.py) is read for what Django will import
    on the service's behalf: installed apps, database and cache backends."""

    def __init__(self, entry: Entry, cwd: Path) -> None:
        self.base = entry.base
        self.roots = [self.base, cwd]
        self.found: set[str] = set(entry.modules)
        self.queue: list[Path] = []
        self.seen: set[Path] = set()
        self.settings: set[Path] = set()
        self.django_settings = entry.django_settings
        for path in entry.files:
            self.roots.insert(0, _package_root(path))
            self._enqueue(path)
        if entry.django_settings:
            self._settings_module(entry.django_settings)

    def run(self) -> set[str]:
        while self.queue and len(self.seen) <= MAX_FILES:
            path = self.queue.pop(0)
            tree = _parse(path)
            if tree is not None:
                self._read(path, tree)
        return self.found

    def _read(self, path: Path, tree: ast.AST) -> None:
        in_settings = path in self.settings
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    self._imported(alias.name, path, 0, False)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if base:
                    self._imported(base, path, node.level, False)
                for alias in node.names:
                    self._imported(f"{base}.{alias.name}".strip("."), path, node.level, True)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                self._string(node.value, in_settings)
            elif settings := _django_settings_literal(node):
                self._settings_module(settings)

    def _imported(self, name: str, path: Path, level: int, maybe_attr: bool) -> None:
        if level:  # relative import: the service's own code
            self._enqueue(_relative(path, name, level))
            return
        local = self._local_file(name)
        if local is not None:
            self._enqueue(local)
        elif not maybe_attr and name.split(".")[0] not in sys.builtin_module_names:
            self.found.add(name.split(".")[0])

    def _string(self, text: str, in_settings: bool) -> None:
        if len(text) > 200 or not all(p.isidentifier() for p in text.split(".")):
            return
        local = self._local_file(text) or self._local_file(text.rsplit(".", 1)[0])
        if local is not None:
            self._enqueue(local)
            if in_settings and (local.parent / "__init__.py").is_file():
                # an installed app: Django imports its models, admin, apps...; Celery its tasks
                for sibling in sorted(local.parent.glob("*.py")):
                    self._enqueue(sibling)
        elif in_settings:
            for backend, modules in DJANGO_BACKENDS.items():
                if text.startswith(backend):
                    self.found.update(m for m in modules if importlib.util.find_spec(m))
            top = text.split(".")[0]
            if top not in sys.stdlib_module_names and top in _distributions():
                self.found.add(top)

    def _settings_module(self, module: str) -> None:
        self.found.add("django")
        self.django_settings = self.django_settings or module
        path = self._local_file(module) or module_file(module, self.base)
        if path is not None and path.is_file():
            self.settings.add(path)
            self._enqueue(path)

    def _local_file(self, name: str) -> Path | None:
        """The file of ``name`` when it is the service's own code (next to an entry file or
        in the working directory), not an installed or standard-library module."""
        parts = name.split(".")
        for root in self.roots:
            found = _as_file(root.joinpath(*parts))
            if found is not None and not _is_installed_path(found):
                return found
        return None

    def _enqueue(self, path: Path | None) -> None:
        if path is not None and path not in self.seen:
            self.seen.add(path)
            self.queue.append(path)


# Django settings strings that make Django import a library for the service
DJANGO_BACKENDS = {
    "django.db.backends.postgresql": ("psycopg", "psycopg2"),
    "django.db.backends.mysql": ("MySQLdb",),
    "django.core.cache.backends.redis": ("redis",),
    "django.core.cache.backends.memcached.PyMemcacheCache": ("pymemcache",),
}


def _parse(path: Path) -> ast.AST | None:
    try:
        return ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return None  # python itself will report it when the service starts


def _django_settings_literal(node: ast.AST) -> str | None:
    """``"x.settings"`` from ``os.environ.setdefault("DJANGO_SETTINGS_MODULE", "x.settings")``
    or ``os.environ["DJANGO_SETTINGS_MODULE"] = "x.settings"``."""
    if isinstance(node, ast.Call) and len(node.args) == 2:
        key, value = node.args
        if isinstance(node.func, ast.Attribute) and node.func.attr == "setdefault":
            return _settings_pair(key, value)
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target = node.targets[0]
        if isinstance(target, ast.Subscript):
            return _settings_pair(target.slice, node.value)
    return None


def _settings_pair(key: ast.AST, value: ast.AST) -> str | None:
    named = isinstance(key, ast.Constant) and key.value == DJANGO_SETTINGS_MODULE
    if named and isinstance(value, ast.Constant) and isinstance(value.value, str):
        return value.value
    return None


def _distributions() -> dict[str, list[str]]:
    global _DISTRIBUTIONS
    if _DISTRIBUTIONS is None:
        _DISTRIBUTIONS = metadata.packages_distributions()
    return _DISTRIBUTIONS


_DISTRIBUTIONS: dict[str, list[str]] | None = None


def _relative(path: Path, name: str, level: int) -> Path | None:
    base = path.parent
    for _ in range(level - 1):
        base = base.parent
    return _as_file(base.joinpath(*name.split("."))) if name else None


def _as_file(stem: Path) -> Path | None:
    for candidate in (stem.with_suffix(".py"), stem / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _package_root(path: Path) -> Path:
    """The directory the top package holding ``path`` is imported from."""
    root = path.parent
    while (root / "__init__.py").is_file() and root.parent != root:
        root = root.parent
    return root


def _is_installed_path(path: Path) -> bool:
    roots = {sysconfig.get_paths()[k] for k in ("purelib", "platlib", "stdlib")}
    resolved = str(path.resolve())
    return any(resolved.startswith(os.path.realpath(r) + os.sep) for r in roots)
