"""``docker-compose.yml``: the compose-spec JSON schema (bundled with check-jsonschema) and,
when Debian's Compose v1 is installed, ``docker-compose config -q`` (interpolation from
``.env``, references such as ``depends_on`` targets)."""

from __future__ import annotations

import re

from obskit.validate.check import Check, Outcome, failed, passed
from obskit.validate.stackdir import COMPOSE, StackDir
from obskit.validate.tools import CHECK_JSONSCHEMA, DOCKER_COMPOSE, run

_UNSET = re.compile(r"The (\S+) variable is not set")
_INVALID_BECAUSE = re.compile(r"^The Compose file .* is invalid because:$")


def check_schema(stack: StackDir, _: list[str]) -> Outcome:
    """check-jsonschema's bundled ``vendor.compose-spec`` schema, used through its package in
    this process (the CLI would cost a Python start-up per run)."""
    import json
    from importlib.resources import files

    from jsonschema.exceptions import best_match
    from jsonschema.validators import validator_for

    compose = stack.load(COMPOSE)
    schema_file = files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    validator = validator_for(schema)(schema)
    problems = []
    for error in sorted(validator.iter_errors(compose), key=lambda e: list(e.absolute_path)):
        # For anyOf/oneOf the top message only says "not valid under any of"; name the
        # closest branch's complaint too, as check-jsonschema does.
        cause = best_match(error.context) if error.context else None
        message = error.message + (f" ({cause.message})" if cause else "")
        where = error.json_path.removeprefix("$").removeprefix(".") or "top level"
        problems.append(f"{COMPOSE}: {where}: {message}")
    if problems:
        return failed(problems)
    return passed("valid against the compose-spec schema")


def check_config(stack: StackDir, docker_compose: list[str]) -> Outcome:
    stack.require(COMPOSE)
    argv = [*docker_compose, "--project-directory", ".", "-f", COMPOSE, "config", "-q"]
    result = run(argv, cwd=stack.root)
    unset = _UNSET.findall(result.output)
    if not result.ok:
        # "The Compose file './docker-compose.yml' is invalid because:" then the reasons, or
        # "ERROR: Service 'x' depends on service 'y' which is undefined."
        lines = [
            f"{COMPOSE}: {line.strip().removeprefix('ERROR: ')}"
            for line in result.output.splitlines()
            if line.strip() and not _INVALID_BECAUSE.match(line.strip())
        ]
        return failed(lines or ["failed, no output"])
    if unset:
        # Compose would substitute an empty string: an image tag or a port silently lost.
        return failed(f"{', '.join(unset)} not set in .env (Compose would use an empty string)")
    return passed("valid; .env interpolation resolves every variable")


CHECKS = (
    Check("compose schema", check_schema, CHECK_JSONSCHEMA),
    Check("docker-compose config", check_config, DOCKER_COMPOSE),
)
