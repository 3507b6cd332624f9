"""The SSRF guard: wacc refuses to send requests (and the credentials that go with them)
to addresses inside the network it runs in — loopback, private, link-local (cloud
metadata at 169.254.169.254), reserved, multicast — unless the operator allows it.
Used by automations' webhook steps and by engine ``base_url`` settings (issue 14)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit


def is_private_address(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved
            or ip.is_multicast or ip.is_unspecified)


async def refused_destination(url: str) -> str | None:
    """Why *url* may not be called (it cannot be resolved, or it resolves to an internal
    address), or None when it may. Every address the name resolves to is checked, so a
    name with one public and one internal address is refused. (A name that resolves
    differently at call time — DNS rebinding — is not covered by a check made once.)"""
    host = urlsplit(url).hostname or ""
    if not host:
        return "has no host"
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return f"cannot resolve {host}"
    if any(is_private_address(str(info[4][0]).split("%", 1)[0]) for info in found):
        return f"{host} is a private or loopback address; refused"
    return None
