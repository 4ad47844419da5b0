"""What the network needs: a tree of address requests per (pool, family), built from the inventory.

Pure function of inventory + plan rules. Every request has a stable key, so the allocator can tell what is
already registered from what is new. Aggregates follow the site tree: a site's aggregate holds its own
subnets and the aggregates of every site below it, so each site can announce one prefix upward.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from inventory.drpolicy import first_db
from inventory.model import Inventory, Site
from ipplan import keys
from ipplan.addr import plen_for
from ipplan.config import POOLS, PlanDoc

AGGREGATE_PURPOSE = {
    "province": "province aggregate",
    "municipality": "municipality aggregate",
    "city": "city aggregate",
    "dr": "DR site aggregate",
    "access": "access site aggregate",
}
SUBNET_PURPOSE = {"lan": "access LAN", "transit": "firewall transit", "dmz": "DMZ zone"}


@dataclass(slots=True)
class Request:
    key: str
    pool: str
    af: int
    site: str
    purpose: str
    plen: int | None  # None: an aggregate, sized from its children
    headroom: int = 1
    host_subnet: bool = False  # a LAN: network (and IPv4 broadcast) addresses are never handed out
    children: list[Request] = field(default_factory=list)


def headroom_key(site: Site) -> str:
    return "dr" if site.kind == "dr" else site.tier


def build_demand(inv: Inventory, plan: PlanDoc) -> list[Request]:
    """One root request per (pool, family): the national pool, with the whole tree below it."""
    leaves: dict[tuple[str, int, str], list[Request]] = {}

    def add(site: str, req: Request) -> None:
        leaves.setdefault((req.pool, req.af, site), []).append(req)

    devices = inv.devices_of()
    for site in inv.sites:
        devs = devices[site.id]
        for sub in _subnets(plan, site):
            for af, plen in ((4, sub.ipv4), (6, sub.ipv6)):
                key = keys.subnet(sub.pool, af, site.id, sub.name)
                req = Request(key, sub.pool, af, site.id, SUBNET_PURPOSE.get(sub.name, f"{sub.name} zone"), plen,
                              host_subnet=True)
                if sub.gateway:
                    req.children.append(Request(keys.member(key, "gateway"), sub.pool, af, site.id,
                                                f"{sub.name} gateway", _host(af)))
                for role in sub.hosts:  # role order first, then device order: WR01, WR02, FW01
                    for d in (x for x in devs if x.role == role):
                        req.children.append(Request(keys.member(key, d.hostname), sub.pool, af, site.id,
                                                    f"{sub.name} host", _host(af)))
                add(site.id, req)
        if devs:
            for af in (4, 6):
                add(site.id, _mgmt_subnet(plan, site, [d.hostname for d in devs], af))
        for d in devs:
            if d.role in plan.loopback.roles:
                for af, plen in ((4, plan.loopback.ipv4), (6, plan.loopback.ipv6)):
                    add(site.id, Request(keys.loopback(af, site.id, d.hostname), "loopback", af, site.id,
                                         "loopback", plen))
        db = first_db(devs) if site.kind == "dc" else None
        if db is not None:  # the replicated production database (inventory/drpolicy.py): its service address
            for af, plen in ((4, plan.service.ipv4), (6, plan.service.ipv6)):
                add(site.id, Request(keys.service(af, site.id, db.hostname), "service", af, site.id,
                                     "database service address", plen))
    for link in inv.links:
        home = link.p2p_site  # the lower site, or where a line across the tree is numbered (DR lines)
        for af, plen in ((4, plan.p2p.ipv4), (6, plan.p2p.ipv6)):
            add(home, Request(keys.p2p(af, home, link.id), "p2p", af, home, f"p2p link ({link.kind})", plen))

    children = inv.children()
    ministry = inv.sites[0]
    roots: list[Request] = []
    for pool in POOLS:
        for af in (4, 6):
            root = _aggregate(inv, plan, ministry, pool, af, leaves, children)
            if root is not None:
                root.purpose = "national pool"
                roots.append(root)
    return roots


def _subnets(plan: PlanDoc, site: Site) -> tuple:
    if site.kind == "access":
        return plan.subnets.access.get(site.access_kind or "", ())
    return plan.subnets.dr if site.kind == "dr" else plan.subnets.dc


def _mgmt_subnet(plan: PlanDoc, site: Site, hosts: list[str], af: int) -> Request:
    # IPv4: network + gateway + broadcast + hosts, times headroom; never smaller than a /29
    v4 = min(29, plen_for(4, (len(hosts) + 3) * plan.management.headroom))
    plen = v4 if af == 4 else plan.management.ipv6
    key = keys.mgmt_subnet(af, site.id)
    req = Request(key, "management", af, site.id, "management subnet", plen, host_subnet=True)
    req.children.append(Request(keys.mgmt_host(af, site.id, "gateway"), "management", af, site.id,
                                "management gateway", _host(af)))
    for h in hosts:
        req.children.append(Request(keys.mgmt_host(af, site.id, h), "management", af, site.id,
                                    "device management", _host(af)))
    return req


def _host(af: int) -> int:
    return 32 if af == 4 else 128


def _aggregate(inv: Inventory, plan: PlanDoc, site: Site, pool: str, af: int,
               leaves: dict[tuple[str, int, str], list[Request]],
               children: dict[str, list[Site]]) -> Request | None:
    kids = [a for c in children[site.id]
            if (a := _aggregate(inv, plan, c, pool, af, leaves, children)) is not None]
    own = leaves.get((pool, af, site.id), [])
    if not kids and not own:
        return None
    hk = headroom_key(site)
    return Request(keys.aggregate(pool, af, site.id), pool, af, site.id, AGGREGATE_PURPOSE.get(hk, "site aggregate"),
                   None, headroom=plan.headroom.get(hk, 1), children=own + kids)
