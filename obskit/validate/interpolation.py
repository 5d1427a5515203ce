"""Compose-style ``${VAR}`` interpolation, so obskit's own checks see the values Compose would
use (a published port written as ``${OBSKIT_BIND:-127.0.0.1}:3000:3000``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_VAR = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """``$$`` is a literal ``$``; ``${X:-d}``/``${X-d}`` default; ``${X:+v}``/``${X+v}``
    substitute when set; ``${X?err}`` needs X (left empty here: Compose itself reports it)."""

    def sub(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("braced") or match.group("bare")
        op, arg = match.group("op") or "", match.group("arg") or ""
        value = env.get(name)
        empty = value is None or (op.startswith(":") and value == "")
        if op.endswith("-"):
            return arg if empty else str(value)
        if op.endswith("+"):
            return "" if empty else arg
        return value or ""

    return _VAR.sub(sub, value)


def interpolate_all(data: Any, env: Mapping[str, str]) -> Any:
    """Interpolate every string in nested data (Compose interpolates values, not keys)."""
    if isinstance(data, str):
        return interpolate(data, env)
    if isinstance(data, list):
        return [interpolate_all(item, env) for item in data]
    if isinstance(data, dict):
        return {key: interpolate_all(item, env) for key, item in data.items()}
    return data
