"""Which instrumentation packages a service needs: from what its code imports."""

from __future__ import annotations

from pathlib import Path

from obskit.instrument.detect import imported_modules, missing_instrumentations, pip_command
from obskit.instrument.launchers import python_entry

LIBRARIES = [
    {"library": "flask >= 1.0", "instrumentation": "opentelemetry-instrumentation-flask==0.66b1"},
    {
        "library": "jinja2 >= 2.7, < 4.0",
        "instrumentation": "opentelemetry-instrumentation-jinja2==0.66b1",
    },
]
DEFAULTS = ["opentelemetry-instrumentation-sqlite3==0.66b1"]


def test_python_entry_finds_the_script_or_module() -> None:
    assert python_entry(["python3", "-u", "-X", "dev", "app.py", "--port", "1"]) == (
        "file",
        "app.py",
    )
    assert python_entry(["/venv/bin/python", "-m", "shop.web"]) == ("module", "shop.web")
    assert python_entry(["python", "-mshop"]) == ("module", "shop")
    assert python_entry(["python", "-c", "print(1)"]) is None
    assert python_entry(["gunicorn", "app:app"]) is None


def test_imports_are_followed_through_the_service_own_modules(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("import helpers\nfrom shop import views\nimport sqlite3\n")
    (tmp_path / "helpers.py").write_text("import requests\n")
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "__init__.py").write_text("")
    (tmp_path / "shop" / "views.py").write_text("from . import db\nimport flask\n")
    (tmp_path / "shop" / "db.py").write_text("from jinja2 import Template\n")
    found = imported_modules(("file", "app.py"), cwd=tmp_path)
    assert found == {"requests", "flask", "jinja2", "sqlite3"}


def test_only_missing_instrumentations_of_supported_versions_are_reported() -> None:
    installed = {
        "Flask": "3.1.3",
        "Jinja2": "3.1.6",
        "opentelemetry-instrumentation-flask": "0.66b1",
    }
    needed = missing_instrumentations(
        {"flask", "jinja2", "sqlite3", "os"},
        installed=installed.get,
        libraries=LIBRARIES,
        defaults=DEFAULTS,
    )
    assert [(n.module, n.requirement) for n in needed] == [
        ("jinja2", "opentelemetry-instrumentation-jinja2==0.66b1"),
        ("sqlite3", "opentelemetry-instrumentation-sqlite3==0.66b1"),
    ]
    assert pip_command(needed) == (
        "pip install 'opentelemetry-instrumentation-jinja2==0.66b1' "
        "'opentelemetry-instrumentation-sqlite3==0.66b1'"
    )
    # bootstrap's rule: a library version the instrumentation does not support needs nothing
    old = {**installed, "Jinja2": "1.0"}
    needed = missing_instrumentations(
        {"jinja2"}, installed=old.get, libraries=LIBRARIES, defaults=DEFAULTS
    )
    assert needed == []
