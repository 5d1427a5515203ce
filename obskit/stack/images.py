"""What each pinned image contains: the facts a compose file depends on without saying so.

A healthcheck runs inside the image, so it can only use programs the image has; a bind-mounted
file keeps its host mode and numeric owner, so the image's user must be allowed to read it.
These facts were read from each image's Dockerfile at the tag given here (``source`` says
where); :mod:`obskit.stack.compose` builds on them and ``obskit validate`` checks a stack
against them. When a tag moves, read the Dockerfile again and update the entry: an image
whose tag is not in this table is reported as "facts unknown".
"""

from __future__ import annotations

from dataclasses import dataclass

NOBODY = 65534  # busybox's nobody:nobody


@dataclass(frozen=True)
class ImageFacts:
    name: str  # repository, as in docker-compose.yml
    tag: str  # the tag these facts were read at
    base: str
    uid: int
    gid: int  # the primary group the process runs with (0 when the uid has no passwd entry)
    programs: frozenset[str]  # what a healthcheck can run: the image's own binaries and tools
    shell: bool  # /bin/sh, for CMD-SHELL healthchecks
    config_paths: tuple[str, ...]  # where the image reads its configuration
    ports: tuple[int, ...]  # what it listens on inside the container
    source: str

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.tag}"

    def can_run(self, program: str) -> bool:
        return program.rsplit("/", 1)[-1] in self.programs


_BUSYBOX = frozenset({"sh", "wget", "nc"})

FACTS: tuple[ImageFacts, ...] = (
    ImageFacts(
        name="otel/opentelemetry-collector-contrib",
        tag="0.159.0",
        base="scratch",
        uid=10001,
        gid=10001,
        programs=frozenset({"otelcol-contrib"}),
        shell=False,
        config_paths=("/etc/otelcol-contrib/config.yaml",),
        ports=(4317, 4318, 8888, 8889, 13133),
        source="open-telemetry/opentelemetry-collector-releases"
        " distributions/otelcol-contrib/Dockerfile: FROM scratch, USER 10001:10001",
    ),
    ImageFacts(
        name="grafana/tempo",
        tag="3.0.3",
        base="gcr.io/distroless/static-debian12",
        uid=10001,
        gid=10001,
        programs=frozenset({"tempo"}),
        shell=False,
        config_paths=("/etc/tempo/tempo.yaml",),
        ports=(3200, 4317),
        source="grafana/tempo v3.0.3 cmd/tempo/Dockerfile: distroless/static, USER 10001:10001"
        " (busybox removed, CHANGELOG #5717)",
    ),
    ImageFacts(
        name="jaegertracing/jaeger",
        tag="2.20.0",
        base="alpine 3.24 (scripts/build/docker/base/Dockerfile)",
        uid=10001,
        gid=0,
        programs=frozenset({"jaeger-linux", *_BUSYBOX}),
        shell=True,
        config_paths=("/etc/jaeger/jaeger.yaml",),
        ports=(4317, 4318, 13133, 16686),
        source="jaegertracing/jaeger v2.20.0 cmd/jaeger/Dockerfile: USER ${USER_UID}=10001,"
        " no passwd entry (group 0); busybox sh and wget from alpine",
    ),
    ImageFacts(
        name="prom/prometheus",
        tag="v3.14.0",
        base="quay.io/prometheus/busybox",
        uid=NOBODY,
        gid=NOBODY,
        programs=frozenset({"prometheus", "promtool", *_BUSYBOX}),
        shell=True,
        config_paths=("/etc/prometheus/prometheus.yml",),
        ports=(9090,),
        source="prometheus/prometheus v3.14.0 Dockerfile: busybox, USER nobody",
    ),
    ImageFacts(
        name="prom/alertmanager",
        tag="v0.34.0",
        base="quay.io/prometheus/busybox",
        uid=NOBODY,
        gid=NOBODY,
        programs=frozenset({"alertmanager", "amtool", *_BUSYBOX}),
        shell=True,
        config_paths=("/etc/alertmanager/alertmanager.yml",),
        ports=(9093, 9094),
        source="prometheus/alertmanager v0.34.0 Dockerfile: busybox, USER nobody",
    ),
    ImageFacts(
        name="grafana/grafana",
        tag="13.2.0",
        base="alpine",
        uid=472,
        gid=0,
        programs=frozenset({"grafana", "grafana-server", "grafana-cli", "bash", "curl", *_BUSYBOX}),
        shell=True,
        config_paths=("/etc/grafana/grafana.ini", "/etc/grafana/provisioning"),
        ports=(3000,),
        source="grafana/grafana Dockerfile: alpine with bash and curl, GF_UID=472, GF_GID=0,"
        " USER 472; packaging/docker/run.sh reads GF_*__FILE",
    ),
)

BY_REF: dict[str, ImageFacts] = {facts.ref: facts for facts in FACTS}


def facts_for(image: str) -> ImageFacts | None:
    """The facts of ``name:tag`` (a ``docker.io/`` or ``library/`` prefix is ignored)."""
    ref = image.removeprefix("docker.io/")
    return BY_REF.get(ref)


def pinned(name: str) -> ImageFacts:
    """The one entry for an image repository (the generator pins exactly these tags)."""
    return next(f for f in FACTS if f.name == name)
