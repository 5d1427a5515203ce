"""``amtool check-config`` on the generated Alertmanager config."""

from __future__ import annotations

import re

from obskit.validate.check import Check, Outcome, failed, passed, plural
from obskit.validate.stackdir import ALERTMANAGER, StackDir
from obskit.validate.tools import AMTOOL, run


def check_config(stack: StackDir, amtool: list[str]) -> Outcome:
    stack.require(ALERTMANAGER)
    result = run([*amtool, "check-config", ALERTMANAGER], cwd=stack.root)
    if not result.ok:
        # "Checking 'F'  FAILED: undefined receiver "x" used in route", then a usage footer.
        problems = [
            f"{ALERTMANAGER}: {m.group(1).strip()}"
            for m in re.finditer(r"FAILED:\s*(.+)", result.output)
        ]
        return failed(problems or [line for line in result.output.splitlines() if line.strip()])
    found = dict(
        (what, int(n))
        for n, what in re.findall(r"- (\d+) (inhibit rules|receivers|templates)", result.output)
    )
    return passed(
        f"valid; {plural(found.get('receivers', 0), 'receiver')}, "
        f"{plural(found.get('inhibit rules', 0), 'inhibit rule')}, "
        f"{plural(found.get('templates', 0), 'template')}"
    )


CHECKS = (Check("amtool check-config", check_config, AMTOOL),)
