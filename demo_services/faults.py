"""The shop's fault catalogue: each fault is a real mechanism, switched on and off while the
shop runs, without restarting anything.

    gateway-latency=MS       the third-party payment gateway answers in MS
    db-missing-index         the index on stock.sku is dropped: reservations scan the table
    db-pool=N                payments' connection pool shrinks to N: charges queue for one
    cache-down               Redis stops: every price look-up falls through to PostgreSQL
    queue-consumer-slow=MS   each order e-mail takes MS to send: the queue backs up
    service-latency=SVC:MS   the service SVC takes MS longer for every request
    none                     nothing: the control run, in which nothing may be flagged

``FAULTS[name].hop`` is where the analysis should find it: (caller, callee) of the hop that
must rank first, ``None`` for a fault off the request path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from obskit.errors import InputError

if TYPE_CHECKING:
    from demo_services.shop import Shop

# names the analysis gives the data tier's hops (the spec's external names for their ports)
POSTGRES, REDIS, RABBITMQ = "postgres", "redis", "rabbitmq"


@dataclass(frozen=True)
class Fault:
    name: str
    value: str  # what the value is: "" (none), "MS", "N", "SVC:MS"
    summary: str
    needs: str  # the server the mechanism needs ("" none)


FAULTS = {f.name: f for f in (
    Fault("gateway-latency", "MS", "the payment gateway answers in MS milliseconds", ""),
    Fault("db-missing-index", "", "the index on stock.sku is dropped: reservations scan the "
          "whole stock table", "postgresql"),
    Fault("db-pool", "N", "payments' connection pool holds only N connections", "postgresql"),
    Fault("cache-down", "", "Redis stops: price look-ups fall through to PostgreSQL",
          "redis-server"),
    Fault("queue-consumer-slow", "MS", "each order e-mail takes MS milliseconds to send",
          "rabbitmq-server"),
    Fault("service-latency", "SVC:MS", "service SVC takes MS milliseconds longer per request", ""),
    Fault("none", "", "nothing: a control run, in which nothing may be flagged", ""),
)}  # fmt: skip
SLOWABLE = ("storefront", "checkout", "inventory", "pricing", "payments", "mailer")
_CALLER = {"checkout": "storefront", "inventory": "checkout", "pricing": "checkout",
           "payments": "checkout"}  # fmt: skip


@dataclass(frozen=True)
class Injection:
    """One fault with its value, parsed: ``db-pool=2`` → ("db-pool", 2, None)."""

    name: str
    number: float | None = None
    service: str | None = None

    @property
    def text(self) -> str:
        if self.service is not None:
            return f"{self.name}={self.service}:{self.number:g}"
        return self.name if self.number is None else f"{self.name}={self.number:g}"

    @property
    def hop(self) -> tuple[str, str] | None:
        """The hop of the checkout endpoint that holds this fault, None: off the path."""
        return {
            "gateway-latency": ("payments", "payments-gateway"),
            "db-missing-index": ("inventory", POSTGRES),
            "db-pool": ("payments", "payments-pool"),
            "cache-down": ("pricing", POSTGRES),
            "queue-consumer-slow": None,
            "none": None,
            "service-latency": (_CALLER[self.service], self.service)
            if self.service in _CALLER
            else None,
        }[self.name]


def parse(text: str) -> Injection:
    """``NAME[=VALUE]`` as given to ``obskit demo --fault``; InputError names what is wrong."""
    name, _, value = text.partition("=")
    fault = FAULTS.get(name.strip())
    known = ", ".join(f.name + (f"={f.value}" if f.value else "") for f in FAULTS.values())
    if fault is None:
        raise InputError(f"--fault {text}: unknown fault {name!r}", hint=f"known: {known}")
    if not fault.value:
        if value:
            raise InputError(f"--fault {text}: {fault.name} takes no value")
        return Injection(fault.name)
    if fault.value == "SVC:MS":
        match = re.fullmatch(r"([a-z-]+):(\d+(?:\.\d+)?)", value)
        if not match or match.group(1) not in _CALLER:
            raise InputError(
                f"--fault {text}: give SERVICE:MS with a service on the checkout's path",
                hint=f"services: {', '.join(_CALLER)}; e.g. service-latency=pricing:300",
            )
        return Injection(fault.name, _number(text, match.group(2), 60_000), match.group(1))
    low = 1 if fault.value == "N" else 0
    number = _number(text, value, 100 if fault.value == "N" else 60_000, low)
    return Injection(fault.name, number)


def _number(text: str, raw: str, high: float, low: float = 0) -> float:
    try:
        number = float(raw)
    except ValueError:
        number = float("nan")
    if not low <= number <= high:
        raise InputError(f"--fault {text}: the value must be a number from {low:g} to {high:g}")
    return number


class FaultSwitch:
    """Turns faults on and off in a running shop. ``on``/``off`` apply one fault;
    ``apply(injections)`` makes the set of active faults exactly ``injections`` (what the
    control file of ``python -m demo_services --faults FILE`` does)."""

    def __init__(self, shop: Shop) -> None:
        self.shop = shop
        self.active: dict[str, Injection] = {}
        self._saved: dict[tuple[str, str], float] = {}

    def on(self, fault: Injection) -> None:
        self.check_server(fault)
        self._switch(fault, on=True)
        self.active[fault.name] = fault

    def off(self, fault: Injection) -> None:
        self._switch(fault, on=False)
        self.active.pop(fault.name, None)

    def apply(self, wanted: list[Injection]) -> None:
        by_name = {f.name: f for f in wanted}
        for name, fault in list(self.active.items()):
            if by_name.get(name) != fault:
                self.off(fault)
        for name, fault in by_name.items():
            if self.active.get(name) != fault:
                self.on(fault)

    def clear(self) -> None:
        for fault in list(self.active.values()):
            self.off(fault)

    def check_server(self, fault: Injection) -> None:
        needs = FAULTS[fault.name].needs
        if needs and needs in self.shop.backends.missing:
            raise InputError(
                f"{fault.name} needs {needs}, which is not installed",
                hint=f"apt-get install {needs}",
            )

    def _switch(self, fault: Injection, *, on: bool) -> None:
        knobs = {
            "gateway-latency": ("payments-gateway", "latency_ms"),
            "db-pool": ("payments", "pool_size"),
            "queue-consumer-slow": ("mailer", "handle_ms"),
            "service-latency": (str(fault.service), "extra_latency_ms"),
        }
        if fault.name in knobs:
            service, knob = knobs[fault.name]
            if on:
                self._set(service, knob, fault.number)
            else:
                self._restore(service, knob)
        elif fault.name == "db-missing-index":
            self._stock_index(present=not on)
        elif fault.name == "cache-down":
            (self.shop.tier.stop_cache if on else self.shop.tier.start_cache)()

    def _set(self, service: str, knob: str, value: float | None) -> None:
        """Set a service's knob, remembering the value it had for :meth:`_restore`."""
        import requests

        url = f"{self.shop.member(service).url}/admin/faults"
        if (service, knob) not in self._saved:
            self._saved[(service, knob)] = requests.get(url, timeout=10).json()[knob]
        response = requests.post(url, json={knob: value}, timeout=10)
        if response.status_code != 200:
            raise InputError(f"{service} refused {knob}={value}: {response.text.strip()}")

    def _restore(self, service: str, knob: str) -> None:
        if (service, knob) in self._saved:
            self._set(service, knob, self._saved.pop((service, knob)))
            self._saved.pop((service, knob), None)

    def _stock_index(self, *, present: bool) -> None:
        from demo_services import store

        url = self.shop.backends.postgres_url
        assert url is not None
        store.set_stock_index(url, present)
