"""Folded stacks (``a;b;c 1234``): every call path with the CP time its last span held
itself, summed over the traces, in nanoseconds. Feed it to any flame-graph tool
(``flamegraph.pl``, speedscope, inferno): the width of a frame is the critical-path time spent
in it and below it.

A frame is ``service: operation``. Names come from the network, so the characters that carry
meaning in the format are replaced: ``;`` (the frame separator) by ``,`` and control
characters (a newline would end the line) by ``\\xNN``; the count is the last field.
"""

from __future__ import annotations

from collections.abc import Mapping

from obskit.render.labels import printable


def frame(text: str) -> str:
    return printable(text).replace(";", ",")


def render_folded(folded: Mapping[tuple[str, ...], int]) -> str:
    """One line per path with CP time, sorted by path (flame-graph tools expect that)."""
    lines = sorted(
        ";".join(frame(f) for f in frames) + f" {ns}" for frames, ns in folded.items() if ns > 0
    )
    return "".join(line + "\n" for line in lines)
