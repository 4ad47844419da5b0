"""A site's firewall policy, compiled from the zone policy: the flow instances that concern the site's
firewall, then one ordered rule list, then the Aerleon policy (filters per platform) built from it.

A firewall guards the zones behind it (production, exchange). A flow concerns it when its source zone is
behind it at this site (outbound) or its destination zone is (inbound): a cross-tier flow appears on the
firewalls at both ends. Deny flows come first, then allows, then an explicit default deny (counted)."""

from __future__ import annotations

from dataclasses import dataclass

from inventory.platforms import zone_firewall_platforms
from network.ifnames import naming
from network.plan import ZONES_BEHIND_FIREWALL
from network.policy.model import Flow
from network.policy.zones import World, net_name, service_name

FILTER = "JB-ZONE-POLICY"
PLATFORMS = ("nftables", "cisco", "huawei", "h3c")  # Aerleon target names
SUFFIX = {"nftables": ".nft", "cisco": ".acl", "huawei": ".vrp", "h3c": ".comware"}


@dataclass(frozen=True, slots=True)
class Instance:
    """One flow between two concrete zones: `src_zone` at `src_site` to `dst_zone` at `dst_site`."""

    flow: Flow
    src_site: str
    dst_site: str

    @property
    def label(self) -> str:
        return f"{self.src_site} {self.flow.src} -> {self.dst_site} {self.flow.dst}"


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    action: str  # accept | deny
    src_net: str | None  # Aerleon network name (None: any)
    dst_net: str | None
    protocol: str | None
    services: tuple[str, ...]  # Aerleon service names
    iif: str | None  # nftables interface match
    oif: str | None
    # The firewall's security zones the traffic enters from and leaves to (VRP / Comware zone policies): a zone
    # behind this firewall by its own name, anything over the WAN side (other sites, management, DMZ, partners)
    # the untrusted zone. None: any zone (the default deny).
    src_zone: str | None = None
    dst_zone: str | None = None


def instances(world: World, site: str) -> list[Instance]:
    """Every flow instance the firewall of `site` must pass, in policy order, only where both zones have
    addresses in the record (a DR centre has no DMZ, a province no partners)."""
    out: list[Instance] = []
    behind = {z for z, d in world.policy.zones.items() if d.behind_firewall}
    for f in world.policy.flows:
        if f.to_site == "same":
            pairs = [(site, site)]
        elif f.to_site == "parent":
            pairs = [(site, world.parent[site])] if site in world.parent else []
            pairs += [(c, site) for c in world.children.get(site, [])]
        elif f.to_site == "replica":
            # at the source site the same-site flow's rule already lets its exchange zone reach the address
            # wherever it is (site_rules); a second rule for the same traffic would never match
            follows = world.policy.zones[f.dst].follows_replica
            pairs = [(site, world.replica[site])] if site in world.replica and not follows else []
            pairs += [(c, site) for c in world.replicas_of.get(site, [])]
        else:  # dr
            pairs = [(site, world.dr[site])] if site in world.dr else []
            pairs += [(c, site) for c in world.protects.get(site, [])]
        for s, d in pairs:
            mine = (s == site and f.src in behind) or (d == site and f.dst in behind)
            if mine and (s, f.src) in world.blocks and (dst_owner(world, f, s, d), f.dst) in world.blocks:
                out.append(Instance(f, s, d))
    return out


def dst_owner(world: World, f: Flow, src_site: str, dst_site: str) -> str:
    """Whose blocks the destination zone is: a zone that follows the replica (the DR service addresses) is,
    at the replica's site, the source site's own address and nobody else's (exact: a city reaches its own
    database there, not its neighbours')."""
    follows = world.policy.zones[f.dst].follows_replica and f.to_site == "replica"
    return src_site if follows else dst_site


UNTRUST = "untrust"  # the firewall zone of its transit port (towards the WAN routers)
# Aerleon target -> the device platform whose interface names a firewall of that target has
TARGET_DEVICE = zone_firewall_platforms()


def _interfaces(device_platform: str = "linux_nftables") -> dict[str, str]:
    """Zone -> interface of a firewall, numbered as `network.plan.firewall_intent` does: port 1 is the transit
    LAN towards the WAN routers, then one port per zone behind the firewall."""
    port = naming(device_platform).port
    out = {"transit": port.format(n=1)}
    out.update({z: port.format(n=n) for n, z in enumerate(ZONES_BEHIND_FIREWALL, start=2)})
    return out


def zone_interfaces(target: str) -> dict[str, str]:
    """Firewall zone -> its interface, for a target with zone policies (huawei, h3c)."""
    ifs = _interfaces(TARGET_DEVICE[target])
    return {UNTRUST: ifs.pop("transit"), **ifs}


def site_rules(world: World, site: str) -> list[Rule]:
    ifs = _interfaces()
    rules: list[Rule] = []
    insts = instances(world, site)
    ordered = [i for i in insts if i.flow.action == "deny"] + [i for i in insts if i.flow.action == "allow"]
    for i in ordered:
        f = i.flow
        name = f"{f.name}-{f.src}-{f.dst}" if f.to_site == "same" else (
            f"{f.name}-to-{i.dst_site}" if i.src_site == site else f"{f.name}-from-{i.src_site}")
        src, dst = (world.policy.zones[z].port or z for z in (f.src, f.dst))  # the firewall port's zone
        iif = ifs.get(src, ifs["transit"]) if i.src_site == site else ifs["transit"]
        oif = ifs.get(dst, ifs["transit"]) if i.dst_site == site else ifs["transit"]
        szone = src if i.src_site == site and src in ifs else UNTRUST
        dzone: str | None = dst if i.dst_site == site and dst in ifs else UNTRUST
        if world.policy.zones[f.dst].follows_replica and i.src_site == i.dst_site == site:
            # an address that moves: behind the production port while this site runs the database, out of
            # the WAN side once its replica's site does; the addresses alone say what is allowed
            oif, dzone = None, None
        by_proto: dict[str, list[str]] = {}
        for s in f.services:
            by_proto.setdefault(world.policy.services[s].protocol, []).append(service_name(s))
        for proto, svcs in by_proto.items():
            rules.append(Rule(name.lower() if len(by_proto) == 1 else f"{name}-{proto}".lower(),
                              "accept" if f.action == "allow" else "deny",
                              net_name(i.src_site, f.src), net_name(dst_owner(world, f, i.src_site, i.dst_site), f.dst),
                              proto, tuple(svcs),
                              iif, oif, szone, dzone))
    rules.append(Rule("default-deny", "deny", None, None, None, (), None, None))
    return rules


def _term(r: Rule, platform: str) -> dict:
    t: dict = {"name": r.name, "action": r.action}
    if r.src_net:
        t["source-address"] = r.src_net
    if r.dst_net:
        t["destination-address"] = r.dst_net
    if r.protocol:
        t["protocol"] = r.protocol
    if r.services:
        t["destination-port"] = " ".join(r.services)
    if platform == "nftables" and r.iif and r.oif:
        t["source-interface"], t["destination-interface"] = r.iif, r.oif
    if platform in ("huawei", "h3c") and r.src_zone and r.dst_zone:  # zone policies beside the ACL
        ifs = zone_interfaces(platform)
        t["source-zone"], t["destination-zone"] = r.src_zone, r.dst_zone
        t["source-interface"], t["destination-interface"] = ifs[r.src_zone], ifs[r.dst_zone]
    elif platform in ("huawei", "h3c") and r.src_zone:  # to any zone: an address that moves (site_rules)
        t["source-zone"], t["source-interface"] = r.src_zone, zone_interfaces(platform)[r.src_zone]
    if r.action == "deny":
        t["counter"] = r.name.replace("-", "_")
    return t


def aerleon_policy(rules: list[Rule], site: str, platform: str) -> dict:
    """The Aerleon policy for one site and platform: an IPv4 and an IPv6 filter from the same terms.
    (Separate families, not Aerleon's `mixed`: its nftables generator repeats every ported rule twice in
    a mixed filter, which the line-reachability analysis rightly reports as dead lines.)"""
    if platform == "nftables":
        headers = [{"nftables": "inet forward 0"}, {"nftables": "inet6 forward 0"}]
    else:
        headers = [{platform: f"{FILTER} extended" if platform == "cisco" else f"{FILTER} inet"},
                   {platform: f"{FILTER}6 inet6"}]
    terms = [_term(r, platform) for r in rules]
    return {"filename": f"{site}", "filters": [
        {"header": {"targets": h, "comment": f"jinbao zone policy for {site} (generated; do not edit)"},
         "terms": terms} for h in headers]}
