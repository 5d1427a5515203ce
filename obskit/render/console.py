"""Rendering with rich into a string, the same way for every text report."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


def capture(draw: Callable[[Console], None], *, width: int = 100, color: bool = False) -> str:
    """What ``draw`` prints on a console of ``width`` columns; ``color`` adds ANSI styles."""
    from rich.console import Console

    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width,
        force_terminal=color,
        color_system="standard" if color else None,
        no_color=not color,
        highlight=False,
        emoji=False,
        markup=False,
        legacy_windows=False,
    )
    draw(console)
    # rich pads table rows to the full width; trailing blanks only make diffs noisy
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n"
