"""Where `obskit instrument` serves /metrics (issue 11, problem 3).

The generated Prometheus runs in Docker and scrapes ``host.docker.internal:<metrics_port>``,
which on Linux is the docker0 address (``host-gateway``). A service listening on 127.0.0.1
only, as every service did before, is down for that Prometheus: every RED/SLO rule empty,
``TargetDown`` paging. By default the metrics endpoint listens on the docker0 address
(reachable from containers, not from the network), on 127.0.0.1 where there is none.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from obskit.errors import InputError, SpecError
from obskit.instrument import launcher, settings
from obskit.instrument.settings import bind_address, interface_ipv4, resolve
from obskit.stack.spec import parse_spec
from tests.conftest import free_port

BRIDGE = "172.17.0.1"
SPEC = {
    "project": "shop",
    "services": [
        {"name": "checkout", "port": 8002, "metrics_port": 9102},
        {"name": "admin", "port": 8009, "metrics_port": 9109, "metrics_host": "127.0.0.1"},
    ],
}


@pytest.fixture
def docker0(monkeypatch: pytest.MonkeyPatch) -> None:
    """A host where Docker runs: docker0 has the default bridge address."""
    real = settings.interface_ipv4
    monkeypatch.setattr(
        settings,
        "interface_ipv4",
        lambda name: BRIDGE if name == "docker0" else real(name),
    )


@pytest.fixture
def no_docker0(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "interface_ipv4", lambda name: None)


@pytest.mark.usefixtures("docker0")
def test_by_default_metrics_listen_on_the_docker_bridge() -> None:
    found = resolve(service_name="checkout", spec=parse_spec(SPEC), environ={})
    assert (found.metrics_host, found.metrics_note) == (BRIDGE, None)
    assert found.metrics_url == f"http://{BRIDGE}:9102/metrics"


@pytest.mark.usefixtures("docker0")
def test_a_service_s_metrics_host_overrides_the_spec_s() -> None:
    spec = parse_spec({**SPEC, "metrics_host": "0.0.0.0"})
    assert resolve(service_name="checkout", spec=spec, environ={}).metrics_host == "0.0.0.0"
    admin = resolve(service_name="admin", spec=spec, environ={})
    assert admin.metrics_host == "127.0.0.1"
    assert admin.metrics_url == "http://127.0.0.1:9109/metrics"


@pytest.mark.usefixtures("docker0")
def test_the_option_beats_the_environment_which_beats_the_spec() -> None:
    spec = parse_spec(SPEC)
    env = {"OTEL_EXPORTER_PROMETHEUS_HOST": "0.0.0.0"}
    assert resolve(service_name="checkout", spec=spec, environ=env).metrics_host == "0.0.0.0"
    chosen = resolve(service_name="checkout", spec=spec, environ=env, metrics_host="::")
    assert (chosen.metrics_host, chosen.metrics_url) == ("::", "http://[::1]:9102/metrics")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the note is for Linux")
@pytest.mark.usefixtures("no_docker0")
def test_without_docker0_metrics_stay_on_loopback_with_a_note() -> None:
    assert bind_address("docker-bridge") == (
        "127.0.0.1",
        "no docker0 interface (is Docker running?): metrics listen on 127.0.0.1, which"
        " Prometheus in Docker cannot reach on Linux; start Docker first, or set metrics_host"
        " (--metrics-host)",
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the note is for Linux")
def test_loopback_chosen_by_hand_gets_the_note_too() -> None:
    assert bind_address("127.0.0.1") == (
        "127.0.0.1",
        "metrics listen on 127.0.0.1, which Prometheus in Docker cannot reach on Linux"
        " (host.docker.internal is the bridge); use docker-bridge or 0.0.0.0 for the generated"
        " stack",
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SIOCGIFADDR is Linux's")
def test_an_interface_address_is_read_from_the_kernel() -> None:
    assert interface_ipv4("lo") == "127.0.0.1"
    assert interface_ipv4("obskit-none0") is None


@pytest.mark.parametrize("value", ["localhost", "docker", "10.0.0.300"])
def test_a_bad_metrics_host_in_the_spec_names_the_field(value: str) -> None:
    with pytest.raises(SpecError) as err:
        parse_spec({**SPEC, "metrics_host": value})
    assert str(err.value) == (
        "metrics_host: must be docker-bridge or an IP address to listen on, like 0.0.0.0 or"
        f" 127.0.0.1; got {value!r}"
    )


def test_a_bad_metrics_host_option_is_one_line() -> None:
    with pytest.raises(InputError) as err:
        resolve(service_name="checkout", environ={}, metrics_host="my-laptop")
    assert err.value.message == "metrics host 'my-laptop' is not docker-bridge or an IP address"


@pytest.mark.usefixtures("docker0")
def test_the_launcher_hands_the_address_to_the_service(tmp_path: Path) -> None:
    spec = tmp_path / "obskit.yaml"
    spec.write_text(
        f"project: shop\nservices: [{{name: checkout, port: 8002, metrics_port: {free_port()}}}]\n"
    )
    launch = launcher.prepare(
        [sys.executable, "-c", "pass"],
        service_name="checkout",
        spec=str(spec),
        environ={"PATH": ""},
        check_packages=False,
        metrics_host="0.0.0.0",
    )
    assert launch.env["OTEL_EXPORTER_PROMETHEUS_HOST"] == "0.0.0.0"


def test_the_port_check_binds_the_chosen_address() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(InputError):
            settings.check_port_free("127.0.0.1", port)
