"""``python -m demo_services [--spec PATH] [--faults FILE] [--sqlite]``: run the demo shop
until Ctrl-C or SIGTERM.

``--faults FILE`` is the shop's control file: one fault a line, as ``obskit demo --fault``
takes them (``db-pool=2``, ``cache-down``; ``#`` starts a comment). The shop applies the file
whenever it changes: a line added switches that fault on, a line removed switches it off."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import click

from demo_services.faults import FaultSwitch, parse
from demo_services.shop import DEMO_SPEC, Shop
from obskit.cli._errors import reported
from obskit.errors import CheckFailed, ObskitError


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--spec",
    metavar="PATH",
    default=str(DEMO_SPEC),
    show_default="demo_services/obskit.yaml",
    help="The shop's spec (ports, endpoint).",
)
@click.option(
    "--logs", metavar="DIR", help="Where each service writes its log [default: a temp dir]."
)
@click.option(
    "--faults",
    "faults_file",
    metavar="FILE",
    help="A control file of faults, one a line (e.g. db-pool=2), applied whenever it changes.",
)
@click.option(
    "--sqlite",
    is_flag=True,
    help="Run on SQLite, without cache or queue, even when PostgreSQL, Redis and RabbitMQ are "
    "installed.",
)
def main(spec: str, logs: str | None, faults_file: str | None, sqlite: bool) -> None:
    """Start the demo shop on loopback: PostgreSQL, Redis and RabbitMQ when installed, six
    services under `obskit instrument` and the simulated payment gateway. Stops them all on
    Ctrl-C or SIGTERM."""
    stopping: list[int] = []

    def request_stop(signum: int, frame: object) -> None:
        stopping.append(signum)

    with reported():
        shop = Shop(spec, log_dir=logs, servers=not sqlite)
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        click.echo("Starting the demo shop…", err=True)
        shop.start()
        control = ControlFile(Path(faults_file), FaultSwitch(shop)) if faults_file else None
        try:
            _show(shop)
            while not stopping:
                if control is not None:
                    control.poll()
                if shop.dead():
                    name, code = shop.dead()[0]
                    raise CheckFailed(
                        f"{name} stopped with exit code {code}: {shop.last_line(name)}",
                        hint=f"its log: {shop.log_path(name)}",
                    )
                time.sleep(0.2)
        finally:
            click.echo("Stopping the demo shop…", err=True)
            shop.stop()
        click.echo("Stopped.", err=True)


class ControlFile:
    """Applies the faults a file lists whenever the file changes; a bad line is reported
    and the file ignored until it changes again (the shop keeps running)."""

    def __init__(self, path: Path, switch: FaultSwitch) -> None:
        self.path = path
        self.switch = switch
        self.seen: tuple[int, int] | None = None

    def poll(self) -> None:
        try:
            stat = self.path.stat()
            version = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            version = (0, 0)
        if version == self.seen:
            return
        self.seen = version
        try:
            lines = self.path.read_text().splitlines() if version != (0, 0) else []
            wanted = [parse(text) for line in lines if (text := line.split("#")[0].strip())]
            self.switch.apply(wanted)
        except (ObskitError, OSError) as err:
            click.echo(f"{self.path}: {err} (faults unchanged)", err=True)
            return
        active = ", ".join(f.text for f in self.switch.active.values()) or "none"
        click.echo(f"faults: {active}", err=True)


def _show(shop: Shop) -> None:
    width = max(len(m.name) for m in shop.members)
    for m in shop.members:
        extra = f"  metrics {m.metrics_url}" if m.metrics_url else "  (not instrumented)"
        click.echo(f"{m.name:<{width}}  {m.url}{extra}")
    click.echo(f"logs: {shop.log_dir}")
    note = shop.backends.fallback_note
    servers = ", ".join(f"{name} on 127.0.0.1:{port}" for name, port in shop.backends.ports.items())
    click.echo(note or f"data: {servers}")
    click.echo(f"traces go to {shop.spec.otlp_endpoint}; try: curl -X POST {shop.url}/checkout")
    click.echo("Press Ctrl-C to stop.")
    sys.stdout.flush()


if __name__ == "__main__":
    main(prog_name="python -m demo_services")
