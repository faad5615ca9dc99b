"""Where a result may be fetched from: the router's origin, ``ROUTER_RESULT_HOSTS``, public addresses.

A router's ``url`` answer (or a redirect on the way to the image) is only fetched when it is:

* the router's own origin (scheme, host and port of ``ROUTER_BASE_URL``), or
* a host named exactly in ``ROUTER_RESULT_HOSTS`` (the operator vouches for it, private or not), or
* a host under a ``*.`` wildcard of ``ROUTER_RESULT_HOSTS`` whose every address is public.

Loopback, private, link-local, unspecified and other non-global addresses are refused by literal
IP and after resolving the name, and a plain-http fetch is refused when the router is on https.
Anything refused is a ``BadResponse`` that names no URL, and its host is logged at WARNING.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Sequence

from bot.errors import BadResponse, RouterUnavailable
from bot.router import failures

log = logging.getLogger(__name__)

Origin = tuple[str, str, int | None]  # scheme, host, port (None for the scheme's default)
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_REDIRECTS = 3
REFUSED = "The image service pointed at a place I don't fetch from."
_DEFAULT_PORTS = {"http": 80, "https": 443}


async def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, from the event loop's ``getaddrinfo``."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def ip_literal(host: str) -> IPAddress | None:
    """The address when ``host`` is an IP literal (a zone like ``%eth0`` dropped), else None."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1 on the wire
    return address


def is_public(address: IPAddress) -> bool:
    # is_global is False for loopback, RFC 1918, fc00::/7, link-local, unspecified, CGNAT
    # (cloud metadata lives at 169.254.169.254 and 100.100.100.200) and documentation ranges.
    return address.is_global and not address.is_multicast


def normal_host(host: str) -> str:
    return host.strip().lower().rstrip(".")


class ResultHosts:
    """The fetch rule for one router and one allow-list; ``check`` refuses what it does not allow."""

    def __init__(self, router: Origin, allowed: Sequence[str] = ()) -> None:
        self._router = router
        self._router_host = normal_host(router[1])
        patterns = [normal_host(entry) for entry in allowed if entry.strip()]
        self._exact = frozenset(p for p in patterns if not p.startswith("*."))
        self._suffixes = tuple(p[1:] for p in patterns if p.startswith("*."))  # ".example.com"

    async def check(self, origin: Origin) -> None:
        """Return when ``origin`` may be fetched from; raise ``BadResponse`` when it may not."""
        scheme, raw_host, port = origin
        host = normal_host(raw_host)
        reason = self._refusal(origin, host)
        if reason is None and not self._trusted(origin, host):
            reason = await _resolved_refusal(host, port or _DEFAULT_PORTS[scheme])
        if reason is not None:
            log.warning("Refused to fetch a result from %s: %s", host, reason)
            raise BadResponse(REFUSED, detail=f"refused {host}: {reason}")

    def _trusted(self, origin: Origin, host: str) -> bool:
        """The router itself and hosts the operator named exactly skip the address checks."""
        return origin == self._router or host == self._router_host or host in self._exact

    def _refusal(self, origin: Origin, host: str) -> str | None:
        """Why ``origin`` is refused before any lookup, or None to go on."""
        scheme = origin[0]
        if scheme not in _DEFAULT_PORTS:
            return f"{scheme} is not http(s)"
        if scheme == "http" and self._router[0] == "https":
            return "plain http while the router is on https"
        if origin == self._router or host in self._exact:
            return None
        literal = ip_literal(host)
        if literal is not None and not is_public(literal):
            return "a loopback, private or link-local address"
        if literal is not None or not any(host.endswith(suffix) for suffix in self._suffixes):
            return "neither the router's origin nor in ROUTER_RESULT_HOSTS"
        return None


async def _resolved_refusal(host: str, port: int) -> str | None:
    """Why a wildcard-matched host is refused after resolving it, or None when all is public."""
    try:
        addresses = await resolve(host, port)
    except (
        OSError
    ) as exc:  # socket.gaierror: the fetch would fail the same way, maybe not next time
        error = RouterUnavailable(
            "Couldn't reach the image service. Try again in a minute.",
            detail=f"resolving {host}: {type(exc).__name__}",
        )
        raise failures.Transient(error) from exc
    for address in addresses:
        literal = ip_literal(address)
        if literal is None or not is_public(literal):
            return f"resolves to {address}, a loopback, private or link-local address"
    return None if addresses else "resolves to no address"
