"""The call-path table's cardinality limit: a bottom-k sample by hash, exact for the paths it
keeps, the rest summed under one overflow frame, the same however the traces were split."""

from __future__ import annotations

import pickle
import random
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from obskit.aggregate.aggregate import Aggregator
from obskit.aggregate.paths import OTHER, CallPaths, rank
from obskit.aggregate.sample import Endpoint, take
from tests.aggregate.corpus import corpus

Path = tuple[tuple[str, str], ...]


def traces_of_paths(seed: int, traces: int, distinct: int) -> list[dict[Path, int]]:
    """Per trace, CP ns per call path: a few hot paths in every trace and a long tail of
    paths named after an id (`GET /users/<id>`), as a span name that carries one makes."""
    rng = random.Random(seed)
    hot: list[Path] = [(("shop", "GET /"), ("cart", f"op-{i}")) for i in range(3)]
    out = []
    for _ in range(traces):
        paths = {path: rng.randrange(1, 1000) for path in hot}
        tail: Path = (("shop", "GET /"), ("users", f"GET /users/{rng.randrange(distinct)}"))
        paths[tail] = paths.get(tail, 0) + rng.randrange(1, 1000)
        out.append(paths)
    return out


def table_of(traces: list[dict[Path, int]], limit: int) -> CallPaths:
    table = CallPaths(limit)
    for paths in traces:
        for path, ns in paths.items():
            table.add(path, ns)
    return table


def exact(traces: list[dict[Path, int]]) -> dict[Path, list[int]]:
    totals: dict[Path, list[int]] = {}
    for paths in traces:
        for path, ns in paths.items():
            entry = totals.setdefault(path, [0, 0])
            entry[0] += ns
            entry[1] += 1
    return totals


TRACES = traces_of_paths(3, 4000, 3000)


def test_under_the_limit_every_path_is_kept_exactly() -> None:
    table = table_of(TRACES, 10_000)
    table.settle()
    assert not table.sampled
    assert table.table == exact(TRACES)
    assert table.other_ns == 0
    assert table.distinct() == len(exact(TRACES))


def test_past_the_limit_the_lowest_ranked_paths_stay_with_exact_figures() -> None:
    truth = exact(TRACES)
    table = table_of(TRACES, 200)
    table.settle()
    assert table.sampled
    lowest = sorted(truth, key=lambda path: (rank(path), path))[:200]
    assert sorted(table.table) == sorted(lowest)
    assert all(table.table[path] == truth[path] for path in lowest)
    # nothing lost: what is not kept is in the overflow, to the nanosecond
    assert table.other_ns == sum(ns for ns, _ in truth.values()) - sum(
        ns for ns, _ in table.table.values()
    )
    # the KMV estimate of the distinct paths (standard error ~ 1/sqrt(200) = 7 %)
    assert abs(table.distinct() - len(truth)) < 0.25 * len(truth), (table.distinct(), len(truth))


@settings(max_examples=60, deadline=None)
@given(
    cuts=st.lists(st.integers(1, len(TRACES) - 1), max_size=10, unique=True),
    seed=st.integers(0, 2**32 - 1),
    limit=st.sampled_from([50, 200, 5000]),
)
def test_the_sample_does_not_depend_on_the_split_or_the_merge_order(cuts, seed, limit) -> None:
    whole = table_of(TRACES, limit)
    whole.settle()
    bounds = [0, *sorted(cuts), len(TRACES)]
    parts = [table_of(TRACES[a:b], limit) for a, b in pairwise(bounds)]
    parts = [pickle.loads(pickle.dumps(p)) for p in parts]  # over the wire, as from a worker
    rng = random.Random(seed)
    while len(parts) > 1:
        left = parts.pop(rng.randrange(len(parts)))
        left.merge(parts.pop(rng.randrange(len(parts))))
        # memory stays bounded between merges: nothing above the cut, under twice the limit
        assert all(rank(path) <= left.cut for path in left.table)
        assert len(left.table) < 2 * limit
        parts.insert(rng.randrange(len(parts) + 1), left)
    merged = parts[0]
    merged.settle()
    assert (merged.table, merged.other_ns, merged.cut) == (whole.table, whole.other_ns, whole.cut)


def test_the_report_says_when_paths_were_sampled_and_folds_the_rest() -> None:
    endpoint = Endpoint("storefront")
    samples = [take(t, endpoint, None, (), None) for t in corpus(5, 120)]
    unlimited, limited = Aggregator(endpoint), Aggregator(endpoint, path_limit=2)
    for sample in samples:
        unlimited.add(sample)
        limited.add(sample)
    everything, sampled = unlimited.report(), limited.report()
    assert len(everything.folded) > 2
    assert not [w for w in everything.warnings if w.code == "paths-sampled"]
    # the folded total is the same: the dropped paths' time is under one frame
    assert sum(sampled.folded.values()) == sum(everything.folded.values())
    assert len(sampled.folded) == 3 and (OTHER,) in sampled.folded
    assert sampled.hops == everything.hops  # only the call paths are sampled
    warning = next(w for w in sampled.warnings if w.code == "paths-sampled")
    assert "past the limit of 2" in warning.message
    assert OTHER in warning.message
