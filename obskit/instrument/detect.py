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


@dataclass(frozen=True)
class Needed:
    module: str  # what the service imports
    requirement: str  # the pinned instrumentation, as pip wants it

    @property
    def distribution(self) -> str:
        return Requirement(self.requirement).name


def python_entry(argv: Sequence[str]) -> tuple[str, str] | None:
    """``("file", path)`` or ``("module", name)`` when ``argv`` runs Python code we can read;
    None for other commands (gunicorn, a shell script): nothing to scan."""
    if not argv or not Path(argv[0]).name.startswith("python"):
        return None
    args = list(argv[1:])
    while args:
        arg = args.pop(0)
        if arg == "-m" and args:
            return ("module", args[0])
        if arg.startswith("-m") and len(arg) > 2:
            return ("module", arg[2:])
        if arg in ("-c", "-"):
            return None
        if arg in ("-W", "-X", "--check-hash-based-pycs"):
            args = args[1:]
            continue
        if arg.startswith("-"):
            continue
        return ("file", arg)
    return None


def imported_modules(entry: tuple[str, str], *, cwd: Path | None = None) -> set[str]:
    """Top-level names of the third-party and stdlib modules the service's code imports."""
    cwd = cwd or Path.cwd()
    kind, target = entry
    start = (cwd / target) if kind == "file" else _module_file(target, cwd)
    found: set[str] = set()
    if start is None or not start.is_file():
        return found
    own_root = start.parent
    if kind == "module":
        # a package's modules live under its top-level directory
        package = start.name in ("__init__.py", "__main__.py")
        own_root = _top_package_dir(start, target.count(".") + package)
    queue, seen = [start], {start}
    while queue and len(seen) <= MAX_FILES:
        path = queue.pop()
        for name, level, maybe_attr in _imports(path):
            if level:  # relative import: the service's own code
                _enqueue(_relative(path, name, level), queue, seen)
                continue
            local = _local_file(name, own_root, cwd)
            if local is not None:
                _enqueue(local, queue, seen)
            elif not maybe_attr and name.split(".")[0] not in sys.builtin_module_names:
                found.add(name.split(".")[0])
    return found


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


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """(dotted name, relative level, whether the name may be an attribute rather than a
    module: ``from pkg import name`` imports either)."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return []  # python itself will report it when the service starts
    out: list[tuple[str, int, bool]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, 0, False) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if base:
                out.append((base, node.level, False))
            out += [(f"{base}.{a.name}".strip("."), node.level, True) for a in node.names]
    return out


def _enqueue(path: Path | None, queue: list[Path], seen: set[Path]) -> None:
    if path is not None and path not in seen:
        seen.add(path)
        queue.append(path)


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


def _local_file(name: str, own_root: Path, cwd: Path) -> Path | None:
    """The file of ``name`` when it is the service's own code (next to the entry point or
    in the working directory), not an installed or standard-library module."""
    parts = name.split(".")
    for root in (own_root, cwd):
        found = _as_file(root.joinpath(*parts))
        if found is not None and not _is_installed_path(found):
            return found
    return None


def _is_installed_path(path: Path) -> bool:
    roots = {sysconfig.get_paths()[k] for k in ("purelib", "platlib", "stdlib")}
    resolved = str(path.resolve())
    return any(resolved.startswith(os.path.realpath(r) + os.sep) for r in roots)


def _module_file(module: str, cwd: Path) -> Path | None:
    local = _as_file(cwd.joinpath(*module.split(".")))
    if local is not None:
        if local.name == "__init__.py" and (local.parent / "__main__.py").is_file():
            return local.parent / "__main__.py"
        return local
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    origin = Path(spec.origin)
    if origin.name == "__init__.py" and (origin.parent / "__main__.py").is_file():
        return origin.parent / "__main__.py"
    return origin


def _top_package_dir(start: Path, depth: int) -> Path:
    root = start.parent
    for _ in range(depth):
        root = root.parent
    return root
