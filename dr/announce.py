"""Moving a database's service address from one site to the other (docs/dr.md), never announced by both.

Pure, from the network plan. What gates the announcement is the static route towards the database (WAN
routers -> firewall -> database) at the site that runs it (network/plan.py: a `network` statement without
a route originates nothing). A move is two phases, each a set of static-route changes on named devices:

1. withdraw: the old site's routes go (its WAN routers stop announcing; its firewall then sends a local
   client to the WAN, towards whichever site announces it);
2. announce: the new site's routes come (after the promotion, so the address never leads to a standby).

Between the phases no site announces it: clients wait (the drill's RTO includes it) rather than reaching two
databases. The changes are the difference between the intents before and after, so every vendor's template
renders them from the same intent; `frr_commands` spells them for FRR (the lab's routers and firewalls).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from core.errors import JinbaoError
from network.intent_model import DeviceIntent, StaticRoute
from network.plan import PlanInput, ServiceAddress, build_intents, firewall_intent

NOWHERE = ""  # ServiceAddress.active while no site announces it (between the phases)


@dataclass(frozen=True, slots=True)
class RouteChange:
    host: str
    site: str
    action: Literal["add", "remove"]
    route: StaticRoute


@dataclass(frozen=True, slots=True)
class Move:
    service: ServiceAddress
    old: str
    new: str
    withdraw: tuple[RouteChange, ...]
    announce: tuple[RouteChange, ...]


def service_of(p: PlanInput, primary_site: str) -> ServiceAddress:
    for sv in p.services:
        if sv.primary_site == primary_site:
            return sv
    raise JinbaoError(f"no service address for a database at {primary_site!r}", entry="--site")


def with_active(p: PlanInput, primary_site: str, active: str) -> PlanInput:
    """The plan with that database's service address active at `active` (NOWHERE: at no site)."""
    sv = service_of(p, primary_site)
    if active not in (NOWHERE, sv.primary_site, sv.replica_site):
        raise JinbaoError(f"{active!r} holds neither end of {sv.db}'s pair ({sv.primary_site}, {sv.replica_site})")
    return dataclasses.replace(p, services=tuple(dataclasses.replace(x, active=active) if x is sv else x
                                                 for x in p.services))


def site_intents(p: PlanInput, site: str, platform: str | None) -> dict[str, DeviceIntent]:
    """The site's WAN routers and firewall; `platform`: plan them as the lab runs them (FRR, Linux firewalls)."""
    routers = {d.hostname for d in p.devices(site) if d.role == "WR"}
    out = dict(build_intents(p, routers, platform=platform))
    for d in p.devices(site):
        if d.role == "FW" and (platform is not None or d.platform == "linux_nftables"):
            out[d.hostname] = firewall_intent(p, dataclasses.replace(d, platform="linux_nftables"))
    return out


def _diff(before: PlanInput, after: PlanInput, site: str, platform: str | None) -> tuple[RouteChange, ...]:
    a, b = site_intents(before, site, platform), site_intents(after, site, platform)
    out: list[RouteChange] = []
    for host in sorted(a):
        old, new = set(a[host].static_routes), set(b[host].static_routes)
        out += [RouteChange(host, site, "remove", r) for r in a[host].static_routes if r not in new]
        out += [RouteChange(host, site, "add", r) for r in b[host].static_routes if r not in old]
    return tuple(out)


def plan_move(p: PlanInput, primary_site: str, to: str, platform: str | None = None) -> Move:
    """The two phases that move the service address of `primary_site`'s database to the site `to`."""
    sv = service_of(p, primary_site)
    if to not in (sv.primary_site, sv.replica_site):
        raise JinbaoError(f"{to!r} holds neither end of {sv.db}'s pair ({sv.primary_site}, {sv.replica_site})")
    if to == sv.active:
        raise JinbaoError(f"{sv.db}'s service address is already announced by {to}")
    middle = with_active(p, primary_site, NOWHERE)
    withdraw = _diff(p, middle, sv.active, platform) if sv.active else ()
    announce = _diff(middle, with_active(p, primary_site, to), to, platform)
    if any(c.action == "add" for c in withdraw) or any(c.action == "remove" for c in announce):
        raise JinbaoError(f"moving {sv.db}'s service address would change more than its own routes")
    return Move(sv, sv.active, to, withdraw, announce)


def frr_commands(changes: tuple[RouteChange, ...]) -> dict[str, list[str]]:
    """vtysh configuration lines per device (FRR: the lab's routers and firewalls)."""
    out: dict[str, list[str]] = {}
    for c in changes:
        r = c.route
        kw = "ipv6 route" if ":" in r.prefix else "ip route"
        line = f"{kw} {r.prefix} {r.next_hop or 'blackhole'}"
        out.setdefault(c.host, []).append(line if c.action == "add" else f"no {line}")
    return out
