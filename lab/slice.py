"""The lab's topology, computed from the source of truth: a slice of the national plan as a LabSpec.

Which sites: the slice in docs/lab-slice.md (`default`) or the smallest useful network (`minimal`). Everything
else comes from the inventory, the IP registration record and the routing plan, exactly as for real devices; the lab
differs only where a lab must (documented in docs/lab-slice.md):
- routers run FRR and firewalls are Linux (`linux_nftables`), whatever platform the inventory names;
- the out-of-band management network is one lab subnet (100.127.0.0/24) with the host on it, instead of a
  subnet per site (management addresses are lab variables, like a jump host's view of the OOB network);
- access sites are not built: the slice's routers are planned without them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from pathlib import Path

from core.errors import JinbaoError
from inventory.model import ZONE_HOST_ROLES, ZONE_OF_ROLE, Device, Site
from lab.spec import IfaceSpec, LabSpec, LinkSpec, NodeSpec, RouteSpec, SegmentSpec, SnmpUser
from network.intent_model import DeviceIntent
from network.plan import PlanInput, build_intents, firewall_intent, site_location
from network.secrets import LabTestSecrets
from network.service import open_network

LAB_NAME = "jinbao"
MGMT_NET = "100.127.0.0/24"
SLICES: dict[str, tuple[str, ...]] = {
    "default": ("100000-DC", "100000-DR", "140000-DC", "140000-DR", "140100-DC", "140200-DC",
                "410000-DC", "410100-DC", "411000-DC", "110000-DC"),
    "minimal": ("100000-DC", "100000-DR", "140000-DC", "140100-DC"),
}
NODE_ROLES = ("WR", "FW", "DB", "EX", "DS")  # management servers are the host itself in the lab
SERVICES = {"router": ("sshd", "frr", "snmpd"), "firewall": ("sshd", "frr", "snmpd", "nftables"),
            "server": ("sshd", "snmpd")}


@dataclass(frozen=True)
class LabPlan:
    """A lab slice: its spec, the plan restricted to it, and the intents deployed into it."""

    name: str
    slice: str
    spec: LabSpec
    plan: PlanInput
    intents: dict[str, DeviceIntent]  # routers (frr) and firewalls (linux_nftables)
    mgmt: dict[str, str]  # hostname -> lab management address
    nodes: dict[str, str]  # hostname -> lab node name

    def node(self, hostname: str) -> str:
        return self.nodes[hostname]


def node_name(hostname: str) -> str:
    return hostname.lower()


def _kind(role: str) -> str:
    return {"WR": "router", "AR": "router", "FW": "firewall"}.get(role, "server")


def lab_snmp_user(plan: PlanInput) -> SnmpUser:
    """The LAB-ONLY SNMPv3 credentials, from the same test secret source as the lab's renders."""
    s = LabTestSecrets()
    return SnmpUser(plan.routing.management.snmp_user, s.get("snmp_auth") or "", s.get("snmp_priv") or "",
                    plan.routing.management.snmp_auth, plan.routing.management.snmp_priv)


def parse_mgmt_net(mgmt_net: str, nodes: int = 0) -> ipaddress.IPv4Network:
    """The lab's management network: an IPv4 network (no host bits) with room for the host (.1) and `nodes`
    nodes after it. ValueError says what is wrong."""
    try:
        net = ipaddress.IPv4Network(mgmt_net, strict=True)
    except ValueError as e:  # AddressValueError and NetmaskValueError are ValueErrors
        raise ValueError(f"not an IPv4 network like {MGMT_NET} ({e})") from None
    if net.num_addresses < nodes + 3:  # network, host, nodes, broadcast
        raise ValueError(f"too small for the host and {nodes} nodes (needs {nodes + 3} addresses)")
    return net


def build_lab(inventory_dir: Path, slice_name: str = "default", lab_name: str = LAB_NAME,
              mgmt_net: str = MGMT_NET, production_bfd: bool = False, plan: PlanInput | None = None) -> LabPlan:
    """The lab plan of a slice. Bad input (unknown slice, a management network that is not one or is too
    small, an inventory without the slice's sites) is a one-line JinbaoError, raised before any lab work.
    The routers run BFD at the routing plan's `bfd.lab_interval_ms` when it is set (CPU on the control
    host), unless `production_bfd` (the benchmarks that measure failure detection). `plan`: the directory's
    network plan when the caller holds it already (`jinbao run`'s workspace), else it is read here."""
    if slice_name not in SLICES:
        raise JinbaoError(f"--slice {slice_name!r}: unknown slice (one of {', '.join(SLICES)})")
    try:
        parse_mgmt_net(mgmt_net)
    except ValueError as e:
        raise JinbaoError(f"--mgmt-net {mgmt_net!r}: {e}") from None
    full = plan if plan is not None else open_network(inventory_dir)
    sites = set(SLICES[slice_name])
    missing = sorted(s for s in sites if not full.inv.has_site(s))
    if missing:
        raise JinbaoError(f"the {slice_name} lab slice needs sites the inventory does not have: {', '.join(missing)}",
                          file=full.inv.source or str(Path(inventory_dir)), entry=f"slice {slice_name}")
    # service addresses of the pairs with both ends in the slice (docs/dr.md): the others have nowhere to go
    services = tuple(sv for sv in full.services if {sv.primary_site, sv.replica_site} <= sites)
    routing, lab_ms = full.routing, full.routing.bfd.lab_interval_ms
    if lab_ms is not None and not production_bfd:
        routing = routing.model_copy(update={"bfd": routing.bfd.model_copy(
            update={"min_rx_ms": lab_ms, "min_tx_ms": lab_ms})})
    plan = PlanInput(inv=full.inv.restrict(sites), addr=full.addr, routing=routing, mgmt_pools=full.mgmt_pools,
                     ports=full.ports, services=services)
    inv = plan.inv
    intents = build_intents(plan, platform="frr")
    for d in inv.devices:
        if d.role == "FW":
            intents[d.hostname] = firewall_intent(plan, replace(d, platform="linux_nftables"))
    devices = [d for d in inv.devices if d.role in NODE_ROLES]
    try:
        net = parse_mgmt_net(mgmt_net, len(devices))
    except ValueError as e:
        raise JinbaoError(f"--mgmt-net {mgmt_net!r}: {e}") from None
    mgmt = {d.hostname: str(net.network_address + 2 + i) for i, d in enumerate(devices)}
    site_of = {s.id: s for s in inv.sites}
    nodes = [NodeSpec(node_name(d.hostname), d.hostname, d.role, _kind(d.role), f"{mgmt[d.hostname]}/{net.prefixlen}",
                      SERVICES[_kind(d.role)], site_location(site_of[d.site])) for d in devices]
    links = [_link(i, lk.a, lk.b, lk.kind, intents) for i, lk in enumerate(inv.links)]
    segments: list[SegmentSpec] = []
    routes: list[RouteSpec] = []
    by_site = inv.devices_of()
    for site in inv.sites:
        segs, rts = _site_lans(plan, site, by_site[site.id], intents)
        segments += segs
        routes += rts
    spec = LabSpec(name=lab_name, mgmt_net=mgmt_net, mgmt_host_ip=str(net.network_address + 1), nodes=tuple(nodes),
                   links=tuple(links),
                   segments=tuple(segments), routes=tuple(routes), snmp_user=lab_snmp_user(plan)).validate()
    node_names = {d.hostname: node_name(d.hostname) for d in devices}
    return LabPlan(lab_name, slice_name, spec, plan, intents, mgmt, node_names)


def _iface_towards(intent: DeviceIntent, peer: str, kind: str) -> IfaceSpec:
    for itf in intent.interfaces:
        if itf.peer == peer and itf.link_kind == kind:
            return IfaceSpec(node_name(intent.hostname), itf.name, tuple(a for a in (itf.ipv4, itf.ipv6) if a))
    raise KeyError(f"{intent.hostname}: no {kind} interface towards {peer}")


def _link(i: int, a: str, b: str, kind: str, intents: dict[str, DeviceIntent]) -> LinkSpec:
    return LinkSpec(f"l{i}-{kind}", _iface_towards(intents[a], b, kind), _iface_towards(intents[b], a, kind))


def _addrs_of(intent: DeviceIntent, kind: str, link_kind: str | None = None) -> IfaceSpec:
    itf = next(x for x in intent.interfaces if x.kind == kind and (link_kind is None or x.link_kind == link_kind))
    return IfaceSpec(node_name(intent.hostname), itf.name, tuple(a for a in (itf.ipv4, itf.ipv6) if a))


def _site_lans(plan: PlanInput, site: Site, devices: list[Device], intents: dict[str, DeviceIntent],
               ) -> tuple[list[SegmentSpec], list[RouteSpec]]:
    """The transit LAN (WAN routers + firewall) and one LAN per zone, each server on its zone's LAN."""
    fw = next((d for d in devices if d.role == "FW"), None)
    if fw is None:
        return [], []
    base = site.id.lower()
    segments = [SegmentSpec(f"{base}-transit", tuple(
        _addrs_of(intents[d.hostname], "transit") for d in devices if d.role in ("WR", "FW")))]
    routes: list[RouteSpec] = []
    for d in devices:
        if d.role not in ZONE_HOST_ROLES:
            continue
        pool, zone = ZONE_OF_ROLE[d.role]
        addrs = tuple(plan.addr.lan_host(site.id, pool, zone, af, d.hostname, d.hostname) for af in (4, 6))
        members = [IfaceSpec(node_name(d.hostname), "eth1", addrs)]
        if pool == "business":  # business zones sit behind the firewall; the decision zone has no link at all
            members.insert(0, _addrs_of(intents[fw.hostname], "lan", zone))
        segments.append(SegmentSpec(f"{base}-{zone}", tuple(members)))
        for af, dst in ((4, "default"), (6, "default6")):
            gw = plan.addr.lan_host(site.id, pool, zone, af, d.hostname).split("/")[0]
            routes.append(RouteSpec(node_name(d.hostname), dst, gw))
    return segments, routes
