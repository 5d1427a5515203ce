"""Run Python services under OpenTelemetry: the only part of obskit that imports the OTel SDK.

* ``obskit instrument -- CMD…`` (:mod:`obskit.instrument.launcher`) runs a service under
  ``opentelemetry-instrument`` with the environment of :mod:`obskit.instrument.environment`.
* :func:`configure` does the same from inside the service's code.

Imports are lazy: ``import obskit.instrument`` does not load OpenTelemetry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from obskit.instrument.sdk import Instrumentation


def configure(service_name: str | None = None, **kwargs: Any) -> Instrumentation:
    """Instrument this process (see :func:`obskit.instrument.sdk.configure`)."""
    from obskit.instrument.sdk import configure as _configure

    return _configure(service_name, **kwargs)


__all__ = ["configure"]
