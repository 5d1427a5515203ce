"""What code a command will import, whatever starts it: ``python app.py``, ``python -m pkg``,
the servers that take a ``MODULE:ATTR`` (uvicorn, gunicorn, hypercorn, granian), ``flask
--app``, ``celery -A`` and Django (``manage.py``, ``django-admin``, ``--settings``,
``DJANGO_SETTINGS_MODULE``).

The answer is an :class:`Entry`: the service's own files to read (the import scan of
:mod:`obskit.instrument.detect` starts there) and the modules the launcher itself brings in
(``celery -A proj worker`` runs celery whatever ``proj`` imports). ``None`` means the command
cannot be read (a shell script, ``python -c``, an app that is not where the command says): the
caller falls back to the installed distributions, as ``opentelemetry-bootstrap`` does.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

DJANGO_SETTINGS_MODULE = "DJANGO_SETTINGS_MODULE"
# launchers that take the application as MODULE:ATTR (or a bare module for gunicorn)
APP_SERVERS = frozenset({"uvicorn", "gunicorn", "hypercorn", "granian"})
# options naming the directory the application is imported from
APP_DIR_OPTIONS = frozenset({"--app-dir", "--chdir", "--workdir", "--root-path-dir"})
# the module a launcher itself imports into the service (mapped to instrumentations as well)
LAUNCHER_MODULES = {"flask": "flask", "celery": "celery", "django-admin": "django"}
# `flask` finds these in the working directory when neither --app nor FLASK_APP names one
FLASK_DEFAULT_FILES = ("wsgi.py", "app.py")


@dataclass(frozen=True)
class Entry:
    """Where the service's code starts."""

    files: tuple[Path, ...] = ()  # the service's own files the imports are followed from
    modules: frozenset[str] = frozenset()  # top-level modules the launcher itself imports
    django_settings: str | None = None  # the settings module named by the command or env
    base: Path = field(default_factory=Path.cwd)  # where the application is imported from


def service_entry(
    argv: Sequence[str], *, environ: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Entry | None:
    """The entry of the command ``argv``; None when it cannot be read."""
    env = environ or {}
    cwd = cwd or Path.cwd()
    if not argv:
        return None
    program = Path(argv[0]).name
    args = list(argv[1:])
    if program.startswith("python"):
        target = _python_target(args)
        if target is None:
            return None
        kind, name, rest = target
        if kind == "file":
            return _files_entry([cwd / name], env, cwd)
        if name.split(".")[0] in _LAUNCHERS:  # python -m uvicorn app:app
            return _LAUNCHERS[name.split(".")[0]](rest, env, cwd)
        found = module_file(name, cwd, run=True)
        return _files_entry([found], env, cwd) if found else None
    launcher = _LAUNCHERS.get(program)
    if launcher is None and program.endswith(".py"):  # ./manage.py runserver
        return _files_entry([cwd / argv[0]], env, cwd)
    return launcher(args, env, cwd) if launcher else None


def python_entry(argv: Sequence[str]) -> tuple[str, str] | None:
    """``("file", path)`` or ``("module", name)`` when ``argv`` runs ``python`` on code we
    can read; None for other commands."""
    if not argv or not Path(argv[0]).name.startswith("python"):
        return None
    target = _python_target(list(argv[1:]))
    return (target[0], target[1]) if target else None


def module_file(module: str, base: Path, *, run: bool = False) -> Path | None:
    """The file ``import module`` runs first, looked for under ``base`` and then on
    sys.path; with ``run``, as ``python -m`` does (a package's ``__main__``)."""
    local = _as_file(base.joinpath(*module.split(".")))
    if local is not None:
        return _main_of(local) if run else local
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    return _main_of(Path(spec.origin)) if run else Path(spec.origin)


def app_reference(text: str) -> str | None:
    """The module of an application reference ``MODULE[:ATTR]`` (``app:app``,
    ``proj.asgi:application``, ``app:create_app()``); None when ``text`` is not one."""
    module, _, attr = text.partition(":")
    if not module or not all(part.isidentifier() for part in module.split(".")):
        return None
    if attr and not attr.split("(", 1)[0].replace(".", "_").isidentifier():
        return None
    return module


# --- launchers ----------------------------------------------------------------------------


def _app_server(args: list[str], env: Mapping[str, str], cwd: Path) -> Entry | None:
    """uvicorn, gunicorn, hypercorn, granian: the first ``MODULE:ATTR`` argument; without a
    colon, a bare module (gunicorn's ``mysite.wsgi``) counts only when it is the service's
    own file, so an option's value (``--loop uvloop``) is never taken for the app."""
    base = _base_dir(args, cwd)
    bare = None
    for arg in _positionals(args):
        module = app_reference(arg)
        if module is None:
            continue
        if ":" in arg:
            found = module_file(module, base)
            return _files_entry([found], env, base) if found else None
        if bare is None and _as_file(base.joinpath(*module.split("."))) is not None:
            bare = module
    if bare is None:
        return None
    found = module_file(bare, base)
    return _files_entry([found], env, base) if found else None


def _flask(args: list[str], env: Mapping[str, str], cwd: Path) -> Entry | None:
    app = _option_value(args, ("--app", "-A")) or env.get("FLASK_APP")
    files: list[Path] = []
    if app:
        target = app.partition(":")[0] if not app.endswith(".py") else app
        found: Path | None = cwd / target if target.endswith(".py") or "/" in target else None
        if found is None:
            module = app_reference(app)
            found = module_file(module, cwd) if module else None
        if found is None or not found.is_file():
            return None
        files.append(found)
    else:
        files += [cwd / n for n in FLASK_DEFAULT_FILES if (cwd / n).is_file()][:1]
    return _with_launcher(_files_entry(files, env, cwd), "flask")


def _celery(args: list[str], env: Mapping[str, str], cwd: Path) -> Entry | None:
    """``celery -A proj``: ``proj`` is a module holding the app, or a package whose
    ``celery`` submodule does (celery looks for both)."""
    app = _option_value(args, ("-A", "--app")) or env.get("CELERY_APP")
    base = _base_dir(args, cwd)
    if not app:
        return None
    module = app_reference(app)
    if module is None:
        return None
    files = [f for f in (module_file(module, base), module_file(f"{module}.celery", base)) if f]
    if not files:
        return None
    return _with_launcher(_files_entry(files, env, base), "celery")


def _django_admin(args: list[str], env: Mapping[str, str], cwd: Path) -> Entry | None:
    settings = _option_value(args, ("--settings",)) or env.get(DJANGO_SETTINGS_MODULE)
    if not settings:
        return None
    base = Path(_option_value(args, ("--pythonpath",)) or cwd)
    entry = Entry(modules=frozenset({"django"}), django_settings=settings, base=base)
    return entry if module_file(settings, base) else None


_LAUNCHERS = {
    **dict.fromkeys(APP_SERVERS, _app_server),
    "flask": _flask,
    "celery": _celery,
    "django-admin": _django_admin,
}


# --- helpers ------------------------------------------------------------------------------


def _files_entry(files: list[Path], env: Mapping[str, str], base: Path) -> Entry | None:
    existing = tuple(f for f in files if f.is_file())
    if files and not existing:
        return None
    return Entry(files=existing, django_settings=env.get(DJANGO_SETTINGS_MODULE), base=base)


def _with_launcher(entry: Entry | None, launcher: str) -> Entry | None:
    if entry is None:
        return None
    return Entry(
        files=entry.files,
        modules=entry.modules | {LAUNCHER_MODULES[launcher]},
        django_settings=entry.django_settings,
        base=entry.base,
    )


def _python_target(args: list[str]) -> tuple[str, str, list[str]] | None:
    """(``file`` | ``module``, the name, the arguments after it)."""
    while args:
        arg = args.pop(0)
        if arg == "-m" and args:
            return ("module", args[0], args[1:])
        if arg.startswith("-m") and len(arg) > 2:
            return ("module", arg[2:], args)
        if arg in ("-c", "-"):
            return None
        if arg in ("-W", "-X", "--check-hash-based-pycs"):
            args = args[1:]
            continue
        if arg.startswith("-"):
            continue
        return ("file", arg, args)
    return None


def _positionals(args: list[str]) -> list[str]:
    """Arguments that do not start with ``-`` (option values included: callers check)."""
    return [a for a in args if not a.startswith("-")]


def _option_value(args: list[str], names: tuple[str, ...]) -> str | None:
    """The value of the first of ``names`` given as ``--name V``, ``--name=V`` or ``-AV``."""
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if arg.startswith(name + "="):
                return arg[len(name) + 1 :]
            if len(name) == 2 and arg.startswith(name) and len(arg) > 2:
                return arg[2:]
    return None


def _base_dir(args: list[str], cwd: Path) -> Path:
    for option in APP_DIR_OPTIONS:
        value = _option_value(args, (option,))
        if value:
            return cwd / value
    return cwd


def _as_file(stem: Path) -> Path | None:
    for candidate in (stem.with_suffix(".py"), stem / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _main_of(path: Path) -> Path:
    if path.name == "__init__.py" and (path.parent / "__main__.py").is_file():
        return path.parent / "__main__.py"
    return path
