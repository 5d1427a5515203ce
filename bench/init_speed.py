"""How fast `obskit init` and `obskit --help` are, as a user runs them (fresh processes).

Targets: `obskit init` for 12 services under 1 s; `obskit --help` under 0.3 s. Each figure is
the median of several runs, next to a baseline measured in the same run (`python -c pass`:
the interpreter's own start-up), so a slow machine does not look like a slow obskit.

    .venv/bin/python bench/init_speed.py [--runs N]
"""

from __future__ import annotations

import argparse
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


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def median_of(runs: int, make_argv) -> float:  # type: ignore[no-untyped-def]
    return statistics.median(timed(make_argv(i)) for i in range(runs))


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
    print(f"median of {runs} runs; baseline `python -c pass` = {baseline * 1000:.0f} ms")
    print(f"{'command':<32} {'median':>9} {'x baseline':>11} {'target':>8}")
    for name, seconds in figures.items():
        target = TARGETS.get(name)
        verdict = "" if target is None else (f"{'ok' if seconds < target else 'SLOW'} <{target:g}s")
        print(f"{name:<32} {seconds * 1000:>6.0f} ms {seconds / baseline:>10.1f}x {verdict:>8}")
    print(f"(init wrote {files} files)")


if __name__ == "__main__":
    main()
