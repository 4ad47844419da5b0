"""Build the vendor-neutral *view* a template renders: everything sorted, filtered, resolved and
cross-checked here, once, in Python, so the four platform templates only spell syntax.

What happens here and not in templates:
- ordering (loopbacks first, natural interface order, neighbours by role then address, entries by seq);
- address maths (masks, wildcards, which interface/local address faces each neighbour);
- BFD decisions (single-hop vs multi-hop, which interfaces need timers);
- cross-reference checks (route-map/prefix-list/community-list names, BFD profile present);
- secrets resolved to their platform form (see credentials.py).
"""

from __future__ import annotations

import ipaddress
import re

from network.intent_model import DeviceIntent, Interface, RouteMapEntry
from network.render.addrmath import iface_addr, natural_key, one_line, parse_ip, parse_ipnet, prefix_net, tz_offset
from network.render.credentials import CiscoHashType, CredentialResolver, Credentials
from network.render.errors import RenderError
from network.render.platforms import PlatformSpec
from network.render.view_types import (
    AaaView,
    AclEntryView,
    Addr,
    AfView,
    BfdView,
    BgpView,
    CommunityListView,
    DeviceView,
    IfView,
    MgmtView,
    NeighborView,
    Net,
    PrefixEntryView,
    PrefixListView,
    RouteMapEntryView,
    RouteMapView,
    SnmpView,
    StaticView,
)
from network.secrets import SecretError, SecretSource

# Names the plan does not carry but every platform needs; fixed by convention (docs/templates.md).
SNMP_GROUP = "JB-NMS"
SNMP_VIEW = "JB-ALL"
TACACS_GROUP = "JB-TACACS"
BFD_MULTIHOP_TEMPLATE = "JB-BFD-MH"
MAX_PREFIX_WARN_PCT = 80  # warn at 80 % of the limit, tear down at 100 %
BANNER_FORBIDDEN = set('"%^')  # banner delimiters on VRP ("), Comware (%) and IOS (^C)


class _Builder:
    def __init__(self, intent: DeviceIntent, spec: PlatformSpec, creds: Credentials) -> None:
        self.it = intent
        self.spec = spec
        self.creds = creds
        self.host = intent.hostname

    def fail(self, field: str, detail: str) -> RenderError:
        return RenderError(self.host, detail, field)

    def addr(self, cidr: str, field: str) -> Addr:
        try:
            return iface_addr(cidr)
        except ValueError as exc:
            raise self.fail(field, f"bad address {cidr!r}: {exc}") from None

    def net(self, prefix: str, field: str) -> Net:
        try:
            return prefix_net(prefix)
        except ValueError as exc:
            raise self.fail(field, f"bad prefix {prefix!r}: {exc}") from None

    # --- interfaces -----------------------------------------------------------------------

    def interfaces(self, bfd_ifaces: set[str]) -> tuple[IfView, ...]:
        it = self.it
        mg = it.management
        views: list[IfView] = []
        names: set[str] = set()
        for i, ifc in enumerate(it.interfaces):
            if ifc.name in names:
                raise self.fail(f"interfaces[{i}].name", f"duplicate interface {ifc.name}")
            names.add(ifc.name)
            views.append(self._if_view(ifc, i, bfd_ifaces))
        if mg.interface not in names:
            # The plan may describe the management port only in `management`; it still needs rendering.
            views.append(self._if_view(
                Interface(name=mg.interface, kind="mgmt", description="management", ipv4=mg.address,
                          vrf=mg.vrf), -1, bfd_ifaces))
        order = {"loopback": 0, "mgmt": 1}
        views.sort(key=lambda v: (order.get(v.kind, 2), natural_key(v.name)))
        return tuple(views)

    def _if_view(self, ifc: Interface, i: int, bfd_ifaces: set[str]) -> IfView:
        mg = self.it.management
        is_mgmt = ifc.kind == "mgmt" or ifc.name == mg.interface
        vrf = ifc.vrf or (mg.vrf if is_mgmt else None)
        return IfView(
            name=ifc.name,
            kind=ifc.kind,
            description=one_line(ifc.description),
            v4=self.addr(ifc.ipv4, f"interfaces[{i}].ipv4") if ifc.ipv4 else None,
            v6=self.addr(ifc.ipv6, f"interfaces[{i}].ipv6") if ifc.ipv6 else None,
            vrf=vrf,
            bfd=(ifc.bfd or ifc.name in bfd_ifaces) and ifc.kind != "loopback",
            is_loopback=ifc.kind == "loopback",
            is_mgmt=is_mgmt,
            ipv6_ra=ifc.ipv6_ra and ifc.ipv6 is not None,
        )

    # --- routing policy -------------------------------------------------------------------

    def prefix_lists(self) -> tuple[PrefixListView, ...]:
        out = []
        for i, pl in enumerate(sorted(self.it.prefix_lists, key=lambda p: p.name)):
            entries = []
            for e in sorted(pl.entries, key=lambda e: e.seq):
                net = self.net(e.prefix, f"prefix_lists[{pl.name}].entries[{e.seq}].prefix")
                if net.afi != pl.afi:
                    raise self.fail(f"prefix_lists[{i}]", f"{pl.name} is {pl.afi} but has {e.prefix}")
                entries.append(PrefixEntryView(e.seq, e.action, net, e.ge, e.le))
            out.append(PrefixListView(pl.name, pl.afi, tuple(entries)))
        return tuple(out)

    def route_maps(self, pls: dict[str, PrefixListView], cls: set[str]) -> tuple[RouteMapView, ...]:
        out = []
        for rm in sorted(self.it.route_maps, key=lambda r: r.name):
            out.append(RouteMapView(rm.name, tuple(
                self._rm_entry(rm.name, e, pls, cls) for e in sorted(rm.entries, key=lambda e: e.seq))))
        return tuple(out)

    def _rm_entry(self, rm: str, e: RouteMapEntry, pls: dict[str, PrefixListView], cls: set[str]
                  ) -> RouteMapEntryView:
        afi = None
        if e.match_prefix_list is not None:
            if e.match_prefix_list not in pls:
                raise self.fail(f"route_maps[{rm}].entries[{e.seq}].match_prefix_list",
                                f"prefix list {e.match_prefix_list!r} is not defined")
            afi = pls[e.match_prefix_list].afi
        if e.match_community_list is not None and e.match_community_list not in cls:
            raise self.fail(f"route_maps[{rm}].entries[{e.seq}].match_community_list",
                            f"community list {e.match_community_list!r} is not defined")
        return RouteMapEntryView(e.seq, e.action, e.match_prefix_list, afi, e.match_community_list,
                                 e.set_local_preference, e.set_med, tuple(e.set_as_path_prepend),
                                 tuple(e.set_community))

    def statics(self) -> tuple[StaticView, ...]:
        out = []
        for i, sr in enumerate(self.it.static_routes):
            net = self.net(sr.prefix, f"static_routes[{i}].prefix")
            desc = one_line(sr.description)
            out.append(StaticView(net.afi, net, sr.next_hop, sr.next_hop is None, sr.vrf, desc,
                                  re.sub(r"[^A-Za-z0-9_.-]", "_", desc)[:60]))
        mg = self.it.management
        if mg.gateway:
            net = prefix_net("0.0.0.0/0" if ":" not in mg.gateway else "::/0")
            out.append(StaticView(net.afi, net, mg.gateway, False, mg.vrf, "management default", "MGMT-DEFAULT"))
        # Global table first, then by VRF; inside each: IPv4 first, then address order.
        out.sort(key=lambda s: (s.vrf or "", s.afi, parse_ipnet(s.net.cidr)))
        return tuple(out)

    # --- BGP ------------------------------------------------------------------------------

    def bgp(self, ifaces: tuple[IfView, ...], rms: set[str]) -> BgpView | None:
        b = self.it.bgp
        if b is None:
            return None
        by_name = {i.name: i for i in ifaces}
        # Connected subnets per family, computed once per device (not once per neighbour).
        connected: dict[str, list[tuple[str, ipaddress.IPv4Network | ipaddress.IPv6Network, str]]] = {
            "ipv4": [], "ipv6": []}
        for ifv in ifaces:
            if ifv.is_loopback:
                continue
            for a in (ifv.v4, ifv.v6):
                if a is not None:
                    connected[a.afi].append((ifv.name, parse_ipnet(f"{a.network}/{a.plen}"), a.ip))
        role_order = {"upstream": 0, "downstream": 1, "internal": 2}
        neighbors: list[NeighborView] = []
        seen: set[str] = set()
        for n in b.neighbors:
            f = f"bgp.neighbors[{n.address}]"
            if n.address in seen:
                raise self.fail(f, "duplicate neighbour")
            seen.add(n.address)
            try:
                peer_ip = parse_ip(n.address)
            except ValueError:
                raise self.fail(f + ".address", f"bad address {n.address!r}") from None
            if ("ipv4" if peer_ip.version == 4 else "ipv6") != n.afi:
                raise self.fail(f + ".afi", f"{n.address} is not {n.afi}")
            for attr in ("route_map_in", "route_map_out"):
                name = getattr(n, attr)
                if name is not None and name not in rms:
                    raise self.fail(f"{f}.{attr}", f"route map {name!r} is not defined")
            local_if, local_addr, multihop = self._session_source(
                peer_ip, n.afi, n.update_source, by_name, connected[n.afi], f)
            if multihop and n.kind == "ebgp":
                # No ebgp-multihop in the model: an eBGP peer must be on a connected subnet.
                raise self.fail(f + ".address", "eBGP neighbour is not on a connected subnet")
            if n.ttl_security_hops is not None and multihop:
                raise self.fail(f + ".ttl_security_hops", "GTSM one hop on a session that is not directly connected")
            neighbors.append(NeighborView(
                address=str(peer_ip), afi=n.afi, remote_as=n.remote_as, description=one_line(n.description),
                peer=n.peer, kind=n.kind, role=n.role, link_kind=n.link_kind, update_source=n.update_source,
                local_address=local_addr, local_interface=local_if, bfd=n.bfd, bfd_multihop=multihop,
                route_map_in=n.route_map_in, route_map_out=n.route_map_out, max_prefix=n.max_prefix,
                next_hop_self=n.next_hop_self, default_originate=n.default_originate,
                password=self.creds.bgp_passwords.get(n.address), ttl_security_hops=n.ttl_security_hops,
                max_prefix_restart=n.max_prefix_restart_minutes if n.max_prefix else None,
            ))
        neighbors.sort(key=lambda v: (v.afi, role_order.get(v.role, 9), parse_ip(v.address)))
        afs = []
        for afi, prefixes in (("ipv4", b.networks_v4), ("ipv6", b.networks_v6)):
            nets = tuple(self.net(p, f"bgp.networks_{afi[-2:]}") for p in prefixes)
            for p, nt in zip(prefixes, nets, strict=True):
                if nt.afi != afi:
                    raise self.fail(f"bgp.networks_{afi[-2:]}", f"{p} is not {afi}")
            nbs = tuple(v for v in neighbors if v.afi == afi)
            if nets or nbs:
                afs.append(AfView(afi, nets, nbs))
        return BgpView(b.asn, b.router_id, b.timers.keepalive, b.timers.hold, tuple(neighbors), tuple(afs))

    def _session_source(self, peer: ipaddress.IPv4Address | ipaddress.IPv6Address, afi: str,
                        update_source: str | None, by_name: dict[str, IfView],
                        subnets: list[tuple[str, ipaddress.IPv4Network | ipaddress.IPv6Network, str]],
                        field: str) -> tuple[str, str, bool]:
        """(interface, local address, multihop) for a session."""
        connected = next(((name, ip) for name, net, ip in subnets if peer in net), None)
        if update_source is not None:
            src = by_name.get(update_source)
            if src is None:
                raise self.fail(field + ".update_source", f"interface {update_source!r} does not exist")
            a = src.v4 if afi == "ipv4" else src.v6
            if a is None:
                raise self.fail(field + ".update_source", f"{update_source} has no {afi} address")
            # Sourced from a loopback (or any interface not facing the peer): BFD must be multi-hop.
            return src.name, a.ip, connected is None or connected[0] != src.name
        if connected is None:
            raise self.fail(field + ".address", "no interface on the neighbour's subnet and no update_source")
        return connected[0], connected[1], False

    # --- management -----------------------------------------------------------------------

    def mgmt(self) -> MgmtView:
        mg = self.it.management
        bad = BANNER_FORBIDDEN & set(mg.banner)
        if bad:
            raise self.fail("management.banner", f"contains {''.join(sorted(bad))!r}, a banner delimiter")
        acl = tuple(AclEntryView(e.seq, e.action, self.net(e.source, f"management.acl_v4[{e.seq}]"))
                    for e in sorted(mg.acl_v4, key=lambda e: e.seq))
        if not acl:
            raise self.fail("management.acl_v4", "empty: the management plane would be open to everyone")
        acl6 = tuple(AclEntryView(e.seq, e.action, self.net(e.source, f"management.acl_v6[{e.seq}]"))
                     for e in sorted(mg.acl_v6, key=lambda e: e.seq))
        if any(a.net.afi != "ipv6" for a in acl6) or any(a.net.afi != "ipv4" for a in acl):
            raise self.fail("management.acl_v6", "IPv4 and IPv6 entries mixed up")
        if not acl6 and any(i.ipv6 for i in self.it.interfaces):
            # every port with an IPv6 address would otherwise accept SSH/SNMP from anyone over IPv6
            raise self.fail("management.acl_v6", "empty while the device has IPv6 addresses")
        try:
            tz = tz_offset(mg.timezone)
        except (KeyError, ValueError):
            raise self.fail("management.timezone", f"unknown zone {mg.timezone!r}") from None
        lines = tuple(line.rstrip() for line in mg.banner.strip("\n").splitlines())
        return MgmtView(mg.vrf, mg.interface, self.addr(mg.address, "management.address"), mg.gateway,
                        tuple(mg.ntp_servers), tuple(mg.syslog_hosts), mg.acl_name, acl, acl6, mg.ssh_only, lines,
                        mg.domain, *tz)

    def snmp(self) -> SnmpView:
        s = self.it.snmp
        acl = s.acl or self.it.management.acl_name
        if acl != self.it.management.acl_name:
            raise self.fail("snmp.acl", f"{acl!r} is not the management ACL {self.it.management.acl_name!r}")
        if self.spec.snmp_key == "localized" and s.priv_protocol == "AES-256" and s.auth_protocol != "SHA-256":
            # A SHA-1 localised key is 20 bytes; AES-256 needs 32 and vendors extend keys differently.
            raise self.fail("snmp.priv_protocol", "AES-256 needs auth SHA-256 for localised keys")
        c = self.creds
        return SnmpView(s.user, SNMP_GROUP, SNMP_VIEW, s.auth_protocol, s.priv_protocol, c.snmp_auth_key,
                        c.snmp_priv_key, c.snmp_engine_id, one_line(s.location), one_line(s.contact),
                        tuple(s.trap_hosts), acl)


def build_view(intent: DeviceIntent, spec: PlatformSpec, secrets: SecretSource,
               cisco_hash: CiscoHashType = 9) -> DeviceView:
    """Everything a template needs for `intent`, or a RenderError naming the device and the field."""
    host = getattr(intent, "hostname", "<no hostname>")
    try:
        creds = CredentialResolver(intent, spec, secrets, cisco_hash).resolve()
        b = _Builder(intent, spec, creds)
        it = intent
        if it.bgp is not None and any(n.bfd for n in it.bgp.neighbors) and it.bfd_profile is None:
            raise b.fail("bfd_profile", "BGP neighbours have BFD enabled but no BFD profile is set")
        # First pass without BFD marks, to find which interface faces each BFD neighbour.
        plain_ifs = b.interfaces(set())
        pls = b.prefix_lists()
        pl_by_name = {p.name: p for p in pls}
        cls = tuple(CommunityListView(c.name, tuple(c.communities))
                    for c in sorted(it.community_lists, key=lambda c: c.name))
        rms = b.route_maps(pl_by_name, {c.name for c in cls})
        bgp = b.bgp(plain_ifs, {r.name for r in rms})
        bfd_peers = tuple(n for n in bgp.neighbors if n.bfd) if bgp else ()
        single_hop_ifs = {n.local_interface for n in bfd_peers if not n.bfd_multihop}
        ifaces = b.interfaces(single_hop_ifs) if single_hop_ifs else plain_ifs
        bfd = None
        if it.bfd_profile is not None:
            p = it.bfd_profile
            bfd = BfdView(p.name, p.min_rx_ms, p.min_tx_ms, p.multiplier, bfd_peers,
                          any(n.bfd_multihop for n in bfd_peers), BFD_MULTIHOP_TEMPLATE)
        mgmt = b.mgmt()
        statics = b.statics()
        vrfs = tuple(sorted({i.vrf for i in ifaces if i.vrf} | {mgmt.vrf} | {s.vrf for s in statics if s.vrf}))
        aaa = AaaView(it.aaa.local_user, creds.login_password, tuple(it.aaa.tacacs_servers),
                      creds.tacacs_key, TACACS_GROUP)
        header = (
            f"{it.hostname} ({spec.name}) role {it.role} tier {it.tier} site {it.site} AS {it.asn}",
            "Rendered by jinbao from the device intent: change the plan, not this file.",
        )
        return DeviceView(
            hostname=it.hostname, platform=spec.name, role=it.role, site=it.site, tier=it.tier, asn=it.asn,
            loopback_v4=it.loopback_v4, loopback_v6=it.loopback_v6, interfaces=ifaces, vrfs=vrfs,
            static_routes=statics, global_static_routes=tuple(s for s in statics if not s.vrf),
            vrf_static_routes={v: tuple(s for s in statics if s.vrf == v) for v in vrfs},
            prefix_lists=pls, community_lists=cls, route_maps=rms, bgp=bgp,
            bfd=bfd, mgmt=mgmt, snmp=b.snmp(), aaa=aaa, header=header,
        )
    except SecretError as exc:
        raise RenderError(host, str(exc).removeprefix(f"device {host}: ")) from exc
    except AttributeError as exc:
        # Intents built without validation (model_construct, hand-made objects) can lack a field.
        name = getattr(exc, "name", None) or str(exc)
        raise RenderError(host, "missing in the intent", name) from exc
