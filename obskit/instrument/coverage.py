"""What a service loses when a library it uses runs uninstrumented, said before it starts.

:func:`uninstrumented` decides what is missing (from the command's code when it can be read,
else from the installed distributions, as ``opentelemetry-bootstrap`` does); :func:`block`
turns that into the lines ``obskit instrument`` prints: one line per library naming what
breaks, and the one pip command that fixes it all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from obskit.instrument import detect
from obskit.instrument.detect import Needed
from obskit.instrument.launchers import service_entry

INSTRUMENTATION_PREFIX = "opentelemetry-instrumentation-"

HTTP = "HTTP client: calls from here start new traces (no client span, no context sent)"
SERVER = "server framework: its requests are not traced and incoming trace context is dropped"
QUEUE = "task queue: tasks run from here start new traces (no producer/consumer spans)"
MESSAGING = "messaging: messages sent and received start new traces (no producer/consumer spans)"
DATABASE = "database/cache client: its queries are missing from traces"
RPC = "gRPC: calls and requests are not traced and trace context is not passed on"
# the role of each instrumentation (its name without the prefix) in a trace
CONSEQUENCES: dict[str, str] = {
    **dict.fromkeys(
        ["requests", "urllib", "urllib3", "httpx", "aiohttp-client", "botocore", "tornado"], HTTP
    ),
    **dict.fromkeys(
        [
            "flask",
            "django",
            "fastapi",
            "starlette",
            "asgi",
            "wsgi",
            "falcon",
            "pyramid",
            "aiohttp-server",
        ],
        SERVER,
    ),
    **dict.fromkeys(["celery", "remoulade"], QUEUE),
    **dict.fromkeys(
        ["pika", "aio-pika", "kafka-python", "confluent-kafka", "aiokafka", "boto3sqs"], MESSAGING
    ),
    **dict.fromkeys(
        [
            "psycopg",
            "psycopg2",
            "asyncpg",
            "aiopg",
            "sqlalchemy",
            "sqlite3",
            "dbapi",
            "mysql",
            "mysqlclient",
            "pymysql",
            "pymssql",
            "pymongo",
            "redis",
            "pymemcache",
            "cassandra",
            "tortoiseorm",
            "elasticsearch",
        ],
        DATABASE,
    ),
    "grpc": RPC,
    "threading": "threads: work handed to threads loses the trace context (new traces)",
    "asyncio": "asyncio: coroutines and futures get no spans",
    "logging": "logging: log lines carry no trace ids",
}
OTHER = "its work is missing from traces (counted as the caller's time)"


@dataclass(frozen=True)
class Coverage:
    """The instrumentations a service needs and lacks, and how that was decided."""

    missing: tuple[Needed, ...]
    from_code: bool  # False: the command could not be read; judged by installed packages

    @property
    def complete(self) -> bool:
        return not self.missing


def uninstrumented(
    argv: Sequence[str], *, environ: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Coverage:
    """What the service started by ``argv`` will import without an instrumentation."""
    entry = service_entry(argv, environ=environ, cwd=cwd)
    if entry is None:
        return Coverage(tuple(detect.missing_for_installed()), from_code=False)
    modules = detect.imported_modules(entry, cwd=cwd)
    return Coverage(tuple(detect.missing_instrumentations(modules)), from_code=True)


def consequence(needed: Needed) -> str:
    """What breaks in a trace while ``needed`` is not installed."""
    return CONSEQUENCES.get(needed.distribution.removeprefix(INSTRUMENTATION_PREFIX), OTHER)


def block(coverage: Coverage) -> str:
    """The warning ``obskit instrument`` prints before starting the service ("" if none)."""
    if coverage.complete:
        return ""
    count = len(coverage.missing)
    basis = (
        "imported by this service"
        if coverage.from_code
        else "installed here (the command's code could not be read)"
    )
    noun = "library" if count == 1 else "libraries"
    width = max(len(n.module) for n in coverage.missing)
    lines = [f"obskit: {count} {noun} {basis} will run uninstrumented:"]
    lines += [f"  {n.module:<{width}}  {consequence(n)}" for n in coverage.missing]
    lines.append(f"Fix: {detect.pip_command(coverage.missing)}")
    return "\n".join(lines) + "\n"


__all__ = ["Coverage", "block", "consequence", "uninstrumented"]
