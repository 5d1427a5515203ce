"""Every way traces arrive: Jaeger (and ``obskit serve``, which speaks its API), Tempo, files,
directories, globs or stdin. A source fetches one trace's bytes (:meth:`TraceSource.fetch`, a
:class:`Payload`; ``obskit.ingest`` decodes it, :func:`obskit.sources.fetch.fetch_trace` does
both), a backend also searches for many (:meth:`SearchSource.search`), and a file source
streams many (:meth:`obskit.sources.files.FileSource.traces`).

:func:`resolve_source` picks the source the way ``obskit analyze`` documents it: an explicit
``--jaeger``/``--tempo``/``--file`` first, then ``OBSKIT_JAEGER_URL``/``OBSKIT_TEMPO_URL``, then
the backend ``obskit.yaml`` describes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from obskit.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Callable

    from obskit.sources.http import HttpSettings
    from obskit.sources.query import Found, Query
    from obskit.stack.spec import Spec

TRACE_ID_RE = re.compile(r"^[0-9a-f]{1,32}$")
URL_RE = re.compile(r"^https?://[^\s/?#]+[^\s]*$")


@dataclass(frozen=True)
class Payload:
    """The raw bytes of a trace and where they came from (a URL or a path, for messages)."""

    data: bytes
    origin: str
    backend: str  # "Jaeger", "Tempo" or "file"

    @property
    def remote(self) -> bool:
        return self.backend != "file"


class TraceSource(Protocol):
    #: who answers, for messages: "Jaeger at http://127.0.0.1:16686"
    description: str
    backend: str  # "Jaeger", "Tempo" or "file"

    def fetch(self, trace_id: str | None) -> Payload: ...

    def close(self) -> None: ...


class SearchSource(TraceSource, Protocol):
    """A backend: it also finds the traces of a service (Jaeger, Tempo, ``obskit serve``)."""

    def search(self, query: Query) -> Found: ...


def normalize_trace_id(raw: str) -> str:
    """Lowercase hex, as typed (no padding: every backend accepts short ids and users
    recognise the id they pasted). Raises :class:`InputError` for anything else."""
    trace_id = raw.strip().lower()
    if not TRACE_ID_RE.match(trace_id):
        raise InputError(
            f"--trace-id: expected 1 to 32 hex digits, got {raw!r}",
            hint="copy the id from the Jaeger or Grafana trace view",
        )
    return trace_id


def check_url(url: str, option: str) -> str:
    if not URL_RE.match(url):
        example = "http://127.0.0.1:3200" if "tempo" in option.lower() else "http://127.0.0.1:16686"
        raise InputError(f"{option}: expected a URL like {example}, got {url!r}")
    return url.rstrip("/")


def resolve_source(
    *,
    jaeger: str | None = None,
    tempo: str | None = None,
    file: str | None = None,
    spec: Spec | None = None,
    env: Mapping[str, str] | None = None,
    settings: Callable[[], HttpSettings] | None = None,
) -> TraceSource:
    """The trace source for these options; see the module docstring for the order.

    ``settings`` is called only for a network source, so a broken token file does not get in
    the way of reading a local file."""
    env = os.environ if env is None else env
    given = [
        (opt, v) for opt, v in (("--jaeger", jaeger), ("--tempo", tempo), ("--file", file)) if v
    ]
    if len(given) > 1:
        names = " and ".join(opt for opt, _ in given)
        raise InputError(f"{names} given: choose one trace source")
    if file:
        from obskit.sources.files import FileSource

        return FileSource(file)
    if not jaeger and not tempo:
        env_jaeger, env_tempo = env.get("OBSKIT_JAEGER_URL"), env.get("OBSKIT_TEMPO_URL")
        if env_jaeger and env_tempo:
            raise InputError(
                "both OBSKIT_JAEGER_URL and OBSKIT_TEMPO_URL are set",
                hint="unset one, or pass --jaeger/--tempo",
            )
        if env_jaeger:
            jaeger = check_url(env_jaeger, "OBSKIT_JAEGER_URL")
        elif env_tempo:
            tempo = check_url(env_tempo, "OBSKIT_TEMPO_URL")
        elif spec is not None:
            url = check_url(spec.default_query_url, "query_url in obskit.yaml")
            if spec.traces_backend == "jaeger":
                jaeger = url
            else:
                tempo = url
        else:
            raise InputError(
                "no trace source",
                hint="pass --jaeger URL, --tempo URL or --file PATH (- for stdin), set "
                "OBSKIT_JAEGER_URL or OBSKIT_TEMPO_URL, or run where obskit.yaml is",
            )
    from obskit.sources.http import HttpClient

    client = HttpClient(settings() if settings else None)
    if jaeger:
        from obskit.sources.jaeger import JaegerSource

        return JaegerSource(check_url(jaeger, "--jaeger"), client)
    from obskit.sources.tempo import TempoSource

    return TempoSource(check_url(str(tempo), "--tempo"), client)


__all__ = ["Payload", "SearchSource", "TraceSource", "normalize_trace_id", "resolve_source"]
