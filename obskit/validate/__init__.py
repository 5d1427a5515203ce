"""``obskit validate``: check a generated stack with the real tools that are installed
(promtool, amtool, check-jsonschema's compose-spec schema, Debian's docker-compose) and with
obskit's own cross-checks (collector pipelines, metric names, ports, Grafana datasources).

>>> report = validate_stack("stack")           # doctest: +SKIP
>>> report.passed(), report.summary()          # doctest: +SKIP
"""

from __future__ import annotations

from obskit.validate.result import CheckResult, Report, Status
from obskit.validate.runner import CHECKS, validate_stack
from obskit.validate.stackdir import NotAStack

__all__ = ["CHECKS", "CheckResult", "NotAStack", "Report", "Status", "validate_stack"]
