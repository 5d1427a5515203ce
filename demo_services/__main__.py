"""``python -m demo_services [--spec PATH]``: run the demo shop until Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
import sys
import time

import click

from demo_services.shop import DEMO_SPEC, Shop
from obskit.cli._errors import reported
from obskit.errors import CheckFailed


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
def main(spec: str, logs: str | None) -> None:
    """Start the demo shop on loopback: five services under `obskit instrument` and the
    simulated payment gateway. Stops them all on Ctrl-C or SIGTERM."""
    stopping: list[int] = []

    def request_stop(signum: int, frame: object) -> None:
        stopping.append(signum)

    with reported():
        shop = Shop(spec, log_dir=logs)
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        click.echo("Starting the demo shop…", err=True)
        shop.start()
        try:
            _show(shop)
            while not stopping:
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


def _show(shop: Shop) -> None:
    width = max(len(m.name) for m in shop.members)
    for m in shop.members:
        extra = f"  metrics {m.metrics_url}" if m.metrics_url else "  (not instrumented)"
        click.echo(f"{m.name:<{width}}  {m.url}{extra}")
    click.echo(f"logs: {shop.log_dir}")
    click.echo(f"traces go to {shop.spec.otlp_endpoint}; try: curl -X POST {shop.url}/checkout")
    click.echo("Press Ctrl-C to stop.")
    sys.stdout.flush()


if __name__ == "__main__":
    main(prog_name="python -m demo_services")
