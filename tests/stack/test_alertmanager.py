"""alertmanager/alertmanager.yml: accepted by amtool of the pinned Alertmanager version (v0.34.0,
built by tests/stack/peers/build) for every CI spec, routes
page / ticket / Watchdog where they belong (``amtool config routes test``), and a page
inhibits tickets for the same service in a real Alertmanager."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from obskit.stack import alertmanager, compose
from obskit.stack.serialize import serialize
from obskit.stack.spec import parse_spec
from tests.conftest import free_port, require_pinned, wait_ready
from tests.specs import SPEC_DATA, SPECS

ALERTMANAGER = shutil.which("prometheus-alertmanager")


def amtool() -> str:
    return require_pinned("amtool")


WITH_SECRETS = parse_spec(
    {
        **SPEC_DATA["one-service"],
        "alerting": {
            "webhook_url": "http://127.0.0.1:5001/alerts",
            "slack": {"channel": "#ops-alerts", "api_url_file": "secrets/slack_api_url"},
            "email": {
                "to": "oncall@example.com",
                "from": "am@example.com",
                "smarthost": "smtp.example.com:587",
                "auth_username": "am@example.com",
                "auth_password_file": "secrets/smtp_password",
            },
        },
    }
)
ALL = {**SPECS, "with-secrets": WITH_SECRETS}


def write(directory: Path, spec_name: str) -> Path:
    path = directory / "alertmanager.yml"
    path.write_text(serialize(path, alertmanager.config(ALL[spec_name])), encoding="utf-8")
    return path


@pytest.mark.parametrize("name", sorted(ALL))
def test_amtool_accepts_the_config(tmp_path: Path, name: str) -> None:
    proc = subprocess.run(
        [amtool(), "check-config", str(write(tmp_path, name))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def route(config: Path, *labels: str) -> str:
    proc = subprocess.run(
        [amtool(), "config", "routes", "test", f"--config.file={config}", *labels],
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip()


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (("alertname=AvailabilityErrorBudgetBurn", "severity=page", "service=checkout"), "page"),
        (("alertname=LatencyErrorBudgetBurn", "severity=ticket", "service=checkout"), "ticket"),
        (("alertname=Watchdog", "severity=none", "service=prometheus"), "watchdog"),
        # The heartbeat never pages, whatever its severity says.
        (("alertname=Watchdog", "severity=page", "service=prometheus"), "watchdog"),
        (("alertname=Custom", "severity=info", "service=checkout"), "default"),
    ],
)
def test_routing_by_severity(tmp_path: Path, labels: tuple[str, ...], receiver: str) -> None:
    assert route(write(tmp_path, "demo"), *labels) == receiver


def test_receivers_send_to_the_webhook_and_read_secrets_from_files() -> None:
    config = yaml.safe_load(serialize("a.yml", alertmanager.config(WITH_SECRETS)))
    receivers = {r["name"]: r for r in config["receivers"]}
    page = receivers["page"]
    assert page["webhook_configs"] == [
        {"url": "http://host.docker.internal:5001/alerts", "send_resolved": True}
    ]
    assert page["slack_configs"][0]["api_url_file"] == "/run/secrets/alertmanager_slack_api_url"
    assert page["slack_configs"][0]["channel"] == "#ops-alerts"
    assert "api_url" not in page["slack_configs"][0]
    assert page["email_configs"][0]["auth_password_file"] == (
        "/run/secrets/alertmanager_smtp_password"
    )
    assert "auth_password" not in page["email_configs"][0]
    # The heartbeat only goes to the webhook, never to chat or e-mail.
    assert set(receivers["watchdog"]) == {"name", "webhook_configs"}
    # compose mounts exactly those files as Docker secrets into Alertmanager.
    stack = compose.compose(WITH_SECRETS)
    assert stack["secrets"]["alertmanager_slack_api_url"] == {"file": "./secrets/slack_api_url"}
    assert stack["secrets"]["alertmanager_smtp_password"] == {"file": "./secrets/smtp_password"}
    assert set(stack["services"]["alertmanager"]["secrets"]) == {
        "alertmanager_slack_api_url",
        "alertmanager_smtp_password",
    }


# --- issue 11, problem 4: a receiver on the host, seen from Alertmanager's container ----------


@pytest.mark.parametrize(
    ("given", "in_container"),
    [
        ("http://127.0.0.1:5001/alerts", "http://host.docker.internal:5001/alerts"),
        ("http://localhost:5001/alerts?x=1", "http://host.docker.internal:5001/alerts?x=1"),
        ("http://[::1]:5001/alerts", "http://host.docker.internal:5001/alerts"),
        ("http://127.0.0.2/hook", "http://host.docker.internal/hook"),
        ("https://hooks.example.com/obskit", "https://hooks.example.com/obskit"),
    ],
)
def test_a_webhook_on_the_host_loopback_is_posted_to_through_host_gateway(
    given: str, in_container: str
) -> None:
    # Inside the container 127.0.0.1 is Alertmanager itself: the old config posted every
    # notification, the Watchdog heartbeat included, to Alertmanager's own port 5001.
    spec = parse_spec({**SPEC_DATA["one-service"], "alerting": {"webhook_url": given}})
    config = alertmanager.config(spec)
    urls = {c["url"] for r in config["receivers"] for c in r.get("webhook_configs", [])}
    assert urls == {in_container}
    am = compose.compose(spec)["services"]["alertmanager"]
    on_host = in_container != given
    assert am.get("extra_hosts") == (["host.docker.internal:host-gateway"] if on_host else None)
    # obskit demo runs Alertmanager on the host: there the spec's URL stays as it is.
    local = alertmanager.config(spec, in_container=False)
    assert {c["url"] for r in local["receivers"] for c in r.get("webhook_configs", [])} == {given}


def test_a_smarthost_on_the_host_loopback_is_rewritten_too() -> None:
    data = {
        **SPEC_DATA["one-service"],
        "alerting": {
            "email": {"to": "a@example.com", "from": "b@example.com", "smarthost": "localhost:25"}
        },
    }
    config = alertmanager.config(parse_spec(data))
    assert config["receivers"][1]["email_configs"][0]["smarthost"] == "host.docker.internal:25"


def test_a_webhook_to_the_unspecified_address_is_refused() -> None:
    from obskit.errors import SpecError

    with pytest.raises(SpecError) as err:
        parse_spec(
            {**SPEC_DATA["one-service"], "alerting": {"webhook_url": "http://0.0.0.0:5001/a"}}
        )
    assert str(err.value) == (
        "alerting.webhook_url: 0.0.0.0 is an address to listen on, not to send to; give the"
        " receiver's address (127.0.0.1 for one on this host)"
    )


def test_without_any_receiver_configured_alerts_go_nowhere_but_the_config_is_whole() -> None:
    config = alertmanager.config(SPECS["no-slo"])
    assert [r["name"] for r in config["receivers"]] == ["default", "page", "ticket", "watchdog"]
    assert all(set(r) == {"name"} for r in config["receivers"])


def test_inhibition_needs_the_same_service() -> None:
    rule = alertmanager.config(SPECS["demo"])["inhibit_rules"]
    assert rule == [
        {
            "source_matchers": ['severity="page"'],
            "target_matchers": ['severity="ticket"'],
            "equal": ["service"],
        }
    ]
    assert alertmanager.config(SPECS["demo"])["route"]["group_by"] == ["alertname", "service"]


@pytest.fixture(scope="module")
def running_alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    assert ALERTMANAGER is not None  # the test's needs mark has checked
    directory = tmp_path_factory.mktemp("am")
    config = write(directory, "demo")
    port = free_port()
    proc = subprocess.Popen(
        [
            ALERTMANAGER,
            f"--config.file={config}",
            f"--storage.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(f"{url}/-/ready")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _post(url: str, alerts: list[dict]) -> None:
    request = urllib.request.Request(
        f"{url}/api/v2/alerts",
        data=json.dumps(alerts).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


@pytest.mark.slow
@pytest.mark.needs("prometheus-alertmanager", hint="apt-get install prometheus-alertmanager")
def test_a_page_inhibits_tickets_of_the_same_service_only(running_alertmanager: str) -> None:
    def alert(name: str, severity: str, service: str) -> dict:
        return {"labels": {"alertname": name, "severity": severity, "service": service}}

    _post(
        running_alertmanager,
        [
            alert("AvailabilityErrorBudgetBurn", "page", "checkout"),
            alert("LatencyErrorBudgetBurn", "ticket", "checkout"),
            alert("LatencyErrorBudgetBurn", "ticket", "inventory"),
        ],
    )
    with urllib.request.urlopen(f"{running_alertmanager}/api/v2/alerts", timeout=5) as response:
        alerts = json.load(response)
    state = {
        (a["labels"]["severity"], a["labels"]["service"]): a["status"]["state"] for a in alerts
    }
    assert state == {
        ("page", "checkout"): "active",
        ("ticket", "checkout"): "suppressed",  # inhibited by the page
        ("ticket", "inventory"): "active",  # another service: untouched
    }
