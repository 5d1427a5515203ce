"""The specs CI generates and validates a stack for (issue: init + validate).

Import ``SPECS`` (name -> Spec) in any test that needs to cover every shape of spec.
"""

from __future__ import annotations

from pathlib import Path

from obskit.stack.spec import Spec, load_spec, parse_spec

REPO = Path(__file__).resolve().parent.parent
DEMO_SPEC_PATH = REPO / "demo_services" / "obskit.yaml"


def _service(name: str, port: int, *, slo: dict | None = None) -> dict:
    data: dict = {"name": name, "port": port, "metrics_port": port + 1000}
    if slo is not None:
        data["slo"] = slo
    return data


FULL_SLO = {"availability": 99.9, "latency": {"threshold_ms": 250, "target": 99}}

SPEC_DATA: dict[str, dict] = {
    "one-service": {
        "project": "solo",
        "services": [_service("api", 8000, slo=FULL_SLO)],
        "alerting": {"webhook_url": "http://127.0.0.1:5001/alerts"},
    },
    "twelve-services": {
        "project": "platform",
        "environment": "prod",
        "services": [
            _service(f"svc{i:02d}", 8100 + i, slo=FULL_SLO if i % 3 else {"availability": 99.5})
            for i in range(12)
        ],
        "external": [
            {"name": "stripe", "host": "api.stripe.com", "latency_threshold_ms": 800},
            {"name": "s3", "host": "s3.amazonaws.com", "latency_threshold_ms": 300},
        ],
        "alerting": {"webhook_url": "https://hooks.example.com/obskit"},
    },
    "jaeger": {
        "project": "shop",
        "traces_backend": "jaeger",
        "services": [
            _service("frontend", 8000, slo=FULL_SLO),
            _service("backend", 8001, slo={"latency": {"threshold_ms": 1500, "target": 95}}),
        ],
        "external": [{"name": "maps", "host": "maps.example.com", "latency_threshold_ms": 400}],
    },
    "odd-names": {
        "project": "my_proj.v2",
        "environment": "staging-eu",
        "services": [
            _service("order-service", 8000, slo=FULL_SLO),
            _service("billing.api", 8001, slo={"availability": 99.95}),
            _service("user_profile", 8002, slo={"latency": {"threshold_ms": 75, "target": 99.5}}),
        ],
        "external": [{"name": "pay.gw_v2-eu", "host": "pay-gw.example.eu", "port": 8443}],
        "alerting": {"webhook_url": "http://127.0.0.1:5001/alerts"},
    },
    "no-slo": {
        "project": "bare",
        "services": [_service("worker", 8000), _service("web", 8001, slo=FULL_SLO)],
    },
}


def all_specs() -> dict[str, Spec]:
    specs = {"demo": load_spec(DEMO_SPEC_PATH)}
    specs.update({name: parse_spec(data) for name, data in SPEC_DATA.items()})
    return specs


SPECS: dict[str, Spec] = all_specs()
