"""Address and text helpers of the view builder: masks and wildcards, natural interface order, time zones,
one-line descriptions. Cached: the same aggregates and filters recur across thousands of devices."""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from network.render.view_types import Addr, Net


@lru_cache(maxsize=65536)
def iface_addr(cidr: str) -> Addr:
    iface = ipaddress.ip_interface(cidr)
    net = iface.network
    if iface.version == 4:
        return Addr("ipv4", str(iface.ip), net.prefixlen, cidr, str(net.network_address),
                    str(net.netmask), str(net.hostmask))
    return Addr("ipv6", str(iface.ip), net.prefixlen, f"{iface.ip}/{net.prefixlen}",
                str(net.network_address), "", "")


@lru_cache(maxsize=65536)
def prefix_net(prefix: str) -> Net:
    # strict=True: "10.1.2.3/16" in a filter or aggregate is a plan bug, not something to round silently.
    net = ipaddress.ip_network(prefix, strict=True)
    afi = "ipv4" if net.version == 4 else "ipv6"
    mask = str(net.netmask) if net.version == 4 else ""
    wildcard = str(net.hostmask) if net.version == 4 else ""
    return Net(afi, str(net.network_address), net.prefixlen, str(net), mask, wildcard)


@lru_cache(maxsize=65536)
def parse_ip(addr: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(addr)


@lru_cache(maxsize=65536)
def parse_ipnet(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(cidr, strict=False)


_NAT = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple[object, ...]:
    return tuple(int(p) if p.isdigit() else p.lower() for p in _NAT.split(name))


@lru_cache(maxsize=64)
def tz_offset(name: str) -> tuple[str, str, int, int]:
    # Standard-time offset at a fixed date: renders must not depend on the day they run.
    dt = datetime(2024, 1, 15, 12, tzinfo=ZoneInfo(name))
    off = dt.utcoffset()
    assert off is not None
    minutes = int(off.total_seconds() // 60)
    sign = "add" if minutes >= 0 else "minus"
    minutes = abs(minutes)
    abbr = dt.tzname() or "UTC"
    if not abbr.isalpha():  # zones like "+08" have no abbreviation; vendors want a word
        abbr = "UTC"
    return abbr, sign, minutes // 60, minutes % 60


def one_line(text: str) -> str:
    """One printable line: descriptions are single-line on every platform."""
    return " ".join(text.split())
