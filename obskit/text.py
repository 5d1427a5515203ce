"""Strings from outside (a span name, a backend's answer, a spec value) made safe to show.

A trace is data from the network, and so is a backend's error page: an ESC could recolour or
clear the terminal, a newline forge a line of output, and a bidirectional-text mark (U+202E,
U+2066, U+200F...) reorder what a reader sees. Everything obskit prints or renders from outside
goes through :func:`printable`; JSON output through :func:`escape_json_unprintable`.
"""

from __future__ import annotations

import functools
import re


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(value: str) -> str:
    """``value`` with every character ``str.isprintable`` refuses (controls, bidi and other
    format marks, line separators) shown as ``\\xNN``, ``\\uNNNN`` or ``\\UNNNNNNNN``."""
    if value.isprintable():
        return value
    return "".join(c if c.isprintable() else _escape(c) for c in value)


@functools.cache
def _unprintable_non_ascii() -> re.Pattern[str]:
    # JSON encoders escape the C0 controls themselves; these are the rest (C1 controls, format
    # marks, separators, private use), found once by the same rule as printable()
    chars = "".join(chr(c) for c in range(0x80, 0x10000) if not chr(c).isprintable())
    return re.compile(f"[{re.escape(chars)}]|[\U000e0000-\U000e007f\U000f0000-\U0010ffff]")


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def escape_json_unprintable(data: bytes) -> bytes:
    """JSON text with every unprintable non-ASCII character written as a ``\\uNNNN`` escape:
    the same data to a parser, inert in a terminal or an editor."""
    if data.isascii():
        return data
    text = data.decode("utf-8")
    return _unprintable_non_ascii().sub(_json_escape, text).encode("utf-8")
