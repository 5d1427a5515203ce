from pathlib import Path

import pytest

from obskit.errors import SpecError
from obskit.stack.spec import load_spec, parse_spec

REPO = Path(__file__).resolve().parent.parent


def minimal(**overrides: object) -> dict:
    data: dict = {
        "project": "shop",
        "services": [{"name": "checkout", "port": 8002, "metrics_port": 9102}],
    }
    data.update(overrides)
    return data


def test_demo_spec_loads() -> None:
    spec = load_spec(REPO / "demo_services" / "obskit.yaml")
    assert [s.name for s in spec.services] == [
        "storefront",
        "checkout",
        "inventory",
        "pricing",
        "payments",
        "mailer",
    ]
    assert spec.external[0].name == "payments-gateway"
    assert [s.name for s in spec.services if not s.http] == ["mailer"]
    assert spec.latency_thresholds_ms == [100, 300, 500, 1000]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            minimal(project="shop; rm -rf /"),
            "project: use letters, digits, '.', '_' or '-', starting with a letter or digit, at most 63 characters; got 'shop; rm -rf /'",
        ),
        (minimal(services=[]), "services: needs at least 1 item(s)"),
        (
            minimal(traces_backend="zipkin"),
            "traces_backend: must be one of tempo, jaeger; got 'zipkin'",
        ),
        (
            minimal(services=[{"name": "a", "port": 70000, "metrics_port": 1}]),
            "services[0].port: must be a whole number from 1 to 65535; got 70000",
        ),
        (
            minimal(services=[{"name": "a", "port": 1, "metrics_port": 1}]),
            "services[0].metrics_port: port 1 is already used by services[0].port",
        ),
        (
            minimal(
                services=[{"name": "a", "port": 1, "metrics_port": 2, "slo": {"availability": 100}}]
            ),
            "services[0].slo.availability: must be a percentage above 0 and below 100, like 99.9; got 100",
        ),
        (
            minimal(servces=[]),
            "servces: unknown field (allowed: project, services, environment, traces_backend, external, alerting, sampling_ratio, otlp_endpoint, retention_days, query_url, metrics_host)",
        ),
        (
            minimal(alerting={"webhook_url": 'http://x/"}'}),
            "alerting.webhook_url: must be an http:// or https:// URL; got 'http://x/\"}'",
        ),
        (
            minimal(external=[{"name": "gw", "host": "bad host"}]),
            "external[0].host: must be a host name like api.example.com, got 'bad host'",
        ),
        (
            minimal(services=[{"name": "a", "port": 1, "metrics_port": 2, "http": "no"}]),
            "services[0].http: must be true or false; got 'no'",
        ),
        (
            minimal(
                services=[
                    {"name": "a", "port": 1, "metrics_port": 2},
                    {
                        "name": "w",
                        "port": 3,
                        "metrics_port": 4,
                        "http": False,
                        "slo": {"availability": 99.9},
                    },
                ]
            ),
            "services[1].slo: a service with `http: false` serves no requests for an SLO to "
            "measure; remove `slo` or `http: false`",
        ),
        (
            minimal(services=[{"name": "w", "port": 1, "metrics_port": 2, "http": False}]),
            "services: every service has `http: false`; obskit follows requests, so at least "
            "one service must serve HTTP",
        ),
    ],
)
def test_bad_spec_names_the_field(data: dict, message: str) -> None:
    with pytest.raises(SpecError) as err:
        parse_spec(data)
    assert str(err.value) == message


def test_missing_spec_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as err:
        load_spec(tmp_path / "obskit.yaml")
    assert str(err.value).endswith("no such file; run `obskit init` to write a starter spec")


def test_invalid_yaml_gives_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "obskit.yaml"
    path.write_text("project: shop\nservices: [\n")
    with pytest.raises(SpecError) as err:
        load_spec(path)
    assert "not valid YAML at line" in str(err.value)
