"""``docker-compose.yml``: the compose-spec JSON schema (bundled with check-jsonschema) and,
when Debian's Compose v1 is installed, ``docker-compose config -q`` (interpolation from
``.env``, references such as ``depends_on`` targets)."""

from __future__ import annotations

import re

from obskit.validate.check import Check, Outcome, failed, passed
from obskit.validate.stackdir import COMPOSE, StackDir
from obskit.validate.tools import CHECK_JSONSCHEMA, DOCKER_COMPOSE, run

_UNSET = re.compile(r"The (\S+) variable is not set")


def check_schema(stack: StackDir, check_jsonschema: list[str]) -> Outcome:
    stack.require(COMPOSE)
    argv = [*check_jsonschema, "--builtin-schema", "vendor.compose-spec", COMPOSE]
    result = run(argv, cwd=stack.root)
    if not result.ok:
        # "Schema validation errors were encountered." then "  F::$.path: message" per error.
        lines = [line.strip() for line in result.output.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith(f"{COMPOSE}::")]
        return failed(errors or lines)
    return passed("valid against the compose-spec schema")


def check_config(stack: StackDir, docker_compose: list[str]) -> Outcome:
    stack.require(COMPOSE)
    argv = [*docker_compose, "--project-directory", ".", "-f", COMPOSE, "config", "-q"]
    result = run(argv, cwd=stack.root)
    lines = [line.strip() for line in result.output.splitlines() if line.strip()]
    unset = _UNSET.findall(result.output)
    if not result.ok:
        return failed(lines or ["failed, no output"])
    if unset:
        # Compose would substitute an empty string: an image tag or a port silently lost.
        return failed(f"{', '.join(unset)} not set in .env (Compose would use an empty string)")
    return passed("valid; .env interpolation resolves every variable")


CHECKS = (
    Check("compose schema", check_schema, CHECK_JSONSCHEMA),
    Check("docker-compose config", check_config, DOCKER_COMPOSE),
)
