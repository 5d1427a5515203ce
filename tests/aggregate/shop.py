"""Small hand-made traces whose critical paths are fully known, for the aggregate tests.

    0   20        120  150 160                 160+g 170+g 190+g
    |------------------checkout POST /checkout------------|
        |-inventory-|                                          CLIENT, external "inventory"
                       |------------pay POST /charge-----|     CLIENT → gateway SERVER
                           |--------gateway charge-----|
    ++++ +++++++++++ +++++ ++ +++++++++++++++++++++++++ ++ ++++

CP per trace: checkout's own 70, inventory 100, the hop checkout → gateway g + 20 (the client
span's 20 plus the gateway's g), latency 190 + g (ms).
"""

from __future__ import annotations

from tests.builders import BASE, CLIENT, SERVER, build, span


def shop(n: int, g: int, *, service: str = "checkout", gateway: str = "gateway", base=None):
    return build(
        span(
            "POST /checkout",
            0,
            190 + g,
            [
                span(
                    "inventory",
                    20,
                    120,
                    kind=CLIENT,
                    service=service,
                    attributes={"peer.service": "inventory"},
                ),
                span(
                    "POST /charge",
                    150,
                    170 + g,
                    [span("charge", 160, 160 + g, kind=SERVER, service=gateway)],
                    kind=CLIENT,
                    service=service,
                ),
            ],
            kind=SERVER,
            service=service,
        ),
        trace_id=f"{n:032x}",
        base=BASE + n * 10**12 if base is None else base,
    )


GATEWAY_MS = (100, 200, 300, 400, 1000)


def shops(gateway_ms=GATEWAY_MS, first=1, base=None):
    """One trace per gateway time; ``base``: the first one's start (ns), a second apart."""
    return [
        shop(first + i, g, base=None if base is None else base + i * 10**9)
        for i, g in enumerate(gateway_ms)
    ]
