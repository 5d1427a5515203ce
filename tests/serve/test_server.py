"""Process behaviour: clean shutdown, a port in use, a non-loopback bind warning, retention."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import requests

from obskit.serve.store import SpanStore
from tests.serve.conftest import serve_once, start_serve
from tests.serve.payloads import export_request


def test_sigterm_shuts_down_cleanly_and_keeps_the_data(tmp_path: Path) -> None:
    serve = start_serve(tmp_path)
    body, trace_id = export_request(spans=5)
    requests.post(
        f"{serve.otlp}/v1/traces",
        data=body,
        headers={"Content-Type": "application/x-protobuf"},
        timeout=5,
    )
    assert serve.stop() == 0
    again = start_serve(tmp_path)
    try:
        response = requests.get(f"{again.query}/api/traces/{trace_id}", timeout=5)
        assert len(response.json()["data"][0]["spans"]) == 5
    finally:
        again.stop()


def test_port_in_use_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = serve_once(tmp_path, otlp_port=port)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"Error: cannot listen on 127.0.0.1:{port}: Address already in use; pick another port "
        "(--otlp-port / --query-port) or stop what uses it"
    )


def test_non_loopback_bind_warns(tmp_path: Path) -> None:
    serve = start_serve(tmp_path, "--host", "0.0.0.0")
    try:
        time.sleep(0.2)
    finally:
        serve.stop()
    stderr = serve.proc.stderr.read().decode() if serve.proc.stderr else ""
    assert "Warning: listening on 0.0.0.0, not loopback" in stderr


def test_bad_size_option_is_one_line(tmp_path: Path) -> None:
    proc = serve_once(tmp_path, "--max-size", "lots")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "Error: --max-size: 'lots' is not a size; use e.g. 512MiB or 2GB"


def test_retention_drops_old_spans_by_age_and_size(tmp_path: Path) -> None:
    from obskit.ingest import read_traces

    store = SpanStore(tmp_path, max_age_s=3600, max_bytes=None, retention_interval_s=3600)
    try:
        old_body, old_id = export_request(spans=5, start_ns=time.time_ns() - 2 * 3600 * 10**9)
        new_body, new_id = export_request(spans=5)
        for body in (old_body, new_body):
            store.write([s for t in read_traces(body, format="otlp-proto") for s in t.spans])
        assert store.enforce_retention() == 5
        assert store.get_trace(old_id) is None
        assert store.get_trace(new_id) is not None
        store.max_bytes = 1  # everything is over the limit now: the oldest go first
        store.enforce_retention()
        assert store.span_count() == 0
    finally:
        store.close()
