"""The routing plan: inventory + IP registration record + routing policy -> one intent per router.

Pure function, computed every time, never hand-kept (docs/routing.md explains the design):
- one ASN per site (asn_base + region code); eBGP on every inter-site link, iBGP between a site's routers;
- BFD on every session; BGP timers as the fallback;
- each site originates only its own aggregates (business, loopback, p2p pools), anchored by discard routes,
  and announces only those upward, tagged with its tier's origin community;
- a parent sends only a default route down;
- the lower tier prefers its primary line (local-preference) and makes the upper tier prefer it too
  (AS-path prepend on the backup);
- a DR centre's own line (kind dr, to a site other than the one it backs up) is the last resort both ways:
  local-preference `dr` on what is learned over it, the backup prepend on what is sent; the data centre it
  backs up keeps announcing the DR centre's aggregates upward, so the normal path wins while it stands;
- the national DR centre is every provincial-level data centre's last-resort parent: over their lines to it
  (kind dr) it sends a default and accepts what each sends its parent, both at local-preference `dr`; the
  ministry sends it its whole table (its own aggregates and what each child announces up), so that every
  DR line carries nothing while the ministry stands;
- every eBGP session's import filter accepts exactly what the IP plan gives that neighbour, with a
  maximum-prefix limit;
- a production database's service address (a /32 and /128, docs/dr.md) has a `network` statement on the
  WAN routers of both its primary's and its replica's site, and static routes towards the database (WAN
  router -> firewall -> database) only at the site that runs it as the primary now: a `network` statement
  originates only a prefix the router has a route to (FRR's import-check, the vendors' rule), so that route
  is the gate the drill flips, and every ancestor of both sites passes the host route upward (exact filters).
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from core.errors import JinbaoError
from inventory.drpolicy import DrDoc, first_db, replica_site
from inventory.model import Device, Inventory, Link, Site
from inventory.platforms import ROUTER_PLATFORMS
from inventory.platforms import platform as platform_facts
from ipplan.ports import PortRegistry
from network.addressing import Addressing
from network.ifnames import naming
from network.intent_model import (
    Aaa,
    AclEntry,
    BfdProfile,
    Bgp,
    BgpNeighbor,
    BgpTimers,
    DeviceIntent,
    Interface,
    Management,
    PrefixList,
    PrefixListEntry,
    RouteMap,
    RouteMapEntry,
    SecretRef,
    Snmp,
    StaticRoute,
)
from network.routing_config import RoutingDoc

AFS = ((4, "ipv4"), (6, "ipv6"))


_SHARED: dict[tuple, object] = {}


def _new(cls, **fields):
    """Build a policy object once per distinct value and share it between routers: they are frozen, and
    most (DEFAULT lists, iBGP maps, a site's own-aggregate list) repeat across many routers."""
    key = (cls, *fields.items())
    obj = _SHARED.get(key)
    if obj is None:
        if len(_SHARED) > 200_000:  # bounded: a long-lived process plans many inventories
            _SHARED.clear()
        obj = _SHARED[key] = cls(**fields)
    return obj
DEFAULT = {4: "0.0.0.0/0", 6: "::/0"}
UPLINK_KINDS = ("primary", "backup", "dr", "access")
ZONES_BEHIND_FIREWALL = ("production", "exchange")


@dataclass(frozen=True, slots=True)
class ServiceAddress:
    """A production database's service address and the two sites that may announce it."""

    db: str  # the primary's hostname (the record files the address under it)
    replica_db: str
    primary_site: str
    replica_site: str
    v4: str
    v6: str
    active: str  # the site that announces it: the primary's, or the replica's after a switchover/failover

    def prefix(self, af: int) -> str:
        return self.v4 if af == 4 else self.v6

    def db_at(self, site: str) -> str:
        return self.db if site == self.primary_site else self.replica_db


def service_addresses(inv: Inventory, doc: DrDoc, addr: Addressing, active: dict[str, str] | None = None,
                      source: str = "dr-active.yaml") -> tuple[ServiceAddress, ...]:
    """One per replicated production database (inventory/drpolicy.py's rule, the one the replication plan
    follows), addresses from the IP record. `active`: primary site -> the site running it now (default: the
    primary's), from the state record `source`. A pair the replication plan would refuse (`jinbao dr plan`
    says why) gets none."""
    devs = inv.devices_of()
    for sid in active or {}:
        if not inv.has_site(sid):
            raise JinbaoError(f"unknown site {sid!r}", file=source, entry=f"active.{sid}")
    out = []
    for site in inv.sites:
        db = first_db(devs[site.id]) if site.kind == "dc" else None
        rsid = replica_site(inv, doc, site) if db else None
        if db is None or rsid is None or not inv.has_site(rsid) or rsid == site.id:
            continue
        rdb = first_db(devs[rsid])
        if rdb is None:
            continue
        now = (active or {}).get(site.id, site.id)
        if now not in (site.id, rsid):
            raise JinbaoError(f"active site {now!r} is neither the primary's ({site.id}) nor the replica's ({rsid})",
                              file=source, entry=f"active.{site.id}")
        out.append(ServiceAddress(db.hostname, rdb.hostname, site.id, rsid, addr.service(site.id, db.hostname, 4),
                                  addr.service(site.id, db.hostname, 6), now))
    # a key that is no replicated database's primary site (a replica's site, say) would be ignored, and the next
    # deploy would put the address back at the primary while the drill left it at the replica: two origins
    primaries = {sv.primary_site for sv in out}
    for sid in active or {}:
        if sid not in primaries:
            raise JinbaoError(f"{sid} is not the primary site of a replicated database (keys are primary sites)",
                              file=source, entry=f"active.{sid}")
    return tuple(out)


@dataclass
class PlanInput:
    inv: Inventory
    addr: Addressing
    routing: RoutingDoc
    mgmt_pools: dict[int, str]  # national management prefixes: the only sources the management ACL admits
    ports: PortRegistry = field(default_factory=PortRegistry)  # which port each router link is cabled to
    services: tuple[ServiceAddress, ...] = ()  # database service addresses (docs/dr.md)
    _links_of: dict[str, list[Link]] = field(default_factory=dict)
    _devices_of: dict[str, list[Device]] = field(default_factory=dict)
    _device: dict[str, Device] = field(default_factory=dict)
    _nms: dict[str, list[str]] = field(default_factory=dict)
    _dr_below: dict[str, list[Site]] = field(default_factory=dict)
    national_dr: str | None = None  # the DR centre of the ministry itself
    _svc_below: dict[str, list[ServiceAddress]] = field(default_factory=dict)
    _svc_at: dict[str, list[ServiceAddress]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        links: dict[str, list[Link]] = defaultdict(list)
        for link in self.inv.links:
            links[link.a].append(link)
            links[link.b].append(link)
        self._links_of = dict(links)
        self._devices_of = self.inv.devices_of()
        self._device = {d.hostname: d for d in self.inv.devices}
        below: dict[str, list[Site]] = defaultdict(list)
        for s in self.inv.sites:
            if s.kind != "dr":
                continue
            up = s.parent
            while up is not None and self.inv.has_site(up):
                below[up].append(s)
                up = self.inv.site(up).parent
        self._dr_below = dict(below)
        ministry = self.inv.sites[0].id
        self.national_dr = next((s.id for s in self.inv.sites if s.kind == "dr" and s.parent == ministry), None)
        svc_below: dict[str, list[ServiceAddress]] = defaultdict(list)
        svc_at: dict[str, list[ServiceAddress]] = defaultdict(list)
        for sv in self.services:
            for end in (sv.primary_site, sv.replica_site):
                if not self.inv.has_site(end):  # a slice without one end: the other still announces it
                    continue
                svc_at[end].append(sv)
                up: str | None = end
                while up is not None and self.inv.has_site(up):
                    if sv not in svc_below[up]:
                        svc_below[up].append(sv)
                    up = self.inv.site(up).parent
        self._svc_below, self._svc_at = dict(svc_below), dict(svc_at)

    def service_prefixes(self) -> dict[str, tuple[str, ...]]:
        """Site -> the prefixes (v4, v6) of the service addresses it holds an end of: its devices' static routes to
        them are the plan's wherever the address is active now (a deploy may remove one; network/deploy)."""
        return {site: tuple(sv.prefix(af) for sv in svs for af in (4, 6)) for site, svs in self._svc_at.items()}

    def services_at(self, site_id: str) -> list[ServiceAddress]:
        """The service addresses this site's WAN routers may originate (it holds one end of the pair)."""
        return self._svc_at.get(site_id, [])

    def services_below(self, site_id: str) -> list[ServiceAddress]:
        """The service addresses a site passes upward: those whose primary or replica is in its subtree."""
        return self._svc_below.get(site_id, [])

    def dr_centres_below(self, site_id: str) -> list[Site]:
        """The DR centres in a site's subtree: it passes their aggregates upward with its own."""
        return self._dr_below.get(site_id, [])

    def lower_end(self, link: Link) -> str:
        """The end ("a" or "b") whose router treats the link as a way up: `b`, except on a line between the
        national DR centre and a provincial-level data centre, where the national DR centre is the parent
        (a last-resort one) whichever end the record names it."""
        if link.kind == "dr" and self.national_dr in (link.a_site, link.b_site):
            return "a" if link.b_site == self.national_dr else "b"
        return "b"

    def ministry_table(self, af: int, who: str) -> list[str]:
        """What the ministry sends the national DR centre besides a default: its own aggregates and what every
        other child announces up. Learned there over its primary and backup lines, it wins over the same
        prefixes learned over the provinces' DR lines (local-preference), so those carry nothing while the
        ministry stands."""
        ministry = self.inv.sites[0]
        out = own_aggregates(self, ministry, af, who)
        for c in self.inv.children()[ministry.id]:
            if c.id != self.national_dr:
                out += [a for a in announced_up(self, c, af, who) if a not in out]
        return out

    def links_of(self, host: str) -> list[Link]:
        return self._links_of.get(host, [])

    def devices(self, site: str) -> list[Device]:
        return self._devices_of[site]

    def device(self, host: str) -> Device:
        return self._device[host]


def tier_key(site: Site) -> str:
    return "dr" if site.kind == "dr" else site.tier


def own_aggregates(p: PlanInput, site: Site, af: int, who: str) -> list[str]:
    out = []
    for pool in p.routing.bgp.announced_pools:
        agg = p.addr.aggregate(site.id, pool, af, who)
        if agg is not None:
            out.append(agg)
    return out


def announced_up(p: PlanInput, site: Site, af: int, who: str) -> list[str]:
    """What a site announces to its parent, and exactly what the parent accepts from it: its own aggregates,
    then those of the DR centres below it (each has a line of its own elsewhere, and while this site stands the
    rest of the network must reach them through it, not over that line: the longer prefix would win)."""
    out = own_aggregates(p, site, af, who)
    for dr in p.dr_centres_below(site.id):
        out += [a for a in own_aggregates(p, dr, af, who) if a not in out]
    # service addresses that may be announced in this subtree: whichever end runs the database (docs/dr.md)
    out += [sv.prefix(af) for sv in p.services_below(site.id)]
    return out


def _ordered_links(p: PlanInput, d: Device) -> list[Link]:
    """Uplinks first (primary, backup, DR line), then links inside the site, then downlinks in inventory order."""
    mine = p.links_of(d.hostname)
    up = sorted((lk for lk in mine if lk.b == d.hostname and lk.a_site != lk.b_site),
                key=lambda lk: UPLINK_KINDS.index(lk.kind))
    internal = [lk for lk in mine if lk.a_site == lk.b_site]
    down = [lk for lk in mine if lk.a == d.hostname and lk.a_site != lk.b_site]
    return up + internal + down


class _Policy:
    """The prefix lists and route maps one router's sessions name, each defined once by name."""

    def __init__(self) -> None:
        self.prefix_lists: dict[str, PrefixList] = {}
        self.route_maps: dict[str, RouteMap] = {}

    def plist(self, name: str, afi: str, prefixes: list[str]) -> str:
        self.prefix_lists[name] = _new(PrefixList, name=name, afi=afi, entries=tuple(
            _new(PrefixListEntry, seq=10 * (i + 1), action="permit", prefix=pfx) for i, pfx in enumerate(prefixes)))
        return name

    def rmap(self, name: str, *entries: RouteMapEntry) -> str:
        self.route_maps[name] = _new(RouteMap, name=name, entries=entries)
        return name


def router_intent(p: PlanInput, d: Device) -> DeviceIntent:
    site = p.inv.site(d.site)
    asn = p.inv.asn(site)
    names = naming(d.platform)
    rt = p.routing
    interfaces: list[Interface] = []
    neighbors: list[BgpNeighbor] = []
    pol = _Policy()
    statics: list[StaticRoute] = []

    lo4, lo6 = p.addr.loopback(d, 4), p.addr.loopback(d, 6)
    interfaces.append(Interface(name=names.loopback, kind="loopback", description=f"{d.hostname} router ID",
                                ipv4=lo4, ipv6=lo6))
    for link in _ordered_links(p, d):
        ifname = names.port.format(n=p.ports.port(d.hostname, link.id))
        mine = "b" if link.b == d.hostname else "a"
        peer_host = link.a if mine == "b" else link.b
        wan = link.kind != "access"
        interfaces.append(Interface(
            name=ifname, kind="wan" if wan else "access",
            description=f"internal to {peer_host}" if link.a_site == link.b_site
            else f"DR line to {peer_host}" if link.kind == "dr"
            else f"{link.kind} {'uplink to' if mine == 'b' else 'to'} {peer_host}",
            ipv4=p.addr.link(link, mine, 4), ipv6=p.addr.link(link, mine, 6),
            peer=peer_host, link_kind=link.kind, bfd=True))
        neighbors.extend(_link_sessions(p, d, site, asn, link, pol))

    interfaces.extend(_site_lans(p, site, d, statics))
    neighbors.extend(_transit_ibgp(p, site, d, asn, pol.rmap))
    networks = _originated(p, site, d, interfaces, statics)
    mgmt = _management(p, d)
    # IPv4's management default comes from Management.gateway; IPv6 needs its own route
    statics.append(StaticRoute(prefix=DEFAULT[6], next_hop=p.addr.mgmt(d, 6)[1], vrf=mgmt.vrf,
                               description="out-of-band management"))
    interfaces.append(Interface(name=mgmt.interface, kind="mgmt", description="out-of-band management",
                                ipv4=mgmt.address, ipv6=p.addr.mgmt(d, 6)[0], vrf=mgmt.vrf))
    return DeviceIntent(
        hostname=d.hostname, site=d.site, role=d.role, platform=d.platform, tier=tier_key(site), asn=asn,
        loopback_v4=lo4, loopback_v6=lo6, interfaces=tuple(interfaces),
        bgp=Bgp(asn=asn, router_id=lo4.split("/")[0],
                timers=BgpTimers(keepalive=rt.bgp.timers.keepalive, hold=rt.bgp.timers.hold),
                neighbors=tuple(neighbors), networks_v4=tuple(networks[4]), networks_v6=tuple(networks[6])),
        bfd_profile=BfdProfile(name=rt.bfd.profile, min_rx_ms=rt.bfd.min_rx_ms, min_tx_ms=rt.bfd.min_tx_ms,
                               multiplier=rt.bfd.multiplier),
        prefix_lists=tuple(pol.prefix_lists[k] for k in sorted(pol.prefix_lists)),
        route_maps=tuple(pol.route_maps[k] for k in sorted(pol.route_maps)),
        static_routes=tuple(statics), snmp=_snmp(p, site), aaa=_aaa(p, d), management=mgmt,
        tags={"site_name_en": site.name_en, "site_name_zh": site.name_zh, "province": site.province},
    )


def _link_sessions(p: PlanInput, d: Device, site: Site, asn: int, link: Link, pol: _Policy) -> list[BgpNeighbor]:
    """The BGP sessions over one link, per address family, with the filters they name: iBGP inside the site,
    the uplink's (accept only the default, announce only what goes up) or the downlink's (accept exactly
    what the child announces, send only a default); a DR line is either, at the DR local-preference."""
    rt = p.routing
    plist, rmap = pol.plist, pol.rmap
    community = rt.bgp.communities[tier_key(site)]
    mine, theirs = ("b", "a") if link.b == d.hostname else ("a", "b")
    peer_host = link.a if mine == "b" else link.b
    peer_site = p.inv.site(p.device(peer_host).site)
    lower = p.lower_end(link)
    national_parent = (site.id == p.national_dr and link.kind in ("primary", "backup")
                       and mine == "b")  # the national DR centre's lines to the ministry
    neighbors: list[BgpNeighbor] = []
    for af, afi in AFS:
        v = f"V{af}"
        peer_ip = p.addr.link(link, theirs, af).split("/")[0]
        if link.a_site == link.b_site:  # iBGP inside the site: everything, next-hop-self
            name = rmap(f"IBGP-{v}", _new(RouteMapEntry, seq=10, action="permit"))
            neighbors.append(BgpNeighbor(
                address=peer_ip, afi=afi, remote_as=asn, description=f"iBGP {peer_host}", peer=peer_host,
                kind="ibgp", role="internal", link_kind="internal", route_map_in=name, route_map_out=name,
                next_hop_self=True, password=session_key(d.hostname, peer_host)))
        elif mine == lower:  # uplink: accept only the default, announce only our aggregates
            lps = rt.bgp.local_preference
            lp = {"backup": lps.backup, "dr": lps.dr}.get(link.kind, lps.primary)
            plist(f"DEFAULT-{v}", afi, [DEFAULT[af]])
            plist(f"OWN-{v}", afi, announced_up(p, site, af, d.hostname))
            # a DR line does not go to the parent: named for what it is
            up_name = "DR-LINE" if link.kind == "dr" else f"PARENT-{link.kind.upper()}"
            accept = [_new(RouteMapEntry, seq=10, action="permit", match_prefix_list=f"DEFAULT-{v}",
                           set_local_preference=lp)]
            if national_parent:  # and the ministry's whole table, preferred to the provinces' DR lines
                table = plist(f"MINISTRY-TABLE-{v}", afi, p.ministry_table(af, d.hostname))
                accept.append(_new(RouteMapEntry, seq=20, action="permit", match_prefix_list=table,
                                   set_local_preference=lp))
            rin = rmap(f"FROM-{up_name}-{v}", *accept)
            prepend = (asn,) * rt.bgp.backup_prepend if link.kind in ("backup", "dr") else ()
            rout = rmap(f"TO-{up_name}-{v}", _new(RouteMapEntry,
                seq=10, action="permit", match_prefix_list=f"OWN-{v}", set_community=(community,),
                set_as_path_prepend=prepend))
            neighbors.append(BgpNeighbor(
                address=peer_ip, afi=afi, remote_as=p.inv.asn(peer_site),
                description=f"{'DR line' if link.kind == 'dr' else link.kind + ' uplink'} {peer_host}",
                peer=peer_host, kind="ebgp", role="upstream",
                link_kind=link.kind, route_map_in=rin, route_map_out=rout,
                max_prefix=max(10, (len(p.ministry_table(af, d.hostname)) + 1) * rt.bgp.max_prefix_margin)
                if national_parent else 10,
                **_ebgp_protection(rt, d.hostname, peer_host)))
        else:  # downlink: accept exactly what the child announces, send only a default
            child = p.inv.site(link.b_site if lower == "b" else link.a_site)
            accepted = announced_up(p, child, af, peer_host)
            pl = plist(f"SITE-{child.id}-{v}", afi, accepted)
            if link.kind == "dr":  # another site's DR centre: the last resort towards it
                rin = rmap(f"FROM-DR-LINE-{child.id}-{v}", _new(RouteMapEntry, seq=10, action="permit",
                           match_prefix_list=pl, set_local_preference=rt.bgp.local_preference.dr))
            else:
                rin = rmap(f"FROM-{child.id}-{v}", _new(RouteMapEntry, seq=10, action="permit",
                                                        match_prefix_list=pl))
            plist(f"DEFAULT-{v}", afi, [DEFAULT[af]])
            if child.id == p.national_dr and link.kind != "dr":  # the ministry to its DR centre: everything
                table = plist(f"MINISTRY-TABLE-{v}", afi, p.ministry_table(af, d.hostname))
                rout = rmap(f"TO-NATIONAL-DR-{v}",
                            _new(RouteMapEntry, seq=10, action="permit", match_prefix_list=f"DEFAULT-{v}"),
                            _new(RouteMapEntry, seq=20, action="permit", match_prefix_list=table))
            else:
                rout = rmap(f"TO-CHILD-{v}", _new(RouteMapEntry, seq=10, action="permit",
                                                  match_prefix_list=f"DEFAULT-{v}"))
            neighbors.append(BgpNeighbor(
                address=peer_ip, afi=afi, remote_as=p.inv.asn(child),
                description=f"{'DR line' if link.kind == 'dr' else link.kind + ' downlink'} {peer_host}",
                peer=peer_host, kind="ebgp",
                role="downstream", link_kind=link.kind, route_map_in=rin, route_map_out=rout,
                max_prefix=max(10, len(accepted) * rt.bgp.max_prefix_margin), default_originate=True,
                **_ebgp_protection(rt, d.hostname, peer_host)))
    return neighbors


def _originated(p: PlanInput, site: Site, d: Device, interfaces: list[Interface], statics: list[StaticRoute]
                ) -> dict[int, list[str]]:
    """The prefixes the router originates per family, each site aggregate anchored by a discard route (added
    to `statics`)."""
    networks: dict[int, list[str]] = {}
    for af, _ in AFS:
        aggs = own_aggregates(p, site, af, d.hostname)
        lo = p.addr.loopback(d, af)
        # the router's own point-to-point subnets too: iBGP then carries them inside the site, so its twin
        # can answer a packet sent from a link address (a ping, a traceroute) instead of discarding the
        # reply on the site aggregate's anchor. Exports upward still permit only the aggregates.
        links = [str(ipaddress.ip_interface(a).network) for itf in interfaces if itf.kind in ("wan", "access")
                 for a in ((itf.ipv4,) if af == 4 else (itf.ipv6,)) if a]
        # one statement per prefix: an access router's aggregate can be its loopback or link prefix too
        networks[af] = list(dict.fromkeys([*aggs, lo, *links]))
        statics.extend(StaticRoute(prefix=agg, next_hop=None, description="anchor for the site aggregate")
                       for agg in aggs)
        fw = next((i for i in interfaces if i.kind == "transit"), None)
        for sv in p.services_at(site.id) if fw is not None and fw.peer else ():
            networks[af].append(sv.prefix(af))
            if sv.active == site.id:  # the gate: without this route the statement originates nothing
                via = p.addr.lan_host(site.id, "business", "transit", af, d.hostname, fw.peer)  # type: ignore[arg-type]
                statics.append(StaticRoute(prefix=sv.prefix(af), next_hop=via.split("/")[0],
                                           description=f"service address of {sv.db}: active here"))
    return networks


def session_key(a: str, b: str) -> SecretRef:
    """The TCP MD5 key of the BGP sessions between two routers: one secret per router pair, named the same
    from both ends (`bgp_<lower>_<upper>`, hostnames without the JB- prefix)."""
    lo, hi = sorted((a.removeprefix("JB-"), b.removeprefix("JB-")))
    return _new(SecretRef, name=f"bgp_{lo}_{hi}")


def _ebgp_protection(rt: RoutingDoc, host: str, peer: str) -> dict[str, object]:
    """Every eBGP session here runs over a directly connected link: keyed, GTSM one hop, and a max-prefix
    teardown that heals itself after the same time on every platform."""
    return {"password": session_key(host, peer), "ttl_security_hops": 1,
            "max_prefix_restart_minutes": rt.bgp.max_prefix_restart_minutes}


def _site_lans(p: PlanInput, site: Site, d: Device, statics: list[StaticRoute]) -> list[Interface]:
    """The firewall transit LAN of a data centre, or the LAN of an access site."""
    names = naming(d.platform)
    out: list[Interface] = []
    if site.kind == "access":
        rec4 = p.addr.subnet(site.id, "business", "lan", 4, d.hostname)
        rec6 = p.addr.subnet(site.id, "business", "lan", 6, d.hostname)
        out.append(Interface(name=names.port.format(n=p.ports.port(d.hostname, "lan")), kind="lan",
                             description=f"{site.name_en} LAN",
                             ipv4=p.addr.in_subnet(rec4, 1), ipv6=p.addr.in_subnet(rec6, 1), ipv6_ra=True))
        return out
    fw = [x for x in p.devices(site.id) if x.role == "FW"]
    if not fw:
        return out
    lan = {af: p.addr.lan_host(site.id, "business", "transit", af, d.hostname, d.hostname) for af in (4, 6)}
    out.append(Interface(name=names.port.format(n=p.ports.port(d.hostname, "transit")), kind="transit",
                         description=f"transit to {fw[0].hostname}", ipv4=lan[4], ipv6=lan[6], peer=fw[0].hostname))
    for zone in ZONES_BEHIND_FIREWALL:
        for af in (4, 6):
            z = p.addr.subnet(site.id, "business", zone, af, d.hostname)
            via = p.addr.lan_host(site.id, "business", "transit", af, d.hostname, fw[0].hostname)
            statics.append(StaticRoute(prefix=z.prefix, next_hop=via.split("/")[0],
                                       description=f"{zone} zone behind {fw[0].hostname}"))
    return out


def _transit_ibgp(p: PlanInput, site: Site, d: Device, asn: int, rmap: Callable[..., str]) -> list[BgpNeighbor]:
    """A second iBGP session between a site's routers over the firewall transit LAN: with the internal
    link down, the routers still share their downstream routes, so the site aggregate they both announce
    upward never points at a router that lost half the site (verify's redundancy rule found that)."""
    if site.kind == "access" or not any(x.role == "FW" for x in p.devices(site.id)):
        return []
    out = []
    for other in p.devices(site.id):
        if other.role != d.role or other.hostname == d.hostname:
            continue
        for af, afi in AFS:
            name = rmap(f"IBGP-V{af}", _new(RouteMapEntry, seq=10, action="permit"))
            addr = p.addr.lan_host(site.id, "business", "transit", af, d.hostname, other.hostname)
            out.append(BgpNeighbor(
                address=addr.split("/")[0], afi=afi, remote_as=asn,
                description=f"iBGP {other.hostname} over transit", peer=other.hostname, kind="ibgp",
                role="internal", link_kind="transit", route_map_in=name, route_map_out=name, next_hop_self=True,
                password=session_key(d.hostname, other.hostname)))
    return out


def _nms_hosts(p: PlanInput, site: Site) -> list[str]:
    """Management servers (NM) of this site, its province and the ministry: NTP, syslog, TACACS+."""
    cached = p._nms.get(site.id)
    if cached is None:
        cached = p._nms[site.id] = _find_nms(p, site)
    return cached


def management_servers(p: PlanInput, site: Site) -> list[str]:
    """The management addresses of the NM servers a site's devices use (the inventory plugins give the
    same list to the site's servers: plugins/hostvars.py)."""
    return list(_nms_hosts(p, site))


def _find_nms(p: PlanInput, site: Site) -> list[str]:
    chain: list[str] = []
    s: Site | None = site
    while s is not None:
        chain.append(s.id)
        s = p.inv.site(s.parent) if s.parent else None
    wanted = [chain[0]] if site.kind != "access" else []
    wanted += [c for c in chain if p.inv.site(c).tier in ("province", "municipality", "ministry")
               and p.inv.site(c).kind == "dc"]
    seen, hosts = set(), []
    for sid in wanted:
        for dev in p.devices(sid):
            if dev.role == "NM" and dev.hostname not in seen:
                seen.add(dev.hostname)
                hosts.append(p.addr.mgmt(dev, 4)[0].split("/")[0])
    return hosts


def _management(p: PlanInput, d: Device) -> Management:
    site = p.inv.site(d.site)
    m = p.routing.management
    addr, gw = p.addr.mgmt(d, 4)
    nms = _nms_hosts(p, site)
    return Management(
        # a platform whose hardware fixes the management port in a VRF of its own uses that name (IOS-XE)
        vrf=platform_facts(d.platform).mgmt_vrf or m.vrf, interface=naming(d.platform).mgmt, address=addr, gateway=gw,
        ntp_servers=tuple(nms[-2:]), syslog_hosts=tuple(nms[:2]), acl_name="JB-MGMT",
        acl_v4=(_new(AclEntry, seq=10, action="permit", source=p.mgmt_pools[4]),),
        acl_v6=(_new(AclEntry, seq=10, action="permit", source=p.mgmt_pools[6]),),
        banner=m.banner, domain=m.domain)


def site_location(site: Site) -> str:
    """A device's SNMP sysLocation: the site's names (the compliance checks expect exactly this)."""
    return f"{site.name_zh} / {site.name_en}"


def _snmp(p: PlanInput, site: Site) -> Snmp:
    m = p.routing.management
    nms = _nms_hosts(p, site)
    return Snmp(user=m.snmp_user, auth_protocol=m.snmp_auth, priv_protocol=m.snmp_priv,  # type: ignore[arg-type]
                auth_key=_new(SecretRef, name="snmp_auth"), priv_key=_new(SecretRef, name="snmp_priv"),
                location=site_location(site), contact="jinbao NOC", trap_hosts=tuple(nms[:1]),
                acl="JB-MGMT")


def _aaa(p: PlanInput, d: Device) -> Aaa:
    nms = _nms_hosts(p, p.inv.site(d.site))
    return Aaa(local_user=p.routing.management.local_user, local_password=_new(SecretRef, name="local_admin"),
               tacacs_servers=tuple(nms[-1:]), tacacs_key=_new(SecretRef, name="tacacs_key"))


def firewall_intent(p: PlanInput, d: Device) -> DeviceIntent:
    """A data centre's firewall: on the transit LAN towards the WAN routers, the gateway of each business
    zone behind it, a default route to the first WAN router. Until the zone policy exists it forwards
    between zones (its nftables ruleset is not part of this intent)."""
    site = p.inv.site(d.site)
    names = naming(d.platform)
    wrs = [x for x in p.devices(site.id) if x.role == "WR"]
    lo = {af: p.addr.loopback(d, af) for af in (4, 6)}
    interfaces = [Interface(name=names.loopback, kind="loopback", description=f"{d.hostname} loopback",
                            ipv4=lo[4], ipv6=lo[6])]
    t = {af: p.addr.lan_host(site.id, "business", "transit", af, d.hostname, d.hostname) for af in (4, 6)}
    interfaces.append(Interface(name=names.port.format(n=1), kind="transit",
                                description=f"transit to {', '.join(w.hostname for w in wrs)}",
                                ipv4=t[4], ipv6=t[6]))
    for n, zone in enumerate(ZONES_BEHIND_FIREWALL, start=2):
        gw = {af: p.addr.lan_host(site.id, "business", zone, af, d.hostname) for af in (4, 6)}
        interfaces.append(Interface(name=names.port.format(n=n), kind="lan", description=f"{zone} zone gateway",
                                    ipv4=gw[4], ipv6=gw[6], link_kind=zone))
    statics = [StaticRoute(prefix=DEFAULT[af], description=f"to {wrs[0].hostname}", next_hop=p.addr.lan_host(
        site.id, "business", "transit", af, d.hostname, wrs[0].hostname).split("/")[0]) for af in (4, 6)] if wrs else []
    for sv in p.services_at(site.id):
        if sv.active != site.id:  # elsewhere its default route takes a local client to the WAN, to the active site
            continue
        for af in (4, 6):
            db = p.addr.lan_host(site.id, "business", "production", af, d.hostname, sv.db_at(site.id))
            statics.append(StaticRoute(prefix=sv.prefix(af), next_hop=db.split("/")[0],
                                       description=f"service address of {sv.db} on {sv.db_at(site.id)}"))
    statics.append(StaticRoute(prefix=DEFAULT[6], next_hop=p.addr.mgmt(d, 6)[1], vrf=p.routing.management.vrf,
                               description="out-of-band management"))
    return DeviceIntent(
        hostname=d.hostname, site=d.site, role=d.role, platform=d.platform, tier=tier_key(site),
        asn=p.inv.asn(site), loopback_v4=lo[4], loopback_v6=lo[6], interfaces=(*interfaces, Interface(
            name=names.mgmt, kind="mgmt", description="out-of-band management", ipv4=_management(p, d).address,
            ipv6=p.addr.mgmt(d, 6)[0], vrf=p.routing.management.vrf)),
        static_routes=tuple(statics), snmp=_snmp(p, site), aaa=_aaa(p, d), management=_management(p, d),
        tags={"site_name_en": site.name_en, "site_name_zh": site.name_zh, "province": site.province})


def build_firewall_intents(p: PlanInput, hosts: set[str] | None = None) -> dict[str, DeviceIntent]:
    """Intents for the firewalls whose platform jinbao renders (linux_nftables)."""
    return {d.hostname: firewall_intent(p, d) for d in p.inv.devices
            if d.role == "FW" and d.platform == "linux_nftables" and (hosts is None or d.hostname in hosts)}


def build_intents(p: PlanInput, hosts: set[str] | None = None, platform: str | None = None,
                  ) -> dict[str, DeviceIntent]:
    """Intents for every router (WAN and access routers), or only those named in `hosts`.

    `platform` plans the routers as if they ran that platform (interface names, syntax): for comparing
    vendors, or for the lab, whose routers are FRR whatever the real network runs."""
    out = {}
    for d in p.inv.devices:
        if d.is_router and (hosts is None or d.hostname in hosts):
            if (platform or d.platform) not in ROUTER_PLATFORMS:
                raise JinbaoError(f"{d.hostname}: unknown router platform {platform or d.platform!r}"
                                  f" (known: {', '.join(sorted(ROUTER_PLATFORMS))})")
            out[d.hostname] = router_intent(p, replace(d, platform=platform) if platform else d)
    return out
