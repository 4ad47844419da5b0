"""Integer address arithmetic: the allocator works on (start, prefix length) pairs, not objects."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

BITS = {4: 32, 6: 128}


def parse(prefix: str) -> tuple[int, int, int]:
    """'10.0.0.0/8' -> (af, start, prefixlen)."""
    net = ipaddress.ip_network(prefix, strict=True)
    return net.version, int(net.network_address), net.prefixlen


def _v4(a: int) -> str:
    return f"{a >> 24}.{(a >> 16) & 255}.{(a >> 8) & 255}.{a & 255}"


@lru_cache(maxsize=1 << 16)
def _v6(a: int) -> str:
    return str(ipaddress.IPv6Address(a))


def fmt(af: int, start: int, plen: int) -> str:
    """Format an address block; hot in the allocator and the plan, so IPv4 avoids ipaddress objects."""
    return f"{_v4(start)}/{plen}" if af == 4 else f"{_v6(start)}/{plen}"


def size(af: int, plen: int) -> int:
    return 1 << (BITS[af] - plen)


@lru_cache(maxsize=4096)
def plen_for(af: int, n: int) -> int:
    """Longest prefix length whose block holds at least n addresses."""
    bits = max(0, (n - 1).bit_length())
    return BITS[af] - bits


def host(af: int, start: int, plen: int, offset: int) -> str:
    """Address `offset` inside a block, with the block's prefix length (for interface addresses)."""
    return fmt(af, start + offset, plen)
