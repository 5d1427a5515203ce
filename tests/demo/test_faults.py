"""The fault catalogue's grammar, where each fault must be found, and the shop's control file
(``python -m demo_services --faults FILE``), without starting the shop."""

from __future__ import annotations

from pathlib import Path

import pytest

from demo_services.__main__ import ControlFile
from demo_services.faults import FAULTS, Injection, parse
from obskit.errors import InputError


@pytest.mark.parametrize(
    ("text", "parsed", "hop"),
    [
        ("gateway-latency=800", Injection("gateway-latency", 800), ("payments", "payments-gateway")),
        ("db-missing-index", Injection("db-missing-index"), ("inventory", "postgres")),
        ("db-pool=2", Injection("db-pool", 2), ("payments", "payments-pool")),
        ("cache-down", Injection("cache-down"), ("pricing", "postgres")),
        ("queue-consumer-slow=500", Injection("queue-consumer-slow", 500), None),
        ("service-latency=pricing:300", Injection("service-latency", 300, "pricing"),
         ("checkout", "pricing")),
        ("service-latency=checkout:50", Injection("service-latency", 50, "checkout"),
         ("storefront", "checkout")),
        ("none", Injection("none"), None),
    ],
)  # fmt: skip
def test_each_fault_parses_and_names_its_hop(text, parsed, hop) -> None:
    assert parse(text) == parsed
    assert parsed.hop == hop
    assert parse(parsed.text) == parsed  # the text round-trips


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("disk-full", "--fault disk-full: unknown fault 'disk-full'"),
        ("db-pool=0", "--fault db-pool=0: the value must be a number from 1 to 100"),
        ("db-pool=many", "--fault db-pool=many: the value must be a number from 1 to 100"),
        ("gateway-latency=-5", "--fault gateway-latency=-5: the value must be a number from 0"),
        ("cache-down=1", "--fault cache-down=1: cache-down takes no value"),
        ("service-latency=gateway:5", "--fault service-latency=gateway:5: give SERVICE:MS"),
        ("service-latency=300", "--fault service-latency=300: give SERVICE:MS"),
    ],
)
def test_bad_faults_are_one_line_naming_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse(text)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_the_catalogue_is_the_issue_s() -> None:
    assert set(FAULTS) == {
        "gateway-latency", "db-missing-index", "db-pool", "cache-down", "queue-consumer-slow",
        "service-latency", "none",
    }  # fmt: skip


class Recorder:
    """Stands in for FaultSwitch: records what the control file asked for."""

    def __init__(self) -> None:
        self.active: dict[str, Injection] = {}
        self.calls: list[list[str]] = []

    def apply(self, wanted: list[Injection]) -> None:
        self.calls.append([f.text for f in wanted])
        self.active = {f.name: f for f in wanted}


def test_the_control_file_applies_each_change_once(tmp_path: Path, capsys) -> None:
    path = tmp_path / "faults"
    switch = Recorder()
    control = ControlFile(path, switch)  # type: ignore[arg-type]
    control.poll()  # no file yet: no faults
    path.write_text("db-pool=2   # the payment pool runs dry\n\ncache-down\n")
    control.poll()
    control.poll()  # unchanged: not applied again
    path.write_text("cache-down\n")
    control.poll()
    assert switch.calls == [[], ["db-pool=2", "cache-down"], ["cache-down"]]
    path.write_text("cache-down\nslow-disk\n")
    control.poll()
    assert switch.calls[-1] == ["cache-down"]  # a bad file changes nothing
    err = capsys.readouterr().err
    assert "unknown fault 'slow-disk'" in err and "(faults unchanged)" in err


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--fault", "disk-full"], "Error: --fault disk-full: unknown fault 'disk-full' (known: "),
        (["--json", "out.json"], "Error: --json FILE writes the fault report: give at least one"),
    ],
)
def test_obskit_demo_refuses_bad_faults_before_starting_anything(tmp_path: Path, args, line):
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "obskit", "demo", "--workdir", str(tmp_path / "w"), *args],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.startswith(line) and len(proc.stderr.splitlines()) == 1
    assert not (tmp_path / "w").exists() and not (tmp_path / "out.json").exists()
