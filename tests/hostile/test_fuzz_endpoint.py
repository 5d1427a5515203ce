"""The hostile fuzzer over `obskit serve` (issue 15): generated OTLP/HTTP bodies (protobuf built
from hostile fields, mutated protobuf and JSON, any Content-Encoding) and query API requests get
a clean answer (200, or a 4xx with a one-line google.rpc.Status), never a 5xx; no decode worker
dies; and afterwards the server is ready and stores a good export within a second.

Example counts: see tests/hostile/fuzzing.py (OBSKIT_FUZZ_EXAMPLES for the big run)."""

from __future__ import annotations

import gzip
import json
import time
import zlib
from collections.abc import Iterator
from urllib.parse import quote

import orjson
import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from obskit.serve import Backend, ServeConfig
from tests.hostile.corpus import trace
from tests.hostile.fuzzing import (
    digit_strings,
    fuzz_settings,
    hostile_text,
    mutate,
    mutate_bytes,
    otlp_proto_requests,
)
from tests.serve.conftest import running_backend
from tests.serve.payloads import export_request

PROTO = "application/x-protobuf"
JSON = "application/json"
CLEAN = {200, 400, 404, 405, 413, 415}


class Target:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.otlp = f"http://127.0.0.1:{backend.otlp_port}/v1/traces"
        self.query = f"http://127.0.0.1:{backend.query_port}"
        self.session = requests.Session()
        self.workers = backend.decoder.pids()

    def export(self, body: bytes, content_type: str, encoding: str | None) -> requests.Response:
        headers = {"Content-Type": content_type}
        if encoding:
            headers["Content-Encoding"] = encoding
        answer = self.session.post(self.otlp, data=body, headers=headers, timeout=30)
        assert answer.status_code in CLEAN, (answer.status_code, answer.content[:300])
        if answer.status_code >= 400:
            message = status_message(answer)
            assert message and "\n" not in message
        assert self.backend.decoder.pids() == self.workers, "a decode worker died"
        return answer


def status_message(answer: requests.Response) -> str:
    from google.rpc import status_pb2

    if answer.headers.get("Content-Type") == PROTO:
        return str(status_pb2.Status.FromString(answer.content).message)
    return str(orjson.loads(answer.content)["message"])


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    config = ServeConfig(
        otlp_port=0, query_port=0, data_dir=tmp_path_factory.mktemp("fuzz"), decode_workers=1
    )
    with running_backend(config) as backend:
        yield Target(backend)


encodings = st.sampled_from([None, None, "gzip", "deflate", "gzip-garbage", "br", "identity"])


def encoded(body: bytes, encoding: str | None) -> tuple[bytes, str | None]:
    if encoding == "gzip":
        return gzip.compress(body), encoding
    if encoding == "deflate":
        return zlib.compress(body), encoding
    if encoding == "gzip-garbage":
        return b"\x1f\x8b\x08\x00" + body[:64], "gzip"
    return body, encoding


@fuzz_settings()
@given(data=st.data())
def test_fuzz_otlp_protobuf(target: Target, data: st.DataObject) -> None:
    if data.draw(st.booleans()):
        body = data.draw(otlp_proto_requests())
    else:
        body = mutate_bytes(data, export_request(spans=data.draw(st.integers(1, 5)))[0])
    body, encoding = encoded(body, data.draw(encodings))
    target.export(body, data.draw(st.sampled_from([PROTO, PROTO, JSON, "text/plain"])), encoding)


OTLP_JSON = orjson.loads(trace("otlp-one-good-one-out-of-range.json").read_bytes())


@fuzz_settings()
@given(data=st.data())
def test_fuzz_otlp_json(target: Target, data: st.DataObject) -> None:
    doc = mutate(data, OTLP_JSON, rounds=4)
    # json, not orjson: it writes numbers past 64 bits and lone surrogates too
    body = json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass")
    if data.draw(st.integers(0, 3)) == 0:
        body = mutate_bytes(data, body)
    body, encoding = encoded(body, data.draw(encodings))
    target.export(body, JSON, encoding)


QUERY_PATHS = [
    "/api/traces",
    "/api/traces/{v}",
    "/api/services",
    "/api/services/{v}/operations",
    "/api/operations",
    "/api/dependencies",
    "/api/v3/traces",
    "/api/v3/traces/{v}",
    "/api/v3/operations",
]
PARAMS = [
    "service", "operation", "start", "end", "minDuration", "maxDuration", "limit", "tags",
    "tag", "traceID", "endTs", "lookback", "spanKind", "query.service_name",
    "query.start_time_min", "query.start_time_max", "query.duration_min", "query.duration_max",
    "query.attributes", "query.search_depth", "query.num_traces",
]  # fmt: skip
param_values = st.one_of(
    digit_strings,
    hostile_text,
    st.sampled_from(["2024-13-45T00:00:00Z", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00+14:00",
                     "1e400h", "-5s", "1.5s", '{"a":1}', "[]", "k:v", "checkout"]),
)  # fmt: skip


@fuzz_settings()
@given(
    path=st.sampled_from(QUERY_PATHS),
    value=param_values,
    params=st.lists(st.tuples(st.sampled_from(PARAMS), param_values), max_size=6),
)
def test_fuzz_query_api(
    target: Target, path: str, value: str, params: list[tuple[str, str]]
) -> None:
    url = target.query + path.replace("{v}", raw(value, safe=""))
    query = "&".join(f"{raw(k)}={raw(v)}" for k, v in params)
    answer = target.session.get(f"{url}?{query}", timeout=30)
    assert answer.status_code < 500, (answer.status_code, url, query, answer.text[:300])


def raw(text: str, safe: str = "/") -> str:
    """Percent-encoded bytes, lone surrogates included (a client may send any bytes)."""
    return quote(text.encode("utf-8", "surrogatepass"), safe=safe)


def test_after_the_fuzz_the_server_is_unharmed(target: Target) -> None:
    assert target.backend.decoder.pids() == target.workers
    assert requests.get(f"{target.query}/health", timeout=5).status_code == 200
    body, trace_id = export_request(spans=3)
    started = time.monotonic()
    assert target.export(body, PROTO, None).status_code == 200
    while requests.get(f"{target.query}/api/traces/{trace_id}", timeout=5).status_code != 200:
        assert time.monotonic() - started < 1.0, "a good export not stored within a second"
        time.sleep(0.02)
