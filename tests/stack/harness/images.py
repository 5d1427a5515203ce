"""What the harness must know about each pinned image to play it: which built binary it
runs and at which path (its entrypoint), as which user, from which working directory, the
ownership of the paths its named volumes start from, and which tools a healthcheck can call.

Facts read from the upstream Dockerfiles at the pinned tags (see the project's notes on the
real servers): Tempo is distroless and the Collector image is ``scratch`` (no shell, no wget);
Prometheus and Alertmanager are busybox images running as ``nobody``; Jaeger is alpine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from obskit.stack import servers

NOBODY = (65534, 65534)
IMAGE_USER = (10001, 10001)
BUSYBOX = frozenset({"sh", "wget"})


@dataclass(frozen=True)
class Image:
    server: str  # the built server (obskit.stack.servers.SERVERS): prometheus, otelcol-contrib
    binary: str  # which of its binaries the image runs
    entrypoint: str  # where the image keeps it
    user: tuple[int, int]
    workdir: str = "/"
    # Paths in the image a named volume is created from: (uid, gid, mode), copied as Docker does.
    owned: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    tools: frozenset[str] = frozenset()  # programs on the image's PATH


IMAGES: dict[str, Image] = {
    "otel/opentelemetry-collector-contrib": Image(
        "otelcol-contrib", "otelcol", "/otelcol-contrib", IMAGE_USER
    ),
    "grafana/tempo": Image(
        "tempo", "tempo", "/tempo", IMAGE_USER, owned={"/var/tempo": (*IMAGE_USER, 0o700)}
    ),
    "jaegertracing/jaeger": Image(
        "jaeger",
        "jaeger",
        "/go/bin/jaeger-linux",
        IMAGE_USER,
        owned={"/tmp": (0, 0, 0o1777)},
        tools=BUSYBOX,
    ),
    "prom/prometheus": Image(
        "prometheus",
        "prometheus",
        "/bin/prometheus",
        NOBODY,
        workdir="/prometheus",
        owned={"/prometheus": (*NOBODY, 0o755)},
        tools=BUSYBOX,
    ),
    "prom/alertmanager": Image(
        "alertmanager",
        "alertmanager",
        "/bin/alertmanager",
        NOBODY,
        workdir="/alertmanager",
        owned={"/alertmanager": (*NOBODY, 0o755)},
        tools=BUSYBOX,
    ),
}


@dataclass(frozen=True)
class Located:
    """The binary to run for an image: the pinned version from the build cache, or the
    version built instead (``stand_in`` says which and why), or none (``not_run`` says why)."""

    path: Path | None
    stand_in: str = ""
    not_run: str = ""


def image_of(image_ref: str) -> Image | None:
    repository = image_ref.rpartition(":")[0] if ":" in image_ref else image_ref
    return IMAGES.get(repository.removeprefix("docker.io/"))


def locate(image_ref: str) -> Located:
    image = image_of(image_ref)
    if image is None:
        return Located(None, not_run=f"no buildable server for {image_ref}")
    server = servers.SERVERS[image.server]
    tag = image_ref.rpartition(":")[2]
    if tag.removeprefix("v") != server.version.removeprefix("v"):
        return Located(None, not_run=f"{image_ref} is not the pinned {server.version}")
    pinned = servers.cached_binary(image.binary)
    if pinned is not None:
        return Located(pinned)
    why_not = servers.why_not_buildable(server)
    found = servers.cached_binary(image.binary, stand_in=True)
    if found is not None:
        return Located(found, stand_in=f"{server.name} {server.stand_in} stands in for "
                                       f"{server.version}: {why_not}")  # fmt: skip
    if why_not:
        return Located(None, not_run=f"{server.name} {server.version} cannot be built here: "
                                     f"{why_not}")  # fmt: skip
    return Located(None)


def missing_binaries(image_refs: list[str]) -> list[str]:
    """Buildable servers whose binaries are not in the cache (``tests/stack/peers/build``)."""
    missing = []
    for ref in image_refs:
        image, found = image_of(ref), locate(ref)
        if image is not None and found.path is None and not found.not_run:
            server = servers.SERVERS[image.server]
            missing.append(
                f"{image.binary} {server.version} (tests/stack/peers/build {server.name})"
            )
    return missing
