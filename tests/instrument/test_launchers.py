"""What a service will import, whatever starts it: the MODULE:ATTR of the app servers,
`flask --app`, `celery -A`, Django's settings; the installed distributions when the command
cannot be read."""

from __future__ import annotations

from pathlib import Path

import pytest

from obskit.instrument.coverage import Coverage, block
from obskit.instrument.detect import (
    Needed,
    django_settings,
    imported_modules,
    missing_for_installed,
    missing_instrumentations,
)
from obskit.instrument.launchers import app_reference, service_entry

FILES = {
    "fa.py": "import httpx\nfrom fastapi import FastAPI\napp = FastAPI()\n",
    "manage.py": (
        "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n"
        "from django.core.management import execute_from_command_line\n"
    ),
    "mysite/__init__.py": "",
    "mysite/settings.py": (
        "INSTALLED_APPS = ['django.contrib.contenttypes', 'shop.apps.ShopConfig']\n"
        "ROOT_URLCONF = 'mysite.urls'\n"
        "CACHES = {'default': {'BACKEND': 'django.core.cache.backends.redis.RedisCache'}}\n"
    ),
    "mysite/urls.py": "from shop import views\n",
    "mysite/wsgi.py": (
        "import os\nfrom django.core.wsgi import get_wsgi_application\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n"
    ),
    "shop/__init__.py": "",
    "shop/apps.py": "from django.apps import AppConfig\n",
    "shop/views.py": "import requests\n",
    "shop/models.py": "import jinja2\n",  # read because shop is an installed app
    "proj/__init__.py": "",
    "proj/celery.py": "from celery import Celery\napp = Celery('proj', include=['proj.tasks'])\n",
    "proj/tasks.py": "import urllib3\n",  # read because Celery's include names it
}
DJANGO = {"django", "os", "redis", "requests", "jinja2"}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name, text in FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        (["uvicorn", "--host", "127.0.0.1", "fa:app"], {}, {"fastapi", "httpx"}),
        (["gunicorn", "-b", "127.0.0.1:8000", "-k", "uvicorn.workers.UvicornWorker", "fa:app"],
         {}, {"fastapi", "httpx"}),
        (["python", "-m", "uvicorn", "fa:app", "--loop", "asyncio"], {}, {"fastapi", "httpx"}),
        (["hypercorn", "fa:app"], {}, {"fastapi", "httpx"}),
        (["granian", "--interface", "asgi", "fa:app"], {}, {"fastapi", "httpx"}),
        (["flask", "--app", "fa", "run"], {}, {"flask", "fastapi", "httpx"}),
        (["flask", "run"], {"FLASK_APP": "fa:app"}, {"flask", "fastapi", "httpx"}),
        (["python", "manage.py", "runserver"], {}, DJANGO),
        (["gunicorn", "mysite.wsgi"], {}, DJANGO),
        (["uvicorn", "mysite.wsgi:application"], {}, DJANGO),
        (["django-admin", "runserver", "--settings", "mysite.settings"], {}, DJANGO),
        (["django-admin", "runserver"], {"DJANGO_SETTINGS_MODULE": "mysite.settings"},
         DJANGO),
        (["celery", "-A", "proj", "worker", "-l", "info"], {}, {"celery", "urllib3"}),
        (["celery", "--app=proj.celery:app", "worker"], {}, {"celery", "urllib3"}),
    ],
)  # fmt: skip
def test_the_code_each_launcher_runs(project: Path, argv, env, expected) -> None:
    entry = service_entry(argv, environ=env, cwd=project)
    assert entry is not None
    assert imported_modules(entry, cwd=project) == expected


@pytest.mark.parametrize(
    "argv",
    [["sh", "run.sh"], ["python", "-c", "import httpx"], ["uvicorn", "nowhere:app"],
     ["celery", "worker"], ["gunicorn", "--workers", "4"]],
)  # fmt: skip
def test_commands_that_cannot_be_read(project: Path, argv) -> None:
    assert service_entry(argv, environ={}, cwd=project) is None


def test_the_django_settings_a_site_names(project: Path) -> None:
    entry = service_entry(["gunicorn", "mysite.wsgi"], environ={}, cwd=project)
    assert entry is not None
    assert django_settings(entry, cwd=project) == "mysite.settings"


def test_app_references() -> None:
    assert app_reference("proj.asgi:application") == "proj.asgi"
    assert app_reference("app:create_app()") == "app"
    assert app_reference("127.0.0.1:8000") is None
    assert app_reference("unix:/tmp/app.sock") is None


LIBRARIES = [
    {"library": "httpx >= 0.18.0", "instrumentation": "opentelemetry-instrumentation-httpx==1b"},
    {"library": "pydantic >= 1.10.2",
     "instrumentation": "opentelemetry-instrumentation-tortoiseorm==1b"},
]  # fmt: skip


def test_installed_distributions_as_bootstrap_reads_them() -> None:
    installed = {"httpx": "0.28.1", "pydantic": "2.10.0"}.get
    needed = missing_for_installed(
        installed=installed,
        libraries=LIBRARIES,
        defaults=["opentelemetry-instrumentation-asyncio==1b"],
    )
    # bootstrap lists tortoiseorm for pydantic (tortoise is built on it): not a need of its own
    assert [(n.module, n.requirement) for n in needed] == [
        ("httpx", "opentelemetry-instrumentation-httpx==1b"),
        ("asyncio", "opentelemetry-instrumentation-asyncio==1b"),
    ]
    assert missing_instrumentations({"pydantic"}, installed=installed, libraries=LIBRARIES) == []


def test_the_block_names_what_breaks_and_the_fix() -> None:
    coverage = Coverage(
        (
            Needed("httpx", "opentelemetry-instrumentation-httpx==0.66b1"),
            Needed("celery", "opentelemetry-instrumentation-celery==0.66b1"),
        ),
        from_code=False,
    )
    assert block(coverage) == (
        "obskit: 2 libraries installed here (the command's code could not be read) will run "
        "uninstrumented:\n"
        "  httpx   HTTP client: calls from here start new traces (no client span, no context sent)\n"
        "  celery  task queue: tasks run from here start new traces (no producer/consumer spans)\n"
        "Fix: pip install 'opentelemetry-instrumentation-httpx==0.66b1' "
        "'opentelemetry-instrumentation-celery==0.66b1'\n"
    )
    assert block(Coverage((), from_code=True)) == ""
