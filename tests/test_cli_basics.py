import subprocess
import sys

import pytest
from click.testing import CliRunner

from obskit import __version__
from obskit.cli import COMMANDS, cli
from tests.conftest import REPO


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    listed = result.output.split("Commands:", 1)[1]
    for name, (_module, _attr, summary) in COMMANDS.items():
        assert f"{name}  " in listed and summary in listed


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help_and_is_documented_in_the_readme(name: str) -> None:
    result = CliRunner().invoke(cli, [name, "--help"], prog_name="obskit")
    assert result.exit_code == 0, result.output
    assert f"obskit {name}" in result.output
    assert f"`obskit {name}" in (REPO / "README.md").read_text()


def test_the_public_api_resolves() -> None:
    import obskit

    for name in obskit.__all__:
        assert getattr(obskit, name) is not None


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_python_dash_m_runs_the_cli() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "obskit", "--version"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0
    assert proc.stdout.startswith("obskit, version")


def test_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys; from obskit.cli import cli\n"
        "try:\n    cli(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('yaml', 'networkx', 'rich', 'requests', 'jinja2', 'opentelemetry')"
        " if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip().splitlines()[-1] == "HEAVY="
