"""Aggregate mode on a Dask cluster (``--scheduler``): the same report as the local worker
pool for the same traces -- identical ranking, counts, totals and exemplars; quantiles within
the sketch's stated accuracy -- with a real scheduler and two workers, each a process of its
own on loopback. Without --scheduler, Dask is not loaded at all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from obskit.aggregate.run import new_aggregator
from obskit.aggregate.sample import Endpoint
from obskit.aggregate.whatif import parse_what_if
from obskit.collect import collect, collect_on_dask
from obskit.sources.files import FileSource
from obskit.sources.query import Query
from tests.aggregate import dask_cluster as cluster_module
from tests.aggregate.corpus import corpus
from tests.aggregate.dask_cluster import dask_cluster
from tests.aggregate.quantiles import near
from tests.aggregate.test_workers import _line, write_corpus

REPO = Path(__file__).resolve().parents[2]
WHAT_IFS = (parse_what_if("payments-gateway=-30ms"),)


def _obskit(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None, timeout: int = 300
) -> subprocess.CompletedProcess[str]:
    """``python -m obskit ARGS`` from the checkout, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "obskit", *args],
        capture_output=True, text=True, timeout=timeout, cwd=REPO,
        env=env or cluster_module.env(), input=stdin,
    )  # fmt: skip


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    _require_dask()
    with dask_cluster() as cluster:
        yield cluster.address


def _require_dask() -> None:
    # the dask extra: the README's step 2 installs it; CI must not go green by skipping
    if os.environ.get("CI") == "true":
        import distributed  # noqa: F401
    else:
        pytest.importorskip("distributed", reason="pip install 'obskit[dask]'")


@pytest.fixture(scope="module")
def jsonl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("dask") / "traces.jsonl")


def _local(path: Path):
    aggregator = new_aggregator(Endpoint("checkout"), what_ifs=WHAT_IFS)
    collect(aggregator, FileSource(path), Query("checkout", None, 0, 0, None), workers=2)
    return aggregator.report()


def _on_dask(path: str, address: str, partition_traces: int | None = None):
    aggregator = new_aggregator(Endpoint("checkout"), what_ifs=WHAT_IFS)
    done: list[tuple[int, int | None]] = []
    collect_on_dask(
        aggregator,
        FileSource(path),
        Query("checkout", None, 0, 0, None),
        scheduler=address,
        progress=lambda n, total: done.append((n, total)),
    )
    return aggregator.report(), done


@pytest.mark.slow
def test_the_cluster_and_the_local_pool_give_the_same_report(
    scheduler: str, jsonl: Path, monkeypatch: pytest.MonkeyPatch
):
    from obskit import collect_dask

    monkeypatch.setattr(collect_dask, "PARTITION_TRACES", 100)  # several partitions, a tree
    local = _local(jsonl)
    remote, progress = _on_dask(str(jsonl), scheduler)
    assert len(progress) >= 4 and progress[-1][0] == progress[-1][1]
    assert remote.to_dict() == local.to_dict()
    assert remote == local  # the graph, the heat map and the folded stacks too
    assert remote.traces == 697 and remote.traces_found == 698
    # and both agree with the exact figures (in one process, no sketch merges)
    exact = _exact(jsonl)
    for hop in remote.hops:
        spread, exemplar = exact[(hop.caller, hop.callee, hop.external)]
        assert near(hop.critical_ns.to_dict(), spread)
        assert hop.exemplar_trace_id == exemplar


def _exact(path: Path) -> dict:
    """Each hop's exact nearest-rank spread and exemplar (slowest, then smallest id)."""
    from obskit.aggregate.sample import TraceSample, take
    from obskit.aggregate.stats import summary

    samples = [
        s
        for t in FileSource(str(path)).traces()
        if isinstance(s := take(t, Endpoint("checkout"), None, WHAT_IFS, None), TraceSample)
    ]
    out = {}
    for key in {k for s in samples for k in s.hops}:
        values = [(s.hops[key], s.trace_id) for s in samples if key in s.hops]
        ns = [v for v, _ in values]
        exemplar = min(tid for v, tid in values if v == max(ns))
        out[key] = ({**summary(ns), "total": sum(ns)}, exemplar)
    return out


@pytest.mark.slow
def test_a_worker_killed_mid_run_costs_nothing(jsonl: Path, monkeypatch: pytest.MonkeyPatch):
    # Without a nanny, nothing restarts the worker: the scheduler reruns its tasks (and
    # recomputes the partials it held) on the other one, and the report is whole.
    import distributed

    from obskit import collect_dask

    monkeypatch.setattr(collect_dask, "PARTITION_TRACES", 20)  # ~35 partitions
    local = _local(jsonl)
    _require_dask()
    with dask_cluster(2, "--no-nanny") as cluster:
        address, workers = cluster.address, cluster.workers
        lost: list[int] = []

        def kill_one(done: int, total: int | None) -> None:
            if not lost:  # after the first partition, with more in flight on both workers
                with distributed.Client(address, timeout="5s") as client:
                    lost.append(min(len(tasks) for tasks in client.processing().values()))
                workers[0].send_signal(signal.SIGKILL)

        aggregator = new_aggregator(Endpoint("checkout"), what_ifs=WHAT_IFS)
        collect_on_dask(aggregator, FileSource(str(jsonl)),
                        Query("checkout", None, 0, 0, None), scheduler=address,
                        progress=kill_one)  # fmt: skip
        assert workers[0].wait(timeout=10) == -signal.SIGKILL
    assert lost[0] > 0, "the worker killed had no task running"
    remote = aggregator.report()
    assert not [w for w in remote.warnings if w.code == "partition-skipped"]
    assert remote == local


@pytest.mark.slow
def test_urls_are_read_by_the_workers_one_partition_per_object(scheduler: str, tmp_path: Path):
    # fsspec's local:// takes the path s3:// and gs:// take (with s3fs, gcsfs installed)
    traces = corpus(seed=5, count=300)
    for part in range(3):
        lines = b"".join(_line(t) for t in traces[part::3])
        (tmp_path / f"part-{part}.jsonl").write_bytes(lines)
    local = _local(tmp_path)
    remote, progress = _on_dask(f"local://{tmp_path}/part-*.jsonl", scheduler)
    assert [n for n, _ in progress] == [1, 2, 3]
    assert remote.traces == local.traces > 0
    assert remote == local


@pytest.mark.slow
def test_a_bad_line_is_counted_and_named_and_the_run_goes_on(scheduler: str, tmp_path: Path):
    path = write_corpus(tmp_path / "bad.jsonl", bad_line=77)
    report, _ = _on_dask(str(path), scheduler)
    bad = next(w for w in report.warnings if w.code == "bad-trace")
    assert bad.trace_ids == (f"{77:032x}",)
    assert "line 77" in bad.message
    assert report.traces == 696  # every trace but the bad one (and the one without checkout)


@pytest.mark.slow
def test_cli_with_the_scheduler_from_the_environment(scheduler: str, jsonl: Path):
    args = ("analyze", "--service", "checkout", "--file", str(jsonl), "--format", "json")
    local = _obskit(*args, "--workers", "2")
    remote = _obskit(*args, env={**cluster_module.env(), "OBSKIT_DASK_SCHEDULER": scheduler})
    assert local.returncode == remote.returncode == 0, remote.stderr
    assert remote.stdout == local.stdout
    assert orjson.loads(remote.stdout)["quantile_accuracy"] == 0.01


def test_without_dask_the_cli_says_how_to_install_it(tmp_path: Path, jsonl: Path):
    # a Python where `import distributed` fails: a module of that name that raises
    fake = tmp_path / "nodask"
    fake.mkdir()
    (fake / "distributed.py").write_text("raise ImportError('no dask here')\n")
    done = _obskit(
        "analyze", "--service", "checkout", "--file", str(jsonl), "--scheduler", "tcp://127.0.0.1:9",
        env={**cluster_module.env(), "PYTHONPATH": f"{fake}{os.pathsep}{REPO}"}, timeout=120,
    )  # fmt: skip
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        "Error: --scheduler runs on Dask, which is not installed "
        "(install it: pip install 'obskit[dask]')"
    ]


def test_the_cli_loads_no_dask_without_scheduler():
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, obskit.cli, obskit.collect; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env=cluster_module.env(),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_scheduler_needs_files(jsonl: Path):
    done = _obskit(
        "analyze", "--service", "checkout", "--file", "-", "--scheduler", "tcp://127.0.0.1:9",
        stdin="", timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert done.stderr.strip() == (
        "Error: --scheduler reads --file paths or URLs (not stdin, not a backend)"
    )


@pytest.mark.slow
def test_a_partition_that_keeps_failing_is_skipped_and_named(
    scheduler: str, jsonl: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from obskit import collect_dask

    # the real partitions of the corpus, and one more whose file is gone when a worker reads it
    gone = tmp_path / "gone.json"
    real = collect_dask.partitions

    def with_a_lost_file(path, **kwargs):
        yield from real(path, **kwargs)
        yield collect_dask.Partition(
            str(gone), (collect_dask.LinesBatch(str(gone), [], {1: (0, 10, ())}, 500),)
        )

    monkeypatch.setattr(collect_dask, "partitions", with_a_lost_file)
    report, _ = _on_dask(str(jsonl), scheduler)
    skipped = next(w for w in report.warnings if w.code == "partition-skipped")
    assert skipped.message.startswith("1 partition(s) failed on the workers after 2 retries")
    assert str(gone) in skipped.message
    assert report.traces == 697  # every other partition counted
