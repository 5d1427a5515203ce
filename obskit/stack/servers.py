"""The real servers of the generated stack, at the versions compose pins, and where their
binaries are: the version cache that ``tests/stack/peers/build`` fills from Go modules
(``${OBSKIT_SERVERS_CACHE:-~/.cache/obskit/servers}/<server>-<version>/<binary>``), then PATH.

The pinned version wins over whatever PATH has: Debian's promtool is an older Prometheus,
whose rule engine does not answer the same as the pinned image's.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from obskit.stack.compose import IMAGES

CACHE_ENV = "OBSKIT_SERVERS_CACHE"


@dataclass(frozen=True)
class Server:
    name: str  # the cache folder's prefix
    image: str  # the compose service whose pinned image this is (key of IMAGES)
    binaries: tuple[str, ...]
    v_prefix: bool  # the cache folder says v3.0.3 where the image tag says 3.0.3
    # When the pinned version cannot be built here, the version built instead (for tests
    # that say they run a stand-in); see tests/stack/peers/build for why.
    stand_in: str = ""

    @property
    def version(self) -> str:
        """The pinned version as the cache folder spells it."""
        tag = IMAGES[self.image][1]
        return f"v{tag.removeprefix('v')}" if self.v_prefix else tag

    def folder(self, cache: Path | None = None, version: str = "") -> Path:
        return (cache or cache_dir()) / f"{self.name}-{version or self.version}"


SERVERS: dict[str, Server] = {
    s.name: s
    for s in (
        Server("prometheus", "prometheus", ("prometheus", "promtool"), v_prefix=True),
        Server("alertmanager", "alertmanager", ("alertmanager", "amtool"), v_prefix=True),
        Server("otelcol-contrib", "otel-collector", ("otelcol",), v_prefix=False),
        Server("tempo", "tempo", ("tempo",), v_prefix=True),
        Server("jaeger", "jaeger", ("jaeger",), v_prefix=True, stand_in="v2.12.0"),
    )
}

# (server, pinned version) -> why this project's machines cannot build it (the Go module proxy
# refuses it, or it must not be used); tests needing it are reported as not run, with this.
NOT_BUILDABLE: dict[tuple[str, str], str] = {
    ("tempo", "v3.0.3"): (
        "github.com/grafana/tempo is AGPL-licensed and marked not-to-use on this project's"
        " machines, and the Go module proxy refuses its v3.0.3 commit (1900ed7b)"
    ),
    ("jaeger", "v2.20.0"): (
        "the Go module proxy refuses its commit (798e4b0f; the v1.x twin tags stop at"
        " v1.76.0); the newest approved release it serves is v2.12.0 (= v1.75.0)"
    ),
}

# Names the same programs have when installed some other way (release tarballs, Debian).
PATH_ALIASES: dict[str, tuple[str, ...]] = {
    "otelcol": ("otelcol-contrib", "otelcol"),
    "alertmanager": ("alertmanager", "prometheus-alertmanager"),
}


def why_not_buildable(server: Server) -> str:
    return NOT_BUILDABLE.get((server.name, server.version), "")


def cache_dir() -> Path:
    configured = os.environ.get(CACHE_ENV)
    return Path(configured) if configured else Path.home() / ".cache" / "obskit" / "servers"


def server_of(binary: str) -> Server:
    for server in SERVERS.values():
        if binary in server.binaries:
            return server
    raise KeyError(f"no pinned server ships a binary named {binary!r}")


def cached_binary(binary: str, cache: Path | None = None, *, stand_in: bool = False) -> Path | None:
    """The pinned version's binary in the cache, when it was built; with ``stand_in``, the
    stand-in version's when the pinned one is not there."""
    server = server_of(binary)
    versions = [server.version, server.stand_in] if stand_in else [server.version]
    for version in filter(None, versions):
        path = server.folder(cache, version) / binary
        if path.is_file() and os.access(path, os.X_OK):
            return path
    return None


def find_binary(binary: str, *, stand_in: bool = False) -> Path | None:
    """The pinned version from the cache (or with ``stand_in`` the version built instead when
    the pinned one cannot be), else the first one on PATH, else None."""
    cached = cached_binary(binary, stand_in=stand_in)
    if cached is not None:
        return cached
    for name in PATH_ALIASES.get(binary, (binary,)):
        found = shutil.which(name)
        if found:
            return Path(found)
    return None
