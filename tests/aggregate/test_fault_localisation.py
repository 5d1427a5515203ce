"""Fault localisation: in a generated corpus of the demo shop (tests/aggregate/corpus.py), one
hop chosen at random per run is slowed; the top-ranked hop must be the slowed one in at least
95 % of 100 runs, and the long spans that are off the critical path (the fraud check that runs
in parallel and ends early, the asynchronous notifier) must never rank first.

    storefront ─▶ checkout ─┬▶ inventory ┐ parallel
                            ├▶ pricing   ┘
                            ├▶ fraud  (long, ends before payments: off the path)
                            └▶ payments ─▶ payments-gateway (external)
    storefront ─▶ order-events ⇢ notifier (asynchronous, 3 s: off the path)

Each run has 1,000 traces (a different seed, slowed hop and slowdown of 80-150 ms).
"""

from __future__ import annotations

import random
import time

from obskit.aggregate import Endpoint, aggregate_traces
from tests.aggregate.corpus import OFF_PATH, SLOWABLE, corpus

RUNS = 100
TRACES = 1000


def test_the_slowed_hop_ranks_first_and_off_path_spans_never_do():
    started = time.perf_counter()
    hits = 0
    misses = []
    chosen = set()
    for run in range(RUNS):
        rng = random.Random(run)
        slowed = rng.choice(SLOWABLE)
        chosen.add(slowed)
        extra = rng.uniform(80, 150)
        report = aggregate_traces(corpus(run, TRACES, slowed, extra), Endpoint("storefront"))
        assert report.traces == TRACES
        top = (report.hops[0].caller, report.hops[0].callee)
        if top == slowed:
            hits += 1
        else:
            misses.append((run, slowed, top))
        assert top != OFF_PATH, f"run {run}: the long parallel fraud check ranked first"
        assert top != ("storefront", "notifier"), f"run {run}: the async consumer ranked first"
        fraud = next(h for h in report.hops if (h.caller, h.callee) == OFF_PATH)
        assert fraud.critical_in == 0 and not fraud.flagged
    elapsed = time.perf_counter() - started
    print(f"fault localisation: {hits}/{RUNS} runs, {elapsed:.1f} s")
    assert chosen == set(SLOWABLE)  # every hop was the slowed one in some run
    assert hits >= 95, f"only {hits}/{RUNS} runs ranked the slowed hop first: {misses[:5]}"
