"""A Dask cluster on loopback as a real one runs: a scheduler and workers (one thread each),
each a process of its own, importing this checkout's obskit. Used by the Dask tests and by
``bench/aggregate.py --dask`` (where the client's memory must be the client's alone)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Cluster:
    address: str
    scheduler: subprocess.Popen[bytes]
    workers: list[subprocess.Popen[bytes]]


def env() -> dict[str, str]:
    # the workers import this checkout's obskit (they unpickle its functions by name)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OBSKIT_")}
    return {**clean, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def dask_cluster(workers: int = 2, *worker_args: str) -> Iterator[Cluster]:
    """Started, with every worker connected; stopped (killed if need be) on the way out."""
    import distributed

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    quiet = {"env": env(), "cwd": REPO, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    python = [sys.executable, "-m"]
    scheduler = subprocess.Popen([*python, "distributed.cli.dask_scheduler", "--host",
                                  "127.0.0.1", "--port", str(port), "--no-dashboard"], **quiet)  # fmt: skip
    processes = [scheduler]
    try:
        started = [
            subprocess.Popen([*python, "distributed.cli.dask_worker", address, "--host",
                              "127.0.0.1", "--nthreads", "1", "--no-dashboard", *worker_args],
                             **quiet)
            for _ in range(workers)
        ]  # fmt: skip
        processes += started
        deadline = time.monotonic() + 60
        while True:
            try:
                with distributed.Client(address, timeout="5s") as client:
                    client.wait_for_workers(workers, timeout=60)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield Cluster(address, scheduler, started)
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
