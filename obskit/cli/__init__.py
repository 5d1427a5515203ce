"""The ``obskit`` command. Subcommands live in their own modules and load only when used,
so ``obskit --help`` stays fast (no YAML, networkx, rich or OpenTelemetry at start-up)."""

from __future__ import annotations

import importlib
import importlib.util

import click

from obskit import __version__

# command name -> (module, attribute, one-line help shown by `obskit --help`)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": ("obskit.cli.init", "init", "Generate the observability stack from obskit.yaml."),
    "validate": ("obskit.cli.validate", "validate", "Check a generated stack with the real tools."),
    "analyze": ("obskit.cli.analyze", "analyze", "Critical path and slow hops of a trace."),
    "graph": ("obskit.cli.graph", "graph", "The service dependency graph of a trace."),
    "instrument": ("obskit.cli.instrument", "instrument", "Run a Python service under OTel."),
    "serve": ("obskit.cli.serve", "serve", "Embedded trace backend: OTLP in, Jaeger API out."),
    "demo": ("obskit.cli.demo", "demo", "Run the whole loop on this machine, no Docker."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if self._available(name)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS or not self._available(cmd_name):
            return None
        module_name, attr, _ = COMMANDS[cmd_name]
        command: click.Command = getattr(importlib.import_module(module_name), attr)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    @staticmethod
    def _available(name: str) -> bool:
        return importlib.util.find_spec(COMMANDS[name][0]) is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="obskit")
def cli() -> None:
    """obskit: an observability stack for Python microservices, and the answer to
    "why was this request slow?"."""


def main() -> None:
    cli(prog_name="obskit")
