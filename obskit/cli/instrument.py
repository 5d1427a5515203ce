"""``obskit instrument``: run a Python service under OpenTelemetry auto-instrumentation."""

from __future__ import annotations

import sys

import click

from obskit.cli._errors import reports_errors


@click.command(
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
    epilog="Example: obskit instrument --service-name checkout -- python app.py",
)
@click.option(
    "--service-name", metavar="NAME", help="The service's name (its entry in obskit.yaml)."
)
@click.option(
    "--endpoint",
    metavar="URL",
    help="OTLP endpoint: port 4317 is sent OTLP/gRPC, any other OTLP/HTTP, unless "
    "OTEL_EXPORTER_OTLP_PROTOCOL says [default: the spec's otlp_endpoint, else "
    "http://127.0.0.1:4318].",
)
@click.option(
    "--metrics-port",
    type=int,
    metavar="N",
    help="Port of the Prometheus metrics endpoint [default: the spec's metrics_port, else 9464].",
)
@click.option(
    "--spec",
    metavar="PATH",
    help="The spec [default: $OBSKIT_SPEC, else ./obskit.yaml if present].",
)
@click.option(
    "--print-env",
    type=click.Choice(["dotenv", "k8s"]),
    is_flag=False,
    flag_value="dotenv",
    default=None,
    help="Print the environment instead of running: KEY=value lines (dotenv, the default) "
    "or a Kubernetes `env:` list (k8s).",
)
@click.option(
    "--no-check",
    is_flag=True,
    help="Skip the checks for missing instrumentation packages and an endpoint that does not "
    "answer.",
)
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@reports_errors
def instrument(
    service_name: str | None,
    endpoint: str | None,
    metrics_port: int | None,
    spec: str | None,
    print_env: str | None,
    no_check: bool,
    command: tuple[str, ...],
) -> None:
    """Run CMD under OpenTelemetry: traces over OTLP (gRPC or HTTP), HTTP metrics for Prometheus,
    trace ids in log lines. Exits with CMD's exit code."""
    from obskit.instrument import launcher

    if print_env:
        click.echo(
            launcher.print_environment(
                print_env,
                service_name=service_name,
                endpoint=endpoint,
                metrics_port=metrics_port,
                spec=spec,
            ),
            nl=False,
        )
        return
    launch = launcher.prepare(
        list(command),
        service_name=service_name,
        endpoint=endpoint,
        metrics_port=metrics_port,
        spec=spec,
        check_packages=not no_check,
    )
    sys.exit(launcher.run(launch))
