"""The client's network address, as the per-address limits see it.

The address is the TCP peer of the request, unless that peer is one of the operator's reverse
proxies (`[arena] trusted_proxies`, a list of networks in CIDR form; empty by default). Then
it is the rightmost address in `X-Forwarded-For` that is not a trusted proxy: each proxy
appends the address it saw, so everything left of the first untrusted hop (read from the
right) was written by someone the arena cannot believe. Nobody else's `X-Forwarded-For` is
read at all: a client that sends one itself is limited on its own address. (`arena serve`
turns off uvicorn's own reading of forwarded headers, so this is the only place they count.)

Limits key on `limit_key(address)`: an IPv4 address as it is, an IPv6 address by its /64
network, the block one subscriber usually gets (an IPv4-mapped IPv6 address counts as the
IPv4 address).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPV6_PREFIX = 64
# When no address can be read at all (a test transport without a peer): one shared bucket.
UNKNOWN = "unknown"


def parse_address(text: str) -> IPAddress | None:
    """An address from a peer or a forwarded hop: `198.51.100.7`, `198.51.100.7:5123`,
    `2001:db8::1`, `[2001:db8::1]:5123`; None for anything else (`unknown`, garbage)."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:  # IPv4 with a port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def limit_key(address: IPAddress | None) -> str:
    """What the per-address limits count on: the IPv4 address, or the IPv6 /64 network."""
    if address is None:
        return UNKNOWN
    if isinstance(address, ipaddress.IPv4Address):
        return str(address)
    network = ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False)
    return str(network)


class ProxyTrust:
    """Which peers are the operator's proxies, and so whose forwarded headers are believed."""

    def __init__(self, trusted: Iterable[str] = ()) -> None:
        self.networks = tuple(ipaddress.ip_network(n, strict=False) for n in trusted)

    def trusts(self, address: IPAddress | None) -> bool:
        """True when `address` is inside one of the trusted proxy networks."""
        return address is not None and any(
            address.version == network.version and address in network
            for network in self.networks)

    def client_address(self, peer: str | None, forwarded_for: Sequence[str]) -> IPAddress | None:
        """The client's address: `peer` (the socket's), or, when the peer is a trusted proxy,
        the rightmost hop of the `X-Forwarded-For` values (in the order received) that is not
        one. A hop that is not an address stops the walk at the proxy that wrote it."""
        address = parse_address(peer) if peer else None
        if not self.trusts(address):
            return address
        hops = [hop for value in forwarded_for for hop in value.split(",") if hop.strip()]
        for hop in reversed(hops):
            forwarded = parse_address(hop)
            if forwarded is None:
                return address  # garbage from beyond the last proxy: count on that proxy
            if not self.trusts(forwarded):
                return forwarded
            address = forwarded
        return address

    def is_https(self, scheme: str, peer: str | None, forwarded_proto: Sequence[str]) -> bool:
        """Whether the client's request came over HTTPS: the scheme of this connection, or,
        from a trusted proxy, the last `X-Forwarded-Proto` it sent."""
        if scheme in ("https", "wss"):
            return True
        if not forwarded_proto or not self.trusts(parse_address(peer) if peer else None):
            return False
        return forwarded_proto[-1].split(",")[-1].strip().lower() == "https"
