"""Pause Python's cyclic garbage collector while an analysis runs.

The analysis allocates hundreds of thousands of small objects (lists, tuples, report rows) and
creates no reference cycles, so the collector has nothing to free; yet every threshold it
crosses makes it traverse the whole trace (millions of objects for a 1M-span trace), which
made a 100k-span analysis 40 % slower. Reference counting still frees everything as usual.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
