"""``obskit demo``: the whole loop on this machine."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

from obskit.cli._errors import reports_errors
from obskit.errors import InputError

if TYPE_CHECKING:
    from rich.console import Console

    from obskit.demo.plan import DemoPlan
    from obskit.demo.runner import Demo

ALERT = "ExternalDependencySlow"
QUEUE_ALERT = "QueueBacklogGrowing"


@click.command()
@click.option(
    "--duration",
    default=60.0,
    show_default=True,
    type=click.FloatRange(10, 3600),
    help="Seconds of traffic; the payment gateway slows down halfway (or --fault is injected).",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="NAME[=VALUE]",
    help="Inject this fault midway and report on the checkout endpoint before and after: "
    "gateway-latency=MS, db-missing-index, db-pool=N, cache-down, queue-consumer-slow=MS, "
    "service-latency=SVC:MS, or none (a control run). Repeat for several.",
)
@click.option(
    "--json",
    "json_path",
    metavar="FILE",
    help="With --fault: also write the report, in the aggregate JSON schema, to FILE.",
)
@click.option(
    "--rate",
    default=None,
    type=click.FloatRange(1, 200),
    help="Requests per second, started 8 at a time [default: 6; with --fault: 8].",
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
def demo(
    duration: float,
    faults: tuple[str, ...],
    json_path: str | None,
    rate: float | None,
    keep_running: bool,
    workdir: Path | None,
) -> None:
    """Run the demo shop, the trace backend, Prometheus and Alertmanager on this machine,
    slow down the payment gateway (or inject --fault), and show how obskit finds it."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from demo_services.faults import parse
    from obskit.demo.runner import FAULT_RATE, RATE, Demo
    from obskit.render.terminal import print_report

    injections = [parse(text) for text in faults]
    if json_path and not injections:
        raise InputError("--json FILE writes the fault report: give at least one --fault")
    console = Console(stderr=False)
    runner = Demo(
        duration,
        workdir=workdir,
        say=lambda line: console.print(line),
        faults=injections,
        rate=rate or (FAULT_RATE if injections else RATE),
    )

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
        if injections:
            _report_faults(console, runner, json_path)
        elif runner.has_prometheus and runner.has_alertmanager:
            console.print(f"Waiting for the {ALERT} alert to reach the webhook…")
            runner.wait_for_alert(ALERT, timeout=60)
        if not injections:
            trace_id = runner.slowest_checkout()
            console.rule(f"A slow checkout (the 90th percentile): {trace_id}")
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


def _report_faults(console: Console, runner: Demo, json_path: str | None) -> None:
    """The checkout endpoint over the faulty window, compared with the clean one; then
    which hop ranks first against where each fault was injected."""
    from obskit.cli._options import emit
    from obskit.demo.runner import slowed_hops
    from obskit.render import aggregate_json, aggregate_terminal

    if any(f.name == "queue-consumer-slow" for f in runner.faults) and runner.has_prometheus:
        console.print(f"Waiting for the {QUEUE_ALERT} alert (the fault is off the request path)…")
        runner.wait_for_alert(QUEUE_ALERT, timeout=90)
    report = runner.fault_report()
    console.rule("The checkout endpoint during the fault, compared with before it")
    console.print(aggregate_terminal.render(report, width=console.width, color=False), end="")
    if json_path:
        emit(aggregate_json.render(report), json_path, "the fault report")
    console.rule("Injected faults and where obskit found them")
    ranked = slowed_hops(report)
    top = ranked[0] if ranked else None
    flagged = [f"{h.caller} → {h.callee}" for h in report.flagged_hops]
    console.print(f"slowed most: {' → '.join(top) if top else 'nothing'}; "
                  f"flagged: {', '.join(flagged) or 'nothing'}")  # fmt: skip
    for fault in runner.faults:
        if fault.name == "none":
            console.print("none: the control run; nothing should be flagged")
        elif fault.hop is None:
            console.print(f"{fault.text}: off the request path; see the queue's metrics and alerts")
        else:
            found = "found, ranked first" if fault.hop == top else "NOT ranked first"
            console.print(f"{fault.text}: {' → '.join(fault.hop)}: {found}")


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
