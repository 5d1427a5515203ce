"""How fast `obskit init` and `obskit --help` are, as a user runs them (fresh processes).

Targets: `obskit init` for 12 services under 1 s; `obskit --help` under 0.3 s. Each figure is
the median of several runs, next to a baseline measured in the same run (`python -c pass`:
the interpreter's own start-up), so a slow machine does not look like a slow obskit.

    .venv/bin/python bench/init_speed.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

TARGETS = {"init (12 services, fresh dir)": 1.0, "--help": 0.3}


def spec_data(services: int = 12) -> dict:
    slo = {"availability": 99.9, "latency": {"threshold_ms": 250, "target": 99}}
    return {
        "project": "bench",
        "environment": "prod",
        "services": [
            {"name": f"svc{i:02d}", "port": 8100 + i, "metrics_port": 9100 + i, "slo": slo}
            for i in range(services)
        ],
        "external": [{"name": "stripe", "host": "api.stripe.com", "latency_threshold_ms": 800}],
        "alerting": {"webhook_url": "http://127.0.0.1:5001/alerts"},
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run. CPU time does not grow when other processes
    compete for the cores; wall time is what the user waits."""
    cpu, start = _children_cpu(), time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start, _children_cpu() - cpu


def median_of(runs: int, make_argv) -> tuple[float, float]:  # type: ignore[no-untyped-def]  # a bench script
    samples = [timed(make_argv(i)) for i in range(runs)]
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        spec = root / "obskit.yaml"
        spec.write_text(yaml.safe_dump(spec_data(), sort_keys=False), encoding="utf-8")
        baseline = median_of(runs, lambda i: [python, "-c", "pass"])
        figures = {
            "init (12 services, fresh dir)": median_of(
                runs,
                lambda i: [
                    python,
                    "-m",
                    "obskit",
                    "init",
                    "--spec",
                    str(spec),
                    "--out",
                    str(root / f"fresh{i}"),
                ],
            ),
            "init (12 services, up to date)": median_of(
                runs,
                lambda i: [
                    python,
                    "-m",
                    "obskit",
                    "init",
                    "--spec",
                    str(spec),
                    "--out",
                    str(root / "fresh0"),
                ],
            ),
            "init --check (12 services)": median_of(
                runs,
                lambda i: [
                    python,
                    "-m",
                    "obskit",
                    "init",
                    "--check",
                    "--spec",
                    str(spec),
                    "--out",
                    str(root / "fresh0"),
                ],
            ),
            "--help": median_of(runs, lambda i: [python, "-m", "obskit", "--help"]),
        }
        files = sum(1 for p in (root / "fresh0").rglob("*") if p.is_file())
    load = os.getloadavg()[0]
    print(
        f"median of {runs} runs on {os.cpu_count()} cores (load average {load:.1f}); baseline "
        f"`python -c pass` = {baseline[0] * 1000:.0f} ms wall, {baseline[1] * 1000:.0f} ms CPU"
    )
    print(f"{'command':<32} {'wall':>8} {'CPU':>8} {'x baseline (wall)':>18} {'target':>9}")
    for name, (wall, cpu) in figures.items():
        target = TARGETS.get(name)
        verdict = "" if target is None else (f"{'ok' if wall < target else 'SLOW'} <{target:g}s")
        print(
            f"{name:<32} {wall * 1000:>5.0f} ms {cpu * 1000:>5.0f} ms "
            f"{wall / baseline[0]:>17.1f}x {verdict:>9}"
        )
    print(f"(init wrote {files} files)")


if __name__ == "__main__":
    main()
