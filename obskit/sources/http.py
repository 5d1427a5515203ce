"""HTTP for trace backends: one ``requests`` session with timeouts, retries, auth, a CA bundle
and a size limit. It returns status, headers and bytes; it never decodes a trace.

Settings come from :class:`HttpSettings`; :func:`settings_from_env` reads the environment:

``OBSKIT_BACKEND_TOKEN`` / ``OBSKIT_BACKEND_TOKEN_FILE``
    bearer token (the ``_FILE`` form keeps it out of the process list and shell history)
``OBSKIT_BACKEND_USER`` + ``OBSKIT_BACKEND_PASSWORD_FILE``
    basic auth; the password is only ever read from a file
``OBSKIT_CA_BUNDLE``
    a PEM file of CA certificates to trust instead of the system ones
``OBSKIT_TIMEOUT``
    seconds to wait for the backend to answer (default 30)
``OBSKIT_MAX_RESPONSE_BYTES``
    the largest answer obskit accepts (default 512 MiB)
``OBSKIT_RETRIES``
    how often to retry a 429 or 5xx answer, with exponential backoff (default 3; 0 = never)
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from obskit import __version__
from obskit.errors import BackendError, InputError

if TYPE_CHECKING:
    import requests

DEFAULT_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 5.0
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
RETRY_STATUSES = (429, 500, 502, 503, 504)
# How long a Retry-After header may make us wait: longer than this and a person at a terminal
# is better served by an error they can act on.
RETRY_AFTER_MAX_S = 30
CHUNK = 1024 * 1024

START_HINT = (
    "is the backend running? Start one with `obskit serve`, or `docker compose up -d` "
    "in the directory `obskit init` generated"
)


@dataclass(frozen=True)
class HttpSettings:
    timeout_s: float = DEFAULT_TIMEOUT_S
    retries: int = 3  # on 429 and 5xx; a failed connection is retried once, at once
    backoff_s: float = 0.5  # 0, 1, 2 s ... between status retries (urllib3's schedule)
    max_bytes: int = DEFAULT_MAX_BYTES
    ca_bundle: str | None = None
    token: str | None = field(default=None, repr=False)
    basic_auth: tuple[str, str] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class HttpAnswer:
    url: str
    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes
    retries: int  # how many retries it took

    @property
    def text_line(self) -> str:
        """The body's first line, short, for error messages (backends put the reason there)."""
        text = self.body[:500].decode("utf-8", "replace").strip()
        line = text.splitlines()[0] if text else ""
        return line[:200]


def settings_from_env(
    env: Mapping[str, str] | None = None,
    *,
    timeout_s: float | None = None,
    ca_bundle: str | None = None,
) -> HttpSettings:
    """Build settings from the environment; explicit arguments (CLI options) win."""
    env = os.environ if env is None else env
    token = env.get("OBSKIT_BACKEND_TOKEN") or None
    if env.get("OBSKIT_BACKEND_TOKEN_FILE"):
        token = _read_secret(env["OBSKIT_BACKEND_TOKEN_FILE"], "OBSKIT_BACKEND_TOKEN_FILE")
    basic = None
    user = env.get("OBSKIT_BACKEND_USER")
    if user:
        password_file = env.get("OBSKIT_BACKEND_PASSWORD_FILE")
        if not password_file:
            raise InputError(
                "OBSKIT_BACKEND_USER is set but OBSKIT_BACKEND_PASSWORD_FILE is not",
                hint="put the password in a file and point OBSKIT_BACKEND_PASSWORD_FILE at it",
            )
        basic = (user, _read_secret(password_file, "OBSKIT_BACKEND_PASSWORD_FILE"))
    if token and basic:
        raise InputError(
            "both a bearer token and basic auth are configured",
            hint="set OBSKIT_BACKEND_TOKEN(_FILE) or OBSKIT_BACKEND_USER, not both",
        )
    if timeout_s is None:
        timeout_s = _positive(env.get("OBSKIT_TIMEOUT"), "OBSKIT_TIMEOUT", DEFAULT_TIMEOUT_S)
    max_bytes = int(
        _positive(
            env.get("OBSKIT_MAX_RESPONSE_BYTES"), "OBSKIT_MAX_RESPONSE_BYTES", DEFAULT_MAX_BYTES
        )
    )
    retries = env.get("OBSKIT_RETRIES", "3")
    if not retries.isdigit() or int(retries) > 10:
        raise InputError(f"OBSKIT_RETRIES must be a whole number from 0 to 10, got {retries!r}")
    ca_bundle = ca_bundle or env.get("OBSKIT_CA_BUNDLE") or None
    if ca_bundle and not Path(ca_bundle).is_file():
        raise InputError(f"CA bundle {ca_bundle}: no such file")
    return HttpSettings(
        timeout_s=timeout_s,
        retries=int(retries),
        max_bytes=max_bytes,
        ca_bundle=ca_bundle,
        token=token,
        basic_auth=basic,
    )


def _read_secret(path: str, variable: str) -> str:
    try:
        secret = Path(path).read_text(encoding="utf-8").strip()
    except OSError as err:
        raise InputError(f"{variable}: cannot read {path}: {err.strerror or err}") from None
    if not secret:
        raise InputError(f"{variable}: {path} is empty")
    return secret


def _positive(raw: str | None, name: str, default: float) -> float:
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise InputError(f"{name} must be a positive number, got {raw!r}")
    return value


class HttpClient:
    """GETs with obskit's settings. One instance per command run; it owns one session."""

    def __init__(self, settings: HttpSettings | None = None) -> None:
        self.settings = settings or HttpSettings()
        self._session: requests.Session | None = None

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            self._session = _make_session(self.settings)
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def get(self, url: str, *, what: str, accept: str = "application/json") -> HttpAnswer:
        """GET ``url``; ``what`` names the backend in error messages (``Jaeger``).

        Any status comes back as an answer (the caller knows what a 404 means for its API);
        transport failures, a truncated body and an oversized body raise :class:`BackendError`.
        """
        import requests

        limit = self.settings.max_bytes
        try:
            response = self.session.get(
                url,
                headers={"Accept": accept},
                timeout=(min(CONNECT_TIMEOUT_S, self.settings.timeout_s), self.settings.timeout_s),
                stream=True,
            )
        except requests.exceptions.SSLError as err:
            raise BackendError(
                f"TLS with {what} failed at {url}: {_root_cause(err)}",
                hint="pass --ca-bundle PATH (or set OBSKIT_CA_BUNDLE) if it uses a private CA",
            ) from None
        except requests.exceptions.ConnectTimeout:
            raise BackendError(
                f"cannot connect to {what} at {url}: "
                f"no answer within {self.settings.timeout_s:g} s",
                hint=START_HINT,
            ) from None
        except requests.exceptions.ConnectionError as err:
            if _is_timeout(err):
                raise BackendError(
                    f"{what} did not answer within {self.settings.timeout_s:g} s ({url})",
                    hint="raise --timeout (or OBSKIT_TIMEOUT) if the backend is just slow",
                ) from None
            raise BackendError(
                f"cannot connect to {what} at {url}: {_root_cause(err)}", hint=START_HINT
            ) from None
        except requests.exceptions.Timeout:
            raise BackendError(
                f"{what} did not answer within {self.settings.timeout_s:g} s ({url})",
                hint="raise --timeout (or OBSKIT_TIMEOUT) if the backend is just slow",
            ) from None
        except requests.exceptions.RequestException as err:
            raise BackendError(f"request to {what} at {url} failed: {_root_cause(err)}") from None
        with response:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > limit:
                raise _too_large(what, url, limit)
            body = self._read_body(response, what=what, url=url, limit=limit)
            retries = len(response.raw.retries.history) if response.raw.retries else 0
            return HttpAnswer(
                url=url,
                status=response.status_code,
                reason=response.reason or "",
                headers=dict(response.headers),
                body=body,
                retries=retries,
            )

    def _read_body(self, response: requests.Response, *, what: str, url: str, limit: int) -> bytes:
        import requests

        chunks: list[bytes] = []
        size = 0
        # Read timeouts bound each read; this bounds the whole body, so a backend that drips
        # bytes cannot hold the command forever.
        deadline = time.monotonic() + max(4 * self.settings.timeout_s, 60.0)
        try:
            for chunk in response.iter_content(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise _too_large(what, url, limit)
                if time.monotonic() > deadline:
                    raise BackendError(
                        f"{what} was still sending after "
                        f"{max(4 * self.settings.timeout_s, 60.0):g} s; gave up ({url})"
                    )
                chunks.append(chunk)
        except requests.exceptions.ChunkedEncodingError as err:
            got = _bytes_read(err, size)
            expected = response.headers.get("Content-Length")
            of = f" of {expected}" if expected else ""
            raise BackendError(
                f"{what}'s answer was cut off after {got}{of} bytes ({url})",
                hint="the connection closed early; try again, or check the backend's logs",
            ) from None
        except requests.exceptions.ConnectionError as err:
            if _is_timeout(err):
                raise BackendError(
                    f"{what} stopped sending for {self.settings.timeout_s:g} s "
                    f"after {size} bytes ({url})",
                    hint="raise --timeout (or OBSKIT_TIMEOUT) if the backend is just slow",
                ) from None
            raise BackendError(
                f"reading {what}'s answer failed: {_root_cause(err)} ({url})"
            ) from None
        return b"".join(chunks)


def _too_large(what: str, url: str, limit: int) -> BackendError:
    return BackendError(
        f"{what}'s answer is larger than {limit} bytes ({url})",
        hint="raise OBSKIT_MAX_RESPONSE_BYTES if the trace really is that big",
    )


def _is_timeout(err: BaseException) -> bool:
    import socket

    import urllib3.exceptions

    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        # NewConnectionError subclasses ConnectTimeoutError (urllib3 history), yet means
        # "refused" or "unreachable", not "slow"
        if isinstance(current, urllib3.exceptions.NewConnectionError):
            return False
        if isinstance(current, socket.timeout | TimeoutError | urllib3.exceptions.TimeoutError):
            return True
        if isinstance(current, urllib3.exceptions.MaxRetryError) and current.reason is not None:
            current = current.reason
            continue
        current = current.__cause__ or current.__context__ or _first_arg(current)
    return False


def _bytes_read(err: BaseException, counted: int) -> int:
    """How much of a cut-off body arrived: urllib3's IncompleteRead knows, even when the
    break came inside the first read (before we counted anything)."""
    import urllib3.exceptions

    current: BaseException | None = err
    for _ in range(8):
        if current is None:
            break
        if isinstance(current, urllib3.exceptions.IncompleteRead):
            partial = current.partial
            return max(partial if isinstance(partial, int) else len(partial), counted)
        current = _first_arg(current) or current.__cause__ or current.__context__
    return counted


def _first_arg(err: BaseException) -> BaseException | None:
    return next((a for a in err.args if isinstance(a, BaseException)), None)


def _root_cause(err: BaseException) -> str:
    """The innermost reason, e.g. ``connection refused``, without urllib3's object reprs."""
    import urllib3.exceptions

    current: BaseException = err
    seen: set[int] = set()
    while id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, urllib3.exceptions.MaxRetryError) and current.reason is not None:
            current = current.reason
        elif isinstance(current, ConnectionRefusedError):
            return "connection refused"
        elif (inner := _first_arg(current)) is not None:
            current = inner
        elif current.__cause__ is not None:
            current = current.__cause__
        else:
            break
    if isinstance(current, ConnectionRefusedError):
        return "connection refused"
    if isinstance(current, OSError) and current.strerror:
        return current.strerror.lower()
    text = str(current)
    # urllib3 says "<urllib3.connection.HTTPConnection object at 0x..>: Failed to ..."
    if ">: " in text:
        text = text.split(">: ", 1)[1]
    return text or type(current).__name__


def _make_session(settings: HttpSettings) -> requests.Session:
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    settings_kw = dict(
        total=None,
        connect=1,  # one immediate retry: refused usually means "not running"
        # A read timeout means the backend is overloaded or the trace is huge: asking again
        # at once helps neither, and would multiply the wait.
        read=0,
        status=settings.retries,
        other=0,
        redirect=3,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET"}),
        backoff_factor=settings.backoff_s,
        backoff_max=10,
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
    )
    try:
        retry = Retry(**settings_kw, retry_after_max=RETRY_AFTER_MAX_S)  # type: ignore[arg-type]  # urllib3 2.5+
    except TypeError:  # urllib3 before 2.5 cannot cap Retry-After; it is honoured uncapped
        retry = Retry(**settings_kw)  # type: ignore[arg-type]  # the kwargs' types are Retry's
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = f"obskit/{__version__}"
    if settings.ca_bundle:
        session.verify = settings.ca_bundle
    if settings.token:
        session.headers["Authorization"] = f"Bearer {settings.token}"
    elif settings.basic_auth:
        session.auth = settings.basic_auth
    return session
