"""Business and office networks never joined (issue 11, item 7: a stray route or link): a static check of
the routing plan's devices — every WAN router, access router and firewall stands on the business network —
for anything that would give them an IP path into the office network's address pools:

- a link: an interface address inside an office pool;
- a route: a static route, or a prefix-list entry that permits, a prefix inside an office pool (the BGP
  import filters would then accept the office network's routes).

Defaults and aggregates wider than the pool (0.0.0.0/0) are not paths into the pool by themselves."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from functools import lru_cache

from core.findings import Finding, Shape
from network.intent_model import DeviceIntent

Net = ipaddress.IPv4Network | ipaddress.IPv6Network


# `jinbao policy verify --json`'s "separation": the rule is the kind (link | route | filter), the subject the
# device; detail: its site, what lies in the pool, and the pool
JSON: Shape = (("device", "subject"), ("site", "site"), ("kind", "rule"), ("what", "what"), ("pool", "pool"),
               ("message", "message"))


def _path(device: str, site: str, kind: str, what: str, pool: str) -> Finding:
    return Finding(kind, device, f"{device} ({site}): {kind} {what} lies in the office network {pool}",
                   {"site": site, "what": what, "pool": pool})


@lru_cache(maxsize=1 << 18)
def _network(prefix: str) -> Net:
    # cached: the nation's intents repeat the same prefixes (prefix-list entries, aggregates) thousands of times
    return ipaddress.ip_interface(prefix).network


def _inside(prefix: str, pools: Iterable[Net]) -> Net | None:
    net = _network(prefix)
    for pool in pools:
        if net.version == pool.version and net.subnet_of(pool):  # type: ignore[arg-type]
            return pool
    return None


def separation_findings(intents: Mapping[str, DeviceIntent], office_pools: list[Net]) -> list[Finding]:
    out: list[Finding] = []
    for h, i in intents.items():
        for itf in i.interfaces:
            for addr in (itf.ipv4, itf.ipv6):
                if addr and (pool := _inside(addr, office_pools)):
                    out.append(_path(h, i.site, "link", f"{itf.name} {addr}", str(pool)))
        for r in i.static_routes:
            if pool := _inside(r.prefix, office_pools):
                out.append(_path(h, i.site, "route", f"static route {r.prefix}", str(pool)))
        for pl in i.prefix_lists:
            for e in pl.entries:
                if e.action == "permit" and (pool := _inside(e.prefix, office_pools)):
                    out.append(_path(h, i.site, "filter", f"prefix-list {pl.name} seq {e.seq} permits "
                                     f"{e.prefix}", str(pool)))
    return out


def office_pools(registry) -> list[Net]:
    """The office network's national pools, from the IP registration record."""
    return [ipaddress.ip_network(r.prefix) for r in registry.records.values()
            if r.pool == "office" and not r.parent and r.status == "active"]
