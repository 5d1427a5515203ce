"""How a container of the stack reaches a program on the host.

Inside a container ``127.0.0.1`` is the container itself, so an address the spec gives for the
host (``http://127.0.0.1:5001/alerts``) means nothing there. Docker's answer is the name
``host.docker.internal``: Docker Desktop defines it, and on Linux a service gets it from
``extra_hosts: ["host.docker.internal:host-gateway"]``, where ``host-gateway`` is the address
of the default bridge (``docker0``, usually 172.17.0.1). On Linux the host program must then
listen on that address (or on all interfaces), not only on 127.0.0.1.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit, urlunsplit

HOST = "host.docker.internal"
EXTRA_HOST = f"{HOST}:host-gateway"
LOCALHOST_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """``127.0.0.0/8``, ``::1`` and the names that mean them."""
    host = host.strip("[]").lower()
    if host in LOCALHOST_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_unspecified(host: str) -> bool:
    """``0.0.0.0`` and ``::``: addresses to listen on, never to send to."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


def url_host(url: str) -> str:
    return urlsplit(url).hostname or ""


def for_container(url: str) -> str:
    """``url`` as a container reaches it: a loopback host becomes ``host.docker.internal``
    (port, path and query kept); any other URL is returned unchanged."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not is_loopback(host):
        return url
    netloc = HOST if parts.port is None else f"{HOST}:{parts.port}"
    if parts.username is not None:
        userinfo = parts.username + (f":{parts.password}" if parts.password is not None else "")
        netloc = f"{userinfo}@{netloc}"
    return urlunsplit(parts._replace(netloc=netloc))


def address_for_container(host_port: str) -> str:
    """``host:port`` (an SMTP smarthost) as a container reaches it."""
    host, _, port = host_port.rpartition(":")
    return f"{HOST}:{port}" if is_loopback(host) else host_port
