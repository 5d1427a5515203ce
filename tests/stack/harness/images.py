"""What the harness must know about each pinned image to play it: which built binary it
runs and at which path (its entrypoint), as which user, from which working directory, the
ownership of the paths its named volumes start from, and which tools a healthcheck can call.

Facts read from the upstream Dockerfiles at the pinned tags (see the project's notes on the
real servers): Tempo is distroless and the Collector image is ``scratch`` (no shell, no wget);
Prometheus and Alertmanager are busybox images running as ``nobody``; Jaeger is alpine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

CACHE_ENV = "OBSKIT_SERVERS_CACHE"
NOBODY = (65534, 65534)
IMAGE_USER = (10001, 10001)
BUSYBOX = frozenset({"sh", "wget"})
BUILD_HINT = "build them with tests/stack/peers/build"


@dataclass(frozen=True)
class Image:
    server: str  # cache folder name before the version: prometheus, otelcol-contrib
    binary: str  # file in that folder
    entrypoint: str  # where the image keeps it
    user: tuple[int, int]
    workdir: str = "/"
    # Paths in the image a named volume is created from: (uid, gid, mode), copied as Docker does.
    owned: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    tools: frozenset[str] = frozenset()  # programs on the image's PATH
    version_prefix: str = "v"  # cache folders are named <server>-v<version> except the Collector

    def folder(self, tag: str) -> str:
        return f"{self.server}-{self.version_prefix}{tag.removeprefix('v')}"


IMAGES: dict[str, Image] = {
    "otel/opentelemetry-collector-contrib": Image(
        "otelcol-contrib", "otelcol", "/otelcol-contrib", IMAGE_USER, version_prefix=""
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


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "obskit" / "servers")


def image_of(image_ref: str) -> Image | None:
    repository = image_ref.rpartition(":")[0] if ":" in image_ref else image_ref
    return IMAGES.get(repository.removeprefix("docker.io/"))


def binary_path(image_ref: str) -> Path:
    """Where the build script leaves the binary of ``image_ref`` (it may not exist yet)."""
    image = image_of(image_ref)
    if image is None:
        raise KeyError(f"no buildable server for {image_ref}")
    tag = image_ref.rpartition(":")[2]
    return cache_dir() / image.folder(tag) / image.binary


def missing_binaries(image_refs: list[str]) -> list[str]:
    return [str(binary_path(ref)) for ref in image_refs if not binary_path(ref).is_file()]
