"""Where each zone of each site is: its blocks, read from the IP registration record, and the relations
between sites that cross-tier flows follow (parent data centre, DR centre).

The Aerleon naming definitions are generated from here (`naming_definitions`), never typed by hand."""

from __future__ import annotations

from dataclasses import dataclass, field

from inventory.drpolicy import DrDoc, replica_site
from inventory.model import Inventory
from ipplan.registry import Registry
from network.policy.model import Policy

Block = tuple[int, int, int]  # (af, start, prefix length)


def net_name(site: str, zone: str) -> str:
    """Aerleon network name of a zone at a site: 140100-DC production -> S140100_DC_PRODUCTION."""
    return f"S{site.replace('-', '_')}_{zone.upper().replace('-', '_')}"


def service_name(service: str) -> str:
    return service.upper().replace("-", "_")


@dataclass(frozen=True)
class World:
    """The policy joined with the inventory and the record: what every firewall needs to be compiled."""

    policy: Policy
    inv: Inventory
    blocks: dict[tuple[str, str], tuple[Block, ...]]  # (site, zone) -> blocks, IPv4 then IPv6
    parent: dict[str, str]  # data centre -> the data centre one tier up
    dr: dict[str, str]  # data centre -> the DR centre protecting it
    firewall_sites: tuple[str, ...]  # sites with a firewall (data and DR centres), inventory order
    children: dict[str, list[str]] = field(default_factory=dict)  # inverse of parent
    protects: dict[str, list[str]] = field(default_factory=dict)  # inverse of dr
    replica: dict[str, str] = field(default_factory=dict)  # data centre -> the site holding its DB replica
    replicas_of: dict[str, list[str]] = field(default_factory=dict)  # inverse of replica

    def zone_of(self, af: int, addr: int) -> str | None:
        """The zone (of any site) an address falls in, as 'site zone'; for naming example flows."""
        for (s, z), blocks in self.blocks.items():
            for baf, start, plen in blocks:
                bits = 32 if baf == 4 else 128
                if baf == af and start <= addr < start + (1 << (bits - plen)):
                    return f"{s} {z}"
        return None


def site_relations(inv: Inventory, dr_doc: DrDoc) -> tuple[dict[str, str], dict[str, str]]:
    """parent: a data centre's upper-tier data centre (city -> province -> ministry). dr: the DR centre that
    holds a data centre's replica: inventory/drpolicy.py's `replica_site`, the one rule the replication plan and
    the inventory plugins use too (dr.yaml's overrides included), so the firewalls pass replication exactly
    where it runs. A DR centre the inventory does not have gives no relation."""
    sites = {s.id: s for s in inv.sites}
    parent = {s.id: s.parent for s in inv.sites
              if s.kind == "dc" and s.parent and sites[s.parent].kind == "dc"}
    dr: dict[str, str] = {}
    for s in inv.sites:
        rsid = replica_site(inv, dr_doc, s)
        if rsid is not None and rsid in sites:
            dr[s.id] = rsid
    return parent, dr


def build_world(policy: Policy, inv: Inventory, registry: Registry, dr_doc: DrDoc) -> World:
    """`dr_doc`: the replication policy (inventory/dr.yaml), for the dr relation, zones that follow the
    database replica and flows to the replica's site."""
    by_purpose: dict[str, list[str]] = {}
    for name, z in policy.zones.items():
        by_purpose.setdefault(z.record, []).append(name)
    sites = {s.id: s for s in inv.sites}
    replica = {s.id: r for s in inv.sites if (r := replica_site(inv, dr_doc, s)) and r in sites and r != s.id}
    blocks: dict[tuple[str, str], list[Block]] = {}
    for r in registry.records.values():
        if r.status != "active" or r.purpose not in by_purpose or r.site not in sites:
            continue
        site = sites[r.site]
        for zone in by_purpose[r.purpose]:
            kind = policy.zones[zone].access_kind
            if kind is None and site.kind != "access":
                blocks.setdefault((site.id, zone), []).append((r.af, r.start, r.plen))
            elif kind is not None and site.access_kind == kind and site.parent:
                # an access site's LAN belongs to the zone of the data centre it hangs off
                blocks.setdefault((site.parent, zone), []).append((r.af, r.start, r.plen))
    parent, dr_of = site_relations(inv, dr_doc)
    children: dict[str, list[str]] = {}
    for c, p in parent.items():
        children.setdefault(p, []).append(c)
    protects: dict[str, list[str]] = {}
    for c, d in dr_of.items():
        protects.setdefault(d, []).append(c)
    replicas_of: dict[str, list[str]] = {}
    for c, r in replica.items():
        replicas_of.setdefault(r, []).append(c)
    fw_sites = tuple(dict.fromkeys(d.site for d in inv.devices if d.role == "FW"))
    return World(policy, inv, {k: tuple(sorted(v)) for k, v in blocks.items()}, parent, dr_of, fw_sites,
                 children, protects, replica, replicas_of)


def naming_definitions(world: World, sites: set[str] | None = None) -> dict:
    """Aerleon naming definitions (networks and services) as the dict `Naming.ParseDefinitionsObject`
    takes, generated from the record and the policy's services."""
    from ipplan.addr import fmt

    networks = {net_name(s, z): {"values": [{"address": fmt(*b)} for b in bl]}
                for (s, z), bl in sorted(world.blocks.items()) if sites is None or s in sites}
    services = {service_name(n): [{"port": f"{lo}" if lo == hi else f"{lo}-{hi}", "protocol": s.protocol}
                                  for lo, hi in s.ports] for n, s in world.policy.services.items()}
    return {"networks": networks, "services": services}
