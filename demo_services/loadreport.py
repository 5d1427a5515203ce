"""The load test's figures: the plan (1x then 2x the declared peak), the requests recorded
in each phase, the percentile table, and the verdict against the storefront's SLOs. Free of
Locust (whose import patches the standard library with gevent), so tests and `obskit demo`
can read it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MIX = {"GET /": 6, "POST /cart": 3, "POST /checkout": 1}  # weights of the user's actions
PHASES = ("1x", "2x")


@dataclass(frozen=True)
class Plan:
    users: int
    spawn_rate: float
    duration: float
    peak: float  # requests per second

    @property
    def per_user_rps(self) -> float:
        return 2 * self.peak / self.users

    def phase_users(self, phase: str) -> int:
        return max(1, self.users // 2) if phase == "1x" else self.users

    def window(self, phase: str) -> tuple[float, float]:
        """Seconds from the start during which ``phase`` is measured: once its users run."""
        half = self.duration / 2
        start = 0.0 if phase == "1x" else half
        ramp = self.phase_users(phase) - (0 if phase == "1x" else self.phase_users("1x"))
        return start + ramp / self.spawn_rate, start + half


@dataclass
class Phase:
    seconds: float
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)

    def requests(self, name: str | None = None) -> int:
        if name is not None:
            return len(self.latencies_ms.get(name, []))
        return sum(len(v) for v in self.latencies_ms.values())

    def failed(self, name: str | None = None) -> int:
        return self.failures.get(name, 0) if name is not None else sum(self.failures.values())

    def all_latencies(self) -> list[float]:
        return [ms for values in self.latencies_ms.values() for ms in values]


@dataclass
class Result:
    plan: Plan
    phases: dict[str, Phase]


def quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def storefront_slo(spec_path: str | None) -> dict[str, float]:
    """The storefront's objectives: availability (%), latency threshold (ms) and target (%)."""
    from demo_services.shop import DEMO_SPEC
    from obskit.stack.spec import load_spec

    service = load_spec(Path(spec_path) if spec_path else DEMO_SPEC).service("storefront")
    slo = service.slo if service else None
    out: dict[str, float] = {}
    if slo is not None and slo.availability is not None:
        out["availability"] = float(slo.availability)
    if slo is not None and slo.latency is not None:
        out["latency_ms"] = float(slo.latency.threshold_ms)
        out["latency_target"] = float(slo.latency.target)
    return out


def rows(result: Result) -> list[dict[str, Any]]:
    """One row per phase and request name, and one for all requests of the phase."""
    out = []
    for phase_name, phase in result.phases.items():
        target = result.plan.peak * (1 if phase_name == "1x" else 2)
        for name in [*MIX, "all"]:
            values = phase.all_latencies() if name == "all" else phase.latencies_ms.get(name, [])
            count = len(values)
            failed = phase.failed() if name == "all" else phase.failed(name)
            out.append({
                "phase": phase_name, "target_rps": target, "name": name, "requests": count,
                "failures": failed, "rps": count / phase.seconds if phase.seconds > 0 else 0.0,
                "p50_ms": quantile(values, 0.50), "p95_ms": quantile(values, 0.95),
                "p99_ms": quantile(values, 0.99), "max_ms": max(values, default=float("nan")),
            })  # fmt: skip
    return out


def broken(result: Result, slo: dict[str, float]) -> str:
    """What is broken at 1x the peak ("" if nothing): the storefront's SLOs, or the peak not
    reached (the shop could not serve it, so the users had to wait)."""
    phase = result.phases["1x"]
    problems = []
    total = phase.requests()
    if total == 0:
        return "no request completed at 1x the peak"
    served = total / phase.seconds
    if served < 0.9 * result.plan.peak:
        problems.append(f"served {served:.1f} requests/s of the {result.plan.peak:g} asked")
    if "availability" in slo:
        ok = 100 * (1 - phase.failed() / total)
        if ok < slo["availability"]:
            problems.append(f"availability {ok:.2f} % < {slo['availability']:g} %")
    if "latency_ms" in slo:
        fast = 100 * sum(ms <= slo["latency_ms"] for ms in phase.all_latencies()) / total
        if fast < slo["latency_target"]:
            problems.append(f"{fast:.1f} % of requests within {slo['latency_ms']:g} ms "
                            f"< {slo['latency_target']:g} %")  # fmt: skip
    return "; ".join(problems)


def table(result: Result, slo: dict[str, float]) -> str:
    head = (f"{'phase':<6} {'request':<15} {'reqs':>6} {'fail':>5} {'req/s':>7} "
            f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")  # fmt: skip
    lines = [
        f"Load test: {result.plan.users} users, 1x then 2x a peak of {result.plan.peak:g} req/s",
        head,
        "-" * len(head),
    ]
    for row in rows(result):
        lines.append(
            f"{row['phase']:<6} {row['name']:<15} {row['requests']:>6} {row['failures']:>5} "
            f"{row['rps']:>7.1f} {row['p50_ms']:>8.0f} {row['p95_ms']:>8.0f} "
            f"{row['p99_ms']:>8.0f} {row['max_ms']:>8.0f}"
        )
    objectives = []
    if "availability" in slo:
        objectives.append(f"availability {slo['availability']:g} %")
    if "latency_ms" in slo:
        objectives.append(f"{slo['latency_target']:g} % within {slo['latency_ms']:g} ms")
    verdict = broken(result, slo) or "met"
    lines.append(f"SLOs at 1x ({', '.join(objectives) or 'none in the spec'}): {verdict}")
    return "\n".join(lines) + "\n"


def to_json(result: Result, slo: dict[str, float]) -> str:
    def clean(value: Any) -> Any:
        return None if isinstance(value, float) and value != value else value  # NaN -> null

    return json.dumps({
        "users": result.plan.users, "spawn_rate": result.plan.spawn_rate,
        "duration_s": result.plan.duration, "peak_rps": result.plan.peak, "slo": slo,
        "rows": [{k: clean(v) for k, v in row.items()} for row in rows(result)],
        "broken": broken(result, slo) or None,
    }, indent=2) + "\n"  # fmt: skip
