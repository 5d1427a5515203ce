"""``obskit serve``: the embedded trace backend."""

from __future__ import annotations

from pathlib import Path

import click

from obskit.cli._errors import reports_errors


@click.command()
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to bind (every port)."
)
@click.option(
    "--otlp-port",
    default=4318,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="OTLP/HTTP receiver port (POST /v1/traces).",
)
@click.option(
    "--grpc-port",
    default=4317,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="OTLP/gRPC receiver port (TraceService/Export).",
)
@click.option(
    "--query-port",
    default=16686,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Jaeger-compatible query API port.",
)
@click.option(
    "--data-dir",
    default=".obskit",
    show_default=True,
    type=click.Path(path_type=Path),
    help="Where the span store lives.",
)
@click.option(
    "--retention",
    default="7d",
    show_default=True,
    help="Delete spans older than this (e.g. 12h, 7d; 0 keeps everything).",
)
@click.option(
    "--max-size",
    default="1GiB",
    show_default=True,
    help="Delete the oldest spans above this store size (e.g. 500MiB; 0: no limit).",
)
@click.option(
    "--max-body",
    default="8MiB",
    show_default=True,
    help="Largest OTLP request body accepted (compressed).",
)
@click.option(
    "--max-pending-spans",
    default=100_000,
    show_default=True,
    type=click.IntRange(1, None),
    help="Spans waiting to be committed before exports are refused with 503.",
)
@click.option(
    "--decode-workers",
    default=None,
    type=click.IntRange(0, 64),
    help="Processes decoding OTLP requests [default: one per core, at most 4; "
    "0 on a one-core machine, which decodes in the server process].",
)
@reports_errors
def serve(
    host: str,
    otlp_port: int,
    grpc_port: int,
    query_port: int,
    data_dir: Path,
    retention: str,
    max_size: str,
    max_body: str,
    max_pending_spans: int,
    decode_workers: int | None,
) -> None:
    """Embedded trace backend: OTLP/gRPC and OTLP/HTTP in, Jaeger query API out.

    Point services at http://HOST:GRPC_PORT (gRPC) or http://HOST:OTLP_PORT (HTTP) and run
    `obskit analyze --jaeger http://HOST:QUERY_PORT --trace-id ID`.
    """
    from obskit.serve.limits import parse_size
    from obskit.serve.receiver import Limits
    from obskit.serve.server import Backend, ServeConfig, is_loopback
    from obskit.units import parse_retention_s

    body = parse_size(max_body, "--max-body") or 8 << 20
    config = ServeConfig(
        host=host,
        otlp_port=otlp_port,
        grpc_port=grpc_port,
        query_port=query_port,
        data_dir=data_dir,
        limits=Limits(max_body_bytes=body, max_decoded_bytes=max(8 * body, 64 << 20)),
        max_age_s=parse_retention_s(retention, "--retention"),
        max_bytes=parse_size(max_size, "--max-size"),
        max_pending_spans=max_pending_spans,
        **({} if decode_workers is None else {"decode_workers": decode_workers}),
    )
    if not is_loopback(host):
        click.echo(
            f"Warning: listening on {host}, not loopback: anyone who can reach this machine can "
            "send and read traces.",
            err=True,
        )
    backend = Backend(config)
    backend.start()
    backend.install_signal_handlers()

    def ready() -> None:
        click.echo(
            f"obskit serve: OTLP/gRPC on {host}:{backend.grpc_port}, "
            f"OTLP/HTTP on http://{host}:{backend.otlp_port}/v1/traces, "
            f"Jaeger query API on http://{host}:{backend.query_port}, data in {data_dir}",
            err=True,
        )

    backend.run(on_ready=ready)
