"""Integer address arithmetic: the allocator works on (start, prefix length) pairs, not objects."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

BITS = {4: 32, 6: 128}


def parse(prefix: str) -> tuple[int, int, int]:
    """'10.0.0.0/8' -> (af, start, prefixlen)."""
    net = ipaddress.ip_network(prefix, strict=True)
    return net.version, int(net.network_address), net.prefixlen


def fmt(af: int, start: int, plen: int) -> str:
    if af == 4:
        return f"{ipaddress.IPv4Address(start)}/{plen}"
    return f"{ipaddress.IPv6Address(start)}/{plen}"


def size(af: int, plen: int) -> int:
    return 1 << (BITS[af] - plen)


@lru_cache(maxsize=4096)
def plen_for(af: int, n: int) -> int:
    """Longest prefix length whose block holds at least n addresses."""
    bits = max(0, (n - 1).bit_length())
    return BITS[af] - bits


def host(af: int, start: int, plen: int, offset: int) -> str:
    """Address `offset` inside a block, with the block's prefix length (for interface addresses)."""
    if af == 4:
        return f"{ipaddress.IPv4Address(start + offset)}/{plen}"
    return f"{ipaddress.IPv6Address(start + offset)}/{plen}"
