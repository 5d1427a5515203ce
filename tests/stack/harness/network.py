"""Compose's default network, played with Linux primitives: one bridge on the host, and per
service a network namespace joined to it by a veth pair.

The subnet is a private /24 no route on this machine uses yet. The namespaces get no default
route: they reach each other and the host's side of the bridge (``host-gateway``), nothing else.
Names carry the run's tag, the pid of the test process and a count of its stacks
(``obskit-<pid>s<n>-<service>``, bridge ``ob<pid>s<n>``, veths ``ov<pid>s<n>e<i>``), so that
:func:`sweep_leftovers` removes what a crashed run left behind, and never what a live run on
this shared machine still uses.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import random
import re
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

NETNS_DIR = Path("/run/netns")
PREFIX = "obskit-"
_NETNS = re.compile(rf"^{PREFIX}((\d+)s\d+)-")
_LINK = re.compile(r"^o[bv]((\d+)s\d+)")


def ip(*args: str) -> str:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def free_subnet() -> ipaddress.IPv4Network:
    """A private /24 that overlaps no route on this machine (other runs' bridges included)."""
    used = [
        ipaddress.ip_network(route["dst"], strict=False)
        for route in json.loads(ip("-j", "route", "show", "table", "all") or "[]")
        if route.get("dst") not in (None, "default") and ":" not in route["dst"]
    ]
    for _ in range(200):
        candidate = ipaddress.ip_network(
            f"10.{random.randint(160, 250)}.{random.randint(0, 255)}.0/24"
        )
        if not any(candidate.overlaps(net) for net in used):
            return candidate
    raise RuntimeError("no free private /24 for the harness bridge")


@dataclass
class Bridge:
    name: str
    subnet: ipaddress.IPv4Network
    run_id: str  # <pid>s<n>

    @property
    def host_ip(self) -> str:
        """The host's address on the bridge: what ``host-gateway`` resolves to."""
        return str(self.subnet.network_address + 1)

    def address(self, index: int) -> str:
        return str(self.subnet.network_address + 2 + index)


@dataclass(frozen=True)
class Namespace:
    name: str
    address: str
    veth: str

    @property
    def path(self) -> Path:
        return NETNS_DIR / self.name


def create_bridge(run_id: str) -> Bridge:
    bridge = Bridge(name=f"ob{run_id}", subnet=free_subnet(), run_id=run_id)
    ip("link", "add", "name", bridge.name, "type", "bridge")
    ip("addr", "add", f"{bridge.host_ip}/{bridge.subnet.prefixlen}", "dev", bridge.name)
    ip("link", "set", bridge.name, "up")
    return bridge


def add_namespace(bridge: Bridge, service: str, index: int) -> Namespace:
    ns = Namespace(
        name=f"{PREFIX}{bridge.run_id}-{service}",
        address=bridge.address(index),
        veth=f"ov{bridge.run_id}e{index}",
    )
    ip("netns", "add", ns.name)
    ip("link", "add", ns.veth, "type", "veth", "peer", "name", "eth0", "netns", ns.name)
    ip("link", "set", ns.veth, "master", bridge.name, "up")
    inside = ["netns", "exec", ns.name, "ip"]
    ip(*inside, "addr", "add", f"{ns.address}/{bridge.subnet.prefixlen}", "dev", "eth0")
    ip(*inside, "link", "set", "eth0", "up")
    ip(*inside, "link", "set", "lo", "up")
    return ns


def remove_namespace(name: str) -> None:
    """Kill whatever still runs in the namespace, then delete it (and its veth pair)."""
    with contextlib.suppress(RuntimeError):
        for pid in ip("netns", "pids", name).split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
    with contextlib.suppress(RuntimeError):
        ip("netns", "del", name)


def remove_link(name: str) -> None:
    with contextlib.suppress(RuntimeError):
        ip("link", "del", name)


def remove_run(run_id: str) -> None:
    for name in namespaces_of(run_id):
        remove_namespace(name)
    for link in links_of(run_id):
        remove_link(link)


def namespaces_of(run_id: str) -> list[str]:
    return [n for n in _namespaces() if (m := _NETNS.match(n)) and m.group(1) == run_id]


def links_of(run_id: str) -> list[str]:
    return [n for n in _links() if (m := _LINK.match(n)) and m.group(1) == run_id]


def sweep_leftovers() -> list[str]:
    """Remove the namespaces and links of harness runs whose process is gone."""
    dead = {
        m.group(1)
        for name in [*_namespaces(), *_links()]
        if (m := _NETNS.match(name) or _LINK.match(name)) and not _alive(int(m.group(2)))
    }
    removed = []
    for run_id in sorted(dead):
        removed += namespaces_of(run_id) + links_of(run_id)
        remove_run(run_id)
    return removed


def _namespaces() -> list[str]:
    return [line.split()[0] for line in ip("netns", "list").splitlines() if line.strip()]


def _links() -> list[str]:
    return [link["ifname"] for link in json.loads(ip("-j", "link", "show") or "[]")]
