"""The environment a Django site needs to be instrumented at all.

OpenTelemetry's Django instrumentation reads the settings when the interpreter starts, before
``manage.py`` or ``wsgi.py`` set ``DJANGO_SETTINGS_MODULE``. When the variable is unset, or
names a module not yet importable (gunicorn puts the working directory on ``sys.path`` only
later), it calls ``settings.configure()`` with empty settings: every request then fails (no
``ROOT_URLCONF``). So for a Django site we set the variable to the module the site's own
code names, and make its directory importable from the start.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from obskit.instrument import detect
from obskit.instrument.launchers import DJANGO_SETTINGS_MODULE, service_entry


def site_environment(
    command: Sequence[str], environ: Mapping[str, str], *, cwd: Path | None = None
) -> dict[str, str]:
    """Variables to add to the service's environment (none when it is not a Django site)."""
    entry = service_entry(command, environ=environ, cwd=cwd)
    if entry is None:
        return {}
    settings = detect.django_settings(entry, cwd=cwd)
    if settings is None or importlib.util.find_spec("django") is None:
        return {}
    added = {}
    if not environ.get(DJANGO_SETTINGS_MODULE):
        added[DJANGO_SETTINGS_MODULE] = settings
    base = str(entry.base.resolve())
    path = [p for p in environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if base not in path:
        added["PYTHONPATH"] = os.pathsep.join([*path, base])
    return added


__all__ = ["site_environment"]
