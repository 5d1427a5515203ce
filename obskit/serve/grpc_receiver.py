"""OTLP/gRPC trace receiver: ``opentelemetry.proto.collector.trace.v1.TraceService/Export``.

The request's bytes are not deserialized here: they take the same path as an OTLP/HTTP
protobuf body (the decode workers, then the store's group commit), and ``OK`` is sent only
after the spans are committed. gRPC undoes ``grpc-encoding: gzip`` itself and refuses a
message over the size limit (after decompression too) with ``RESOURCE_EXHAUSTED``.

Status codes (OTLP spec, "OTLP/gRPC Response" and "Failures"):

- ``OK`` with an empty ``ExportTraceServiceResponse``.
- ``INVALID_ARGUMENT``, not retryable: a payload that cannot be decoded, or more spans in one
  request than the limit. Sending it again cannot succeed, so the SDKs drop it.
- ``UNAVAILABLE`` with a ``google.rpc.RetryInfo`` when the store is overloaded or shutting
  down: the SDKs retry after the delay it gives. RetryInfo travels in both places exporters
  read it: the status details (``grpc-status-details-bin``, Go and the Collector) and
  ``google.rpc.retryinfo-bin`` (the Python SDK).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from obskit.errors import InputError
from obskit.serve import receiver
from obskit.serve.metrics import ServeMetrics

SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"
METHOD = f"/{SERVICE}/Export"
# An ExportTraceServiceResponse without partial_success serializes to no bytes at all.
SUCCESS = b""

Ingest = Callable[[bytes, str], int]


class GrpcReceiver:
    """A gRPC server on ``host:port`` answering Export with ``ingest`` (decode and commit)."""

    def __init__(
        self,
        ingest: Ingest,
        metrics: ServeMetrics,
        limits: receiver.Limits,
        host: str,
        port: int,
        threads: int,
    ) -> None:
        import grpc

        self.ingest = ingest
        self.metrics = metrics
        self.server = grpc.server(
            ThreadPoolExecutor(max_workers=threads, thread_name_prefix="obskit-grpc"),
            handlers=[
                grpc.method_handlers_generic_handler(
                    SERVICE,
                    # no (de)serializers: the handler gets and returns the message's bytes
                    {"Export": grpc.unary_unary_rpc_method_handler(self._export)},
                )
            ],
            options=[
                ("grpc.max_receive_message_length", limits.max_body_bytes),
                # gRPC sets SO_REUSEPORT by default: a second server on a taken port would
                # bind without an error and share its traffic.
                ("grpc.so_reuseport", 0),
            ],
        )
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        _check_free(host, port, address)
        try:
            self.port = self.server.add_insecure_port(address)
        except RuntimeError:
            self.port = 0
        if not self.port:  # taken between the check and now (older grpcio returns 0)
            raise InputError(_in_use(address, "the port is taken"))

    def start(self) -> None:
        self.server.start()

    def stop(self, grace_s: float) -> None:
        """Refuse new calls; wait up to ``grace_s`` for those in flight to commit."""
        self.server.stop(grace_s).wait()

    def _export(self, request: bytes, context: Any) -> bytes:
        started = time.perf_counter()
        try:
            self.ingest(request, "otlp-proto")
        except receiver.Refused as refused:
            self.metrics.refused.labels(str(refused.status)).inc()
            _abort(context, refused)
        finally:
            self.metrics.request_seconds.labels(METHOD).observe(time.perf_counter() - started)
        return SUCCESS


def _in_use(address: str, why: str) -> str:
    return (
        f"cannot listen on {address} for OTLP/gRPC: {why}; "
        "pick another port (--grpc-port) or stop what uses it"
    )


def _check_free(host: str, port: int, address: str) -> None:
    """Refuse a taken port with the system's reason. gRPC's own bind failure is a log line
    of its C core on stderr and a RuntimeError that does not say why."""
    import socket

    if not port:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as err:
            raise InputError(_in_use(address, err.strerror or str(err))) from None


def _abort(context: Any, refused: receiver.Refused) -> None:
    """End the call with the OTLP status for ``refused`` (raises, as grpc's abort does)."""
    import grpc
    from google.rpc import error_details_pb2, status_pb2

    if refused.retry_after is None:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, refused.message)
    code = grpc.StatusCode.UNAVAILABLE
    retry = error_details_pb2.RetryInfo()
    retry.retry_delay.FromSeconds(refused.retry_after)
    status = status_pb2.Status(code=code.value[0], message=refused.message)
    status.details.add().Pack(retry)
    context.set_trailing_metadata((
        ("grpc-status-details-bin", status.SerializeToString()),
        ("google.rpc.retryinfo-bin", retry.SerializeToString()),
    ))  # fmt: skip
    context.abort(code, refused.message)
