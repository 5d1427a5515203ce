"""Which source a command uses: explicit options, then the environment, then obskit.yaml."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from obskit.errors import InputError
from obskit.sources import normalize_trace_id, resolve_source
from obskit.sources.files import FileSource
from obskit.sources.jaeger import JaegerSource
from obskit.sources.tempo import TempoSource
from obskit.stack.spec import parse_spec

SPEC = {
    "project": "shop",
    "environment": "dev",
    "services": [{"name": "web", "port": 8001, "metrics_port": 9101}],
}


def test_explicit_option_wins_over_env_and_spec() -> None:
    env = {"OBSKIT_TEMPO_URL": "http://tempo:3200"}
    source = resolve_source(jaeger="http://j:16686/", env=env, spec=parse_spec(SPEC))
    assert isinstance(source, JaegerSource)
    assert source.url == "http://j:16686"


def test_env_wins_over_spec() -> None:
    source = resolve_source(env={"OBSKIT_JAEGER_URL": "http://j:16686"}, spec=parse_spec(SPEC))
    assert isinstance(source, JaegerSource)


def test_spec_gives_the_backend_and_its_loopback_port() -> None:
    tempo = resolve_source(env={}, spec=parse_spec(SPEC))
    assert isinstance(tempo, TempoSource)
    assert tempo.url == "http://127.0.0.1:3200"
    jaeger = resolve_source(env={}, spec=parse_spec({**SPEC, "traces_backend": "jaeger"}))
    assert isinstance(jaeger, JaegerSource)
    assert jaeger.url == "http://127.0.0.1:16686"


def test_no_source_at_all() -> None:
    with pytest.raises(InputError) as err:
        resolve_source(env={})
    assert str(err.value) == (
        "no trace source (pass --jaeger URL, --tempo URL or --file PATH (- for stdin), set "
        "OBSKIT_JAEGER_URL or OBSKIT_TEMPO_URL, or run where obskit.yaml is)"
    )


def test_two_sources_are_refused() -> None:
    with pytest.raises(InputError) as err:
        resolve_source(jaeger="http://a", file="t.json", env={})
    assert str(err.value) == "--jaeger and --file given: choose one trace source"
    with pytest.raises(InputError) as err:
        resolve_source(env={"OBSKIT_JAEGER_URL": "http://a", "OBSKIT_TEMPO_URL": "http://b"})
    assert str(err.value) == (
        "both OBSKIT_JAEGER_URL and OBSKIT_TEMPO_URL are set (unset one, or pass --jaeger/--tempo)"
    )


def test_bad_url() -> None:
    with pytest.raises(InputError) as err:
        resolve_source(tempo="localhost:3200", env={})
    assert (
        str(err.value) == "--tempo: expected a URL like http://127.0.0.1:3200, got 'localhost:3200'"
    )


def test_trace_id_is_checked_and_lowercased() -> None:
    assert normalize_trace_id(" 2EA75461946A7DD1 ") == "2ea75461946a7dd1"
    for bad in ("xyz", "", "0" * 33, "O6VWCcPN5JZJzXfR+dzZNg=="):
        with pytest.raises(InputError) as err:
            normalize_trace_id(bad)
        assert str(err.value) == (
            f"--trace-id: expected 1 to 32 hex digits, got {bad!r} "
            "(copy the id from the Jaeger or Grafana trace view)"
        )


def test_file_source(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_bytes(b'{"data": []}')
    payload = FileSource(str(path)).fetch(None)
    assert (payload.data, payload.origin, payload.remote) == (b'{"data": []}', str(path), False)
    with pytest.raises(InputError) as err:
        FileSource(str(tmp_path / "missing.json")).fetch(None)
    assert str(err.value) == f"{tmp_path / 'missing.json'}: no such file"
    with pytest.raises(InputError) as err:
        FileSource(str(tmp_path)).fetch(None)
    assert str(err.value) == f"{tmp_path}: is a directory, expected a trace file"
    (tmp_path / "empty.json").write_bytes(b"")
    with pytest.raises(InputError) as err:
        FileSource(str(tmp_path / "empty.json")).fetch(None)
    assert str(err.value) == f"{tmp_path / 'empty.json'}: the file is empty"


def test_stdin_source(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = io.TextIOWrapper(io.BytesIO(b'{"resourceSpans": []}'))
    monkeypatch.setattr(sys, "stdin", fake)
    payload = FileSource("-").fetch(None)
    assert (payload.data, payload.origin) == (b'{"resourceSpans": []}', "stdin")
