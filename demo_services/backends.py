"""The shop's data tier from Debian's packages: PostgreSQL (orders, stock, prices), Redis (the
read-through cache of product and price look-ups) and RabbitMQ (order e-mails), each started
by the shop's :class:`~obskit.demo.processes.Supervisor` on a free loopback port with its data
under the shop's work directory, and stopped with it.

Every server gets a random password, written to a file only its owner can read; the services
receive their connection URLs in the environment, never on a command line. When a server is
not installed, the shop runs without it (SQLite, no cache, no queue) and says so.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from obskit.demo.processes import Supervisor
from obskit.errors import BackendError

HOST = "127.0.0.1"
INSTALL_HINT = "apt-get install postgresql redis-server rabbitmq-server"
POSTGRES_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
# PostgreSQL refuses to run as root; Debian's package makes this user
POSTGRES_USER = "postgres"
DB_NAME = "shop"
DB_USER = "shop"
# the environment variables the services read
POSTGRES_ENV = "DEMO_POSTGRES_URL"
REDIS_ENV = "DEMO_REDIS_URL"
AMQP_ENV = "DEMO_AMQP_URL"
# start-up budget: RabbitMQ took up to ~100 s on a 2-core machine at a load average of 40
START_TIMEOUT_S = 180.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Backends:
    """The URLs of the servers that run (None: not installed, the fallback is used)."""

    postgres_url: str | None = None
    redis_url: str | None = None
    amqp_url: str | None = None
    ports: dict[str, int] = field(default_factory=dict)  # "postgres" -> 5432, …
    missing: list[str] = field(default_factory=list)  # Debian packages not installed

    def env(self) -> dict[str, str]:
        pairs = ((POSTGRES_ENV, self.postgres_url), (REDIS_ENV, self.redis_url),
                 (AMQP_ENV, self.amqp_url))  # fmt: skip
        return {name: url for name, url in pairs if url}

    @property
    def fallback_note(self) -> str | None:
        """One line saying what runs without which server, or None when all run."""
        if not self.missing:
            return None
        what = {
            "postgresql": "orders and stock in SQLite",
            "redis-server": "no cache",
            "rabbitmq-server": "no queue, no order e-mails",
        }
        done = "; ".join(what[m] for m in self.missing)
        packages = " ".join(self.missing)
        return (
            f"{', '.join(self.missing)} not installed: {done} (apt-get install {packages}; "
            f"pip install -c constraints.txt -e '.[demo]')"
        )


def _importable(*modules: str) -> bool:
    """The shop's clients (the ``demo`` extra) are installed."""
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in modules)


def postgres_bin() -> Path | None:
    for bin_dir in POSTGRES_BIN_DIRS:
        if (bin_dir / "postgres").is_file() and (bin_dir / "initdb").is_file():
            return bin_dir
    return None


def rabbitmq_server() -> Path | None:
    found = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
    return found if found.is_file() and shutil.which("epmd") else None


def _secret(path: Path) -> str:
    password = secrets.token_urlsafe(18)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(password + "\n")
    return password


def _wait(what: str, ready: Callable[[], bool], supervisor: Supervisor, name: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not ready():
        if name in dict(supervisor.dead()) or time.monotonic() > deadline:
            why = supervisor.last_line(name) or "no output"
            raise BackendError(
                f"{what} did not start: {why}", hint=f"its log: {supervisor.log_path(name)}"
            )
        time.sleep(0.1)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


class Postgres:
    """One PostgreSQL cluster: ``initdb`` into the data directory, then ``postgres`` in the
    foreground under the supervisor. Tuned for a throw-away demo: no fsync."""

    name = "postgres"

    def __init__(self, root: Path, bin_dir: Path) -> None:
        self.root = root
        self.bin_dir = bin_dir
        self.port = free_port()
        self.user = POSTGRES_USER if os.geteuid() == 0 else None
        self.data = self._data_dir()

    def _data_dir(self) -> Path:
        if self.user is None:
            return self.root / "postgres"
        # Run as root: the cluster belongs to the postgres user, which cannot enter a work
        # directory private to root; it lives in its own directory, linked from the work dir.
        import tempfile

        data = Path(tempfile.mkdtemp(prefix="obskit-postgres-"))
        pw = pwd.getpwnam(self.user)
        os.chown(data, pw.pw_uid, pw.pw_gid)
        link = self.root / "postgres"
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink():
            link.unlink()
        link.symlink_to(data)
        return data

    def start(self, supervisor: Supervisor) -> str:
        password = _secret(self.root / "secrets" / "postgres_password")
        pwfile = self.data / ".pwfile"
        pwfile.write_text(password + "\n")
        if self.user:
            pw = pwd.getpwnam(self.user)
            os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        pwfile.chmod(0o600)
        cluster = self.data / "cluster"
        init = subprocess.run(
            [str(self.bin_dir / "initdb"), "-D", str(cluster), "-U", DB_USER,
             f"--pwfile={pwfile}", "--auth=scram-sha-256", "-E", "UTF8", "--no-sync",
             "--locale=C"],
            user=self.user, capture_output=True, text=True, timeout=120, cwd=self.data,
        )  # fmt: skip
        pwfile.unlink()
        if init.returncode != 0:
            last = (init.stderr or init.stdout).strip().splitlines()
            raise BackendError(f"initdb failed: {last[-1] if last else init.returncode}")
        supervisor.start(self.name, [
            str(self.bin_dir / "postgres"), "-D", str(cluster), "-p", str(self.port),
            "-c", f"listen_addresses={HOST}", "-c", f"unix_socket_directories={self.data}",
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
            "-c", "max_connections=200", "-c", "shared_buffers=64MB",
        ], user=self.user, cwd=self.data)  # fmt: skip
        url = f"postgresql://{DB_USER}:{password}@{HOST}:{self.port}/postgres"
        _wait("PostgreSQL", lambda: _pg_ready(url), supervisor, self.name)
        _create_database(url)
        return url.rsplit("/", 1)[0] + f"/{DB_NAME}"

    def cleanup(self) -> None:
        if self.user is not None:
            shutil.rmtree(self.data, ignore_errors=True)


def _pg_ready(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


def _create_database(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {DB_NAME}")


class Redis:
    """redis-server without persistence: a cache, lost on purpose when it stops."""

    name = "redis"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.password = ""

    def start(self, supervisor: Supervisor) -> str:
        data = self.root / "redis"
        data.mkdir(parents=True, exist_ok=True)
        if not self.password:
            self.password = _secret(self.root / "secrets" / "redis_password")
        config = data / "redis.conf"
        fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:  # the password stays off the command line
            f.write(
                f'port {self.port}\nbind {HOST}\ndir {data}\nsave ""\nappendonly no\n'
                f"requirepass {self.password}\nmaxmemory 64mb\n"
                "maxmemory-policy allkeys-lru\n"
            )
        supervisor.start(self.name, ["redis-server", str(config)], cwd=data)
        _wait("Redis", lambda: _accepts(self.port), supervisor, self.name)
        return f"redis://:{self.password}@{HOST}:{self.port}/0"


class RabbitMQ:
    """A single RabbitMQ node with its own epmd on a free port, so it never meets another
    node on this machine (or one another engineer's test started)."""

    name = "rabbitmq"

    def __init__(self, root: Path, server: Path) -> None:
        self.root = root
        self.server = server
        self.port = free_port()
        self.url = ""
        self.epmd_port = free_port()
        self.dist_port = free_port()

    def launch(self, supervisor: Supervisor) -> None:
        """Start epmd and the node; :meth:`wait` for it (the slowest server: the others
        start meanwhile)."""
        base = self.root / "rabbitmq"
        (base / "mnesia").mkdir(parents=True, exist_ok=True)
        (base / "log").mkdir(parents=True, exist_ok=True)
        password = _secret(self.root / "secrets" / "rabbitmq_password")
        conf = base / "rabbitmq.conf"
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(
                f"listeners.tcp.default = {HOST}:{self.port}\n"
                "default_user = shop\n"
                f"default_pass = {password}\n"
                "loopback_users = none\n"
                "log.console = true\nlog.console.level = warning\nlog.file = false\n"
            )
        (base / "enabled_plugins").write_text("[].\n")
        (base / "rabbitmq-env.conf").write_text("")
        epmd = {"ERL_EPMD_PORT": str(self.epmd_port), "ERL_EPMD_ADDRESS": HOST}
        supervisor.start("epmd", [shutil.which("epmd") or "epmd", "-port", str(self.epmd_port),
                                  "-address", HOST], env={**os.environ, **epmd})  # fmt: skip
        _wait("epmd", lambda: _accepts(self.epmd_port), supervisor, "epmd")
        env = {
            **os.environ, **epmd,
            "HOME": str(base),  # the Erlang cookie
            "RABBITMQ_NODENAME": f"obskit-{self.port}@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": HOST,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(conf),
            "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_LOGS": "-",
            "RABBITMQ_PID_FILE": str(base / "rabbitmq.pid"),
            # one scheduler, no busy-waiting: the demo shares a small machine
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "+S 1:1 +sbwt none +sbwtdcpu none +sbwtdio none",
        }  # fmt: skip
        supervisor.start(self.name, [str(self.server)], env=env, cwd=base)
        self.url = f"amqp://shop:{password}@{HOST}:{self.port}/%2F"

    def wait(self, supervisor: Supervisor) -> str:
        _wait("RabbitMQ", lambda: _amqp_ready(self.url), supervisor, self.name)
        return self.url


def _amqp_ready(url: str) -> bool:
    import pika

    if not _accepts(int(url.rsplit(":", 1)[1].split("/")[0])):
        return False
    try:
        pika.BlockingConnection(pika.URLParameters(url + "?connection_attempts=1")).close()
        return True
    except pika.exceptions.AMQPError:
        return False


class DataTier:
    """Starts the servers that are installed; ``stop()`` ends them (the supervisor's
    ``stop_all`` does too) and removes data kept outside the work directory."""

    def __init__(self, root: Path, supervisor: Supervisor, *, use_servers: bool = True) -> None:
        self.root = root
        self.supervisor = supervisor
        self.use_servers = use_servers
        self.postgres: Postgres | None = None
        self.redis: Redis | None = None
        self.rabbitmq: RabbitMQ | None = None
        self.backends = Backends()

    def start(self) -> Backends:
        found = self.backends
        pg_bin = postgres_bin() if _importable("psycopg", "psycopg_pool") else None
        rabbit = rabbitmq_server() if _importable("pika") else None
        has_redis = shutil.which("redis-server") is not None and _importable("redis")
        if not self.use_servers:
            found.missing = ["postgresql", "redis-server", "rabbitmq-server"]
            return found
        found.missing = [name for name, present in (("postgresql", pg_bin), ("redis-server",
                         has_redis), ("rabbitmq-server", rabbit)) if not present]  # fmt: skip
        if rabbit:  # the slowest to boot: start it first, wait for it last
            self.rabbitmq = RabbitMQ(self.root, rabbit)
            self.rabbitmq.launch(self.supervisor)
        if pg_bin:
            self.postgres = Postgres(self.root, pg_bin)
            found.postgres_url = self.postgres.start(self.supervisor)
            found.ports["postgres"] = self.postgres.port
        if has_redis:
            self.redis = Redis(self.root)
            found.redis_url = self.redis.start(self.supervisor)
            found.ports["redis"] = self.redis.port
        if self.rabbitmq:
            found.amqp_url = self.rabbitmq.wait(self.supervisor)
            found.ports["rabbitmq"] = self.rabbitmq.port
        return found

    def stop_cache(self) -> None:
        """Redis goes away (the ``cache-down`` fault): clients get connection refused."""
        if self.redis is not None:
            self.supervisor.stop(self.redis.name, grace=5)

    def start_cache(self) -> None:
        if self.redis is not None and self.redis.name not in self.supervisor.procs:
            self.redis.start(self.supervisor)

    def cleanup(self) -> None:
        if self.postgres is not None:
            self.postgres.cleanup()
