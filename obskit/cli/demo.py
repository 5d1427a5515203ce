"""``obskit demo``: the whole loop on this machine."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

from obskit.cli._errors import reports_errors

if TYPE_CHECKING:
    from rich.console import Console

    from obskit.demo.plan import DemoPlan
    from obskit.demo.runner import Demo

ALERT = "ExternalDependencySlow"


@click.command()
@click.option(
    "--duration",
    default=60.0,
    show_default=True,
    type=click.FloatRange(10, 3600),
    help="Seconds of traffic; the payment gateway slows down halfway.",
)
@click.option(
    "--keep-running", is_flag=True, help="Keep everything running after the report, until Ctrl-C."
)
@click.option(
    "--workdir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where configs, logs and data go [default: a new temp dir].",
)
@reports_errors
def demo(duration: float, keep_running: bool, workdir: Path | None) -> None:
    """Run the demo shop, the trace backend, Prometheus and Alertmanager on this machine,
    slow down the payment gateway, and show how obskit finds it."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from obskit.demo.runner import Demo
    from obskit.render.terminal import print_report

    console = Console(stderr=False)
    runner = Demo(duration, workdir=workdir, say=lambda line: console.print(line))

    def stop_on_signal(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop_on_signal)
    try:
        console.print("[bold]Starting[/]: obskit serve, the demo shop, Prometheus, Alertmanager…")
        plan = runner.start()
        columns = (TextColumn("traffic"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                   TimeRemainingColumn(), TextColumn("{task.description}"))  # fmt: skip
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task("", total=1.0)

            def tick(done: float, note: str) -> None:
                progress.update(task, completed=done, **({"description": note} if note else {}))

            summary = runner.run_traffic(tick)
        console.print(f"Traffic: {summary}")
        if runner.has_prometheus and runner.has_alertmanager:
            console.print(f"Waiting for the {ALERT} alert to reach the webhook…")
            runner.wait_for_alert(ALERT, timeout=60)
        trace_id = runner.slowest_checkout()
        console.rule(f"The slowest checkout: {trace_id}")
        print_report(runner.analyze(trace_id), console)
        _print_alerts(console, runner)
        _print_urls(console, plan)
        if keep_running:
            console.print("Everything keeps running; press Ctrl-C to stop.")
            while True:
                time.sleep(1)
    except KeyboardInterrupt:
        console.print("Interrupted.")
    finally:
        console.print("Stopping everything the demo started…")
        runner.stop()


def _print_alerts(console: Console, runner: Demo) -> None:
    if not (runner.has_prometheus and runner.has_alertmanager):
        return
    console.rule("Alerts delivered through Alertmanager")
    firing = runner.inbox.firing()
    if not firing:
        console.print("none yet")
    for alert in firing.values():
        labels, notes = alert.get("labels", {}), alert.get("annotations", {})
        console.print(f"[bold red]{labels.get('alertname')}[/] ({labels.get('severity')}, "
                      f"{labels.get('service')}): {notes.get('summary', '')}")  # fmt: skip


def _print_urls(console: Console, plan: DemoPlan) -> None:
    console.rule("Open")
    console.print(f"traces (Jaeger API): {plan.query_url}/api/services")
    console.print(f"Prometheus:          {plan.prometheus_url}/alerts")
    console.print(f"Alertmanager:        {plan.alertmanager_url}")
    console.print(f"shop:                {plan.storefront_url}")
    console.print(f"configs and logs:    {plan.workdir}")
