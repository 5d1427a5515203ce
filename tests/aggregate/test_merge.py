"""Partial aggregates merge into the same report however the traces were split and in
whatever order the partials come back (what the worker pool and a Dask cluster rely on)."""

from __future__ import annotations

import pickle
import random
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from obskit.aggregate import aggregate as aggregate_module
from obskit.aggregate.aggregate import Aggregator
from obskit.aggregate.paths import LIMIT
from obskit.aggregate.sample import Endpoint, TraceSample, take
from obskit.aggregate.stats import summary
from obskit.aggregate.whatif import parse_what_if
from tests.aggregate.corpus import corpus
from tests.aggregate.quantiles import near
from tests.aggregate.shop import shop

ENDPOINT = Endpoint("storefront")
WHAT_IFS = (parse_what_if("payments=-20ms"),)
TRACES = 240


def _outcomes() -> list[TraceSample | str | None]:
    traces = corpus(19, TRACES, slow=("checkout", "inventory"), extra_ms=40)
    traces[7:7] = [shop(900 + n, 100) for n in range(3)]  # no storefront span: not counted
    return [take(t, ENDPOINT, None, WHAT_IFS, None) for t in traces]


OUTCOMES = _outcomes()


def _partial(outcomes: list[TraceSample | str | None], path_limit: int = LIMIT) -> Aggregator:
    partial = Aggregator(ENDPOINT, what_ifs=WHAT_IFS, path_limit=path_limit)
    missing = []
    for outcome in outcomes:
        partial.found += 1
        if isinstance(outcome, TraceSample):
            partial.add(outcome)
        elif isinstance(outcome, str):
            missing.append(outcome)
    partial.skipped(missing)
    return partial


def _everything(aggregator: Aggregator) -> dict[str, object]:
    report = aggregator.report()
    return {
        "report": report.to_dict(),
        "graph": report.graph.to_dict(),
        "heat_map": report.heat_map,
        "folded": report.folded,
    }


def _whole(path_limit: int) -> dict[str, object]:
    return _everything(_partial(OUTCOMES, path_limit))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cuts=st.lists(st.integers(1, len(OUTCOMES) - 1), max_size=12, unique=True),
    seed=st.integers(0, 2**32 - 1),
    small_sample=st.booleans(),
    path_limit=st.sampled_from([LIMIT, 4, 2]),  # the corpus has 9 distinct call paths
)
def test_the_report_does_not_depend_on_the_split_or_the_merge_order(
    cuts, seed, small_sample, path_limit
):
    with pytest.MonkeyPatch.context() as patch:
        if small_sample:  # the heat map's sample smaller than the corpus: a bottom-k that merges
            patch.setattr(aggregate_module, "HEAT_SAMPLE", 40)
        whole = _whole(path_limit)
        bounds = [0, *sorted(cuts), len(OUTCOMES)]
        partials = [_partial(OUTCOMES[a:b], path_limit) for a, b in pairwise(bounds)]
        # partials come back over a wire (pickled), then merge pairwise in a random tree
        partials = [pickle.loads(pickle.dumps(p)) for p in partials]
        rng = random.Random(seed)
        while len(partials) > 1:
            left = partials.pop(rng.randrange(len(partials)))
            right = partials.pop(rng.randrange(len(partials)))
            left.merge(right)
            partials.insert(rng.randrange(len(partials) + 1), left)
        assert _everything(partials[0]) == whole


def test_quantiles_are_within_the_stated_accuracy_of_the_exact_ones():
    samples = [o for o in OUTCOMES if isinstance(o, TraceSample)]
    report = _partial(OUTCOMES).report()
    assert report.traces == TRACES
    assert near(report.duration_ns, summary([s.duration_ns for s in samples]))
    for hop in report.hops:
        key = (hop.caller, hop.callee, hop.external)
        values = [s.hops[key] for s in samples if key in s.hops]
        exact = {**summary(values), "total": sum(values)}
        assert near(hop.critical_ns.to_dict(), exact), key
        # the exemplar: the slowest trace for this hop, the smallest id among ties
        slowest = max(values)
        assert hop.exemplar_trace_id == min(
            s.trace_id for s in samples if s.hops.get(key) == slowest
        )
    warning = next(w for w in report.warnings if w.code == "no-endpoint")
    assert warning.trace_ids == tuple(sorted(shop(900 + n, 100).trace_id for n in range(3)))
