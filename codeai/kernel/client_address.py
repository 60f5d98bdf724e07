"""The address a request really comes from, for every throttle and the admin login limit.

The socket peer (``REMOTE_ADDR``), unless that peer is one of CODEAI_TRUSTED_PROXIES: then the
right-most ``X-Forwarded-For`` hop that is not a trusted proxy. Hops left of it were written
by the client itself and prove nothing, so no header a client sends can change its address.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import Any

from django.conf import settings

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.cache
def _networks(cidrs: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(cidr) for cidr in cidrs)


def _trusted(address: str, networks: tuple[IPNetwork, ...]) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in networks)


def client_address(request: Any) -> str:
    """``request``: a Django HttpRequest or a DRF Request (both carry ``META``)."""
    meta = request.META
    peer = meta.get("REMOTE_ADDR", "")
    networks = _networks(tuple(settings.TRUSTED_PROXIES))
    if not _trusted(peer, networks):
        return peer
    hops = [hop.strip() for hop in meta.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    origin = peer
    for hop in reversed(hops):
        if _trusted(hop, networks):
            origin = hop
            continue
        try:
            return str(ipaddress.ip_address(hop))
        except ValueError:
            # Garbage a trusted proxy passed on: the proxy itself is the best we know.
            return peer
    # Every hop is a trusted proxy: the request started at the left-most of them.
    return origin
