"""The readers' set of yielded trace ids: exact answers past the point where it spills its
hashes into a sorted array."""

from __future__ import annotations

import random

from obskit import idset
from obskit.idset import IdSet


def test_it_remembers_every_id_across_spills(monkeypatch) -> None:
    monkeypatch.setattr(idset, "RECENT", 64)
    rng = random.Random(1)
    ids = [f"{rng.getrandbits(128):032x}" for _ in range(1000)]
    seen = IdSet()
    assert [seen.record(t) for t in ids] == [False] * 1000
    assert len(seen) == 1000
    assert len(seen._recent) < 64  # most of them are in the array now
    again = rng.sample(ids, 200)
    assert [seen.record(t) for t in again] == [True] * 200
    assert [seen.record(f"{rng.getrandbits(128):032x}") for _ in range(200)] == [False] * 200
