"""Huawei VRP and H3C Comware ACL generators, shipped as an Aerleon plugin.

Aerleon has no generator for either (requested upstream since 2023); third-party generators plug in through
the `aerleon.plugin` entry point, which pyproject.toml registers as
`jinbao = "network.policy.vendor:AerleonPlugin"`. The same Aerleon policy that drives the nftables and
Cisco generators drives these.

Output, per filter (header `huawei: NAME inet|inet6`, `h3c: NAME inet|inet6`), one advanced ACL whose rules
are numbered in steps of 5 (room to insert by hand in an emergency) and each named by its term:

    VRP:      acl name NAME advance | acl ipv6 name NAME advance
               rule 5 permit tcp source 10.26.0.0 0.0.0.255 destination 10.26.1.0 0.0.0.255 destination-port eq 5432
               rule 5 description TERM
    Comware:  acl advanced name NAME | acl ipv6 advanced name NAME
               rule 5 permit tcp source ... destination ... destination-port eq 5432
               rule 5 comment TERM

Terms that name a `source-zone` and `destination-zone` (and the interfaces of those zones) also get the
platform's zone-based policy, after the ACLs, rule for rule the same as the ACL (same names, addresses,
ports, actions; parse.py reads both back and checks they agree); a term without zones (the default deny)
closes it:

    VRP:      firewall zone untrust | firewall zone name Z (set priority N) + add interface IF
              security-policy
               rule name TERM
                source-zone A / destination-zone B / source-address 10.26.0.0 mask 255.255.255.0 /
                destination-address fd4a:1000:100:1:: 64 / service protocol tcp destination-port 5432 /
                action permit
    Comware:  security-zone name Untrust | Z + import interface IF
              object-group ip address TOKEN / object-group ipv6 address TOKEN6 / object-group service TCP-5432
              object-policy ip|ipv6 JB-A-B(6)   rule 5 pass source-ip G destination-ip G service G / rule 5 comment TERM
              zone-pair security source A destination B   object-policy apply ip|ipv6 JB-A-B(6)
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import ClassVar

from aerleon.lib import aclgenerator, plugin

STEP = 5
PRIORITY_TOP = 60  # VRP zone priorities of jinbao's zones count down from here (trust 85, dmz 50, untrust 5)
BUILTIN = {"huawei": {"untrust": "untrust"}, "h3c": {"untrust": "Untrust"}}  # the platforms' own WAN-side zone


@dataclass
class _ZoneTerm:
    """One term as the zone policy sees it: zones, and per family its address objects and ports."""

    name: str
    action: str  # permit | deny
    src_zone: str | None
    dst_zone: str | None
    protocol: str | None
    ports: list[tuple[int, int]]
    src: dict[int, list[tuple[str, ipaddress.IPv4Network | ipaddress.IPv6Network]]] = field(default_factory=dict)
    dst: dict[int, list[tuple[str, ipaddress.IPv4Network | ipaddress.IPv6Network]]] = field(default_factory=dict)


class Error(aclgenerator.Error):
    """A term this generator cannot express."""


def _wild(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    if net.version == 6:
        return f"{net.network_address}/{net.prefixlen}"
    if net.prefixlen == 32:
        return f"{net.network_address} 0"
    return f"{net.network_address} {net.hostmask}"


def _ports(ports: list[tuple[int, int]]) -> list[str]:
    return [f"eq {lo}" if lo == hi else f"range {lo} {hi}" for lo, hi in ports] or [""]


class _VendorACL(aclgenerator.ACLGenerator):
    _ACL_HEAD: ClassVar[dict[int, str]] = {}
    _NAME_KEYWORD = ""
    _AF: ClassVar[dict[str, int]] = {"inet": 4, "inet6": 6}

    def _BuildTokens(self) -> tuple[set[str], dict[str, set[str]]]:
        tokens, sub = super()._BuildTokens()
        tokens |= {"counter"}  # counted on the device by `statistics enable`; nothing to render per rule
        tokens |= {"source_zone", "destination_zone", "source_interface", "destination_interface"}
        sub["action"] = {"accept", "deny"}
        return tokens, sub

    def _TranslatePolicy(self, pol, exp_info: int) -> None:
        self.acls: list[tuple[str, int, str, list[str]]] = []
        self.zone_terms: dict[str, _ZoneTerm] = {}  # by term name, both families merged, in term order
        self.zone_ifs: dict[str, list[str]] = {}
        for header, terms in pol.filters:
            opts = header.FilterOptions(self._PLATFORM)
            if not opts or len(opts) > 2 or (len(opts) == 2 and opts[1] not in self._AF):
                raise Error(f"{self._PLATFORM} header must be 'NAME [inet|inet6]', got {' '.join(opts or [])!r}")
            name, af = opts[0], self._AF[opts[1] if len(opts) == 2 else "inet"]
            comment = " ".join(header.comment)[:127]
            lines: list[str] = []
            n = 0
            for term in terms:
                self._zone_term(term, af)
                for line in self._term_lines(term, af):
                    n += STEP
                    lines.append(f" rule {n} {line}")
                    lines.append(f" rule {n} {self._NAME_KEYWORD} {term.name}")
            self.acls.append((name, af, comment, lines))

    def _zone_term(self, term, af: int) -> None:
        # one source and one destination zone, or a source zone alone (to any zone: a DR service address, which
        # is behind the production port or out of the WAN side depending on where its database runs)
        if (term.destination_zone and not term.source_zone) or len(term.source_zone) > 1 or len(
                term.destination_zone) > 1:
            raise Error(f"term {term.name}: a zone policy term names one source and at most one destination zone")
        if term.source_port:
            raise Error(f"term {term.name}: source ports are not supported")
        zt = self.zone_terms.setdefault(term.name, _ZoneTerm(
            term.name, {"accept": "permit", "deny": "deny"}[term.action[0]],
            term.source_zone[0] if term.source_zone else None,
            term.destination_zone[0] if term.destination_zone else None,
            term.protocol[0] if term.protocol else None, list(term.destination_port)))
        if len(term.protocol) > 1:
            raise Error(f"term {term.name}: a zone policy term has one protocol")
        for zone, itf in ((zt.src_zone, term.source_interface), (zt.dst_zone, term.destination_interface)):
            if zone is not None and itf and itf not in self.zone_ifs.setdefault(zone, []):
                self.zone_ifs[zone].append(itf)
        for side, attr in ((zt.src, "source_address"), (zt.dst, "destination_address")):
            side[af] = [(a.token, ipaddress.ip_network(str(a))) for a in term.GetAddressOfVersion(attr, af)]

    def _term_lines(self, term, af: int) -> list[str]:
        action = {"accept": "permit", "deny": "deny"}[term.action[0]]
        srcs = [ipaddress.ip_network(str(a)) for a in term.GetAddressOfVersion("source_address", af)]
        dsts = [ipaddress.ip_network(str(a)) for a in term.GetAddressOfVersion("destination_address", af)]
        # A term whose addresses are all of the other family matches nothing in this family: no line.
        if (term.source_address and not srcs) or (term.destination_address and not dsts):
            return []
        protos = term.protocol or ["ip" if af == 4 else "ipv6"]
        if term.source_port:
            raise Error(f"term {term.name}: source ports are not supported")
        out = []
        for proto in protos:
            if proto not in ("tcp", "udp", "ip", "ipv6") and not proto.isdigit():
                raise Error(f"term {term.name}: protocol {proto!r} is not supported")
            ports = _ports(term.destination_port) if proto in ("tcp", "udp") else [""]
            for s in srcs or [None]:
                for d in dsts or [None]:
                    for p in ports:
                        parts = [action, proto]
                        if s is not None:
                            parts += ["source", _wild(s)]
                        if d is not None:
                            parts += ["destination", _wild(d)]
                        if p:
                            parts += ["destination-port", p]
                        out.append(" ".join(parts))
        return out

    def __str__(self) -> str:
        out = []
        for name, af, comment, lines in self.acls:
            out += ["#", self._ACL_HEAD[af].format(name=name)]
            if comment:
                out.append(f" description {comment}")
            out += lines
        if any(t.src_zone for t in self.zone_terms.values()):
            out += self._zone_policy()
        out += ["#", ""]
        return "\n".join(out)

    def _zones(self) -> list[str]:
        """Zones in order of first use: the platform's built-in WAN-side zone, then jinbao's own."""
        seen = [z for t in self.zone_terms.values() for z in (t.src_zone, t.dst_zone) if z]
        return list(dict.fromkeys(seen))

    def _zone_policy(self) -> list[str]:
        raise NotImplementedError


def _vrp_addr(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    if net.version == 4:
        return f"{net.network_address} mask {net.netmask}"
    return f"{net.network_address} {net.prefixlen}"


class HuaweiVRP(_VendorACL):
    _PLATFORM = "huawei"
    SUFFIX = ".vrp"
    _ACL_HEAD: ClassVar[dict[int, str]] = {4: "acl name {name} advance", 6: "acl ipv6 name {name} advance"}
    _NAME_KEYWORD = "description"

    def _zone_policy(self) -> list[str]:
        out: list[str] = []
        builtin = BUILTIN["huawei"]
        priority = PRIORITY_TOP
        for z in self._zones():
            if z in builtin:
                out += ["#", f"firewall zone {builtin[z]}"]
            else:
                out += ["#", f"firewall zone name {z}", f" set priority {priority}"]
                priority -= 1
            out += [f" add interface {i}" for i in self.zone_ifs.get(z, [])]
        out += ["#", "security-policy"]
        for t in self.zone_terms.values():
            out.append(f" rule name {t.name}")
            if t.src_zone:
                out.append(f"  source-zone {builtin.get(t.src_zone, t.src_zone)}")
            if t.dst_zone:
                out.append(f"  destination-zone {builtin.get(t.dst_zone, t.dst_zone)}")
            for kw, side in (("source-address", t.src), ("destination-address", t.dst)):
                out += [f"  {kw} {_vrp_addr(n)}" for af in (4, 6) for _, n in side.get(af, [])]
            if t.protocol in ("tcp", "udp"):
                out += [f"  service protocol {t.protocol} destination-port {lo}" + (f" to {hi}" if hi != lo else "")
                        for lo, hi in t.ports] or [f"  service protocol {t.protocol}"]
            elif t.protocol:
                out.append(f"  service protocol {t.protocol}")
            out.append(f"  action {t.action}")
        return out


class H3CComware(_VendorACL):
    _PLATFORM = "h3c"
    SUFFIX = ".comware"
    _ACL_HEAD: ClassVar[dict[int, str]] = {4: "acl advanced name {name}", 6: "acl ipv6 advanced name {name}"}
    _NAME_KEYWORD = "comment"

    def _zone_policy(self) -> list[str]:
        builtin = BUILTIN["h3c"]
        out: list[str] = []
        for z in self._zones():
            out += ["#", f"security-zone name {builtin.get(z, z)}"]
            out += [f" import interface {i}" for i in self.zone_ifs.get(z, [])]
        groups: dict[tuple[int, str], list[ipaddress.IPv4Network | ipaddress.IPv6Network]] = {}
        services: dict[str, str] = {}
        for t in self.zone_terms.values():
            for af in (4, 6):
                for token, net in t.src.get(af, []) + t.dst.get(af, []):
                    nets = groups.setdefault((af, token), [])
                    if net not in nets:
                        nets.append(net)
            if t.protocol in ("tcp", "udp"):
                for lo, hi in t.ports:
                    services.setdefault(_svc_name(t.protocol, lo, hi), f"service {t.protocol} destination " + (
                        f"eq {lo}" if lo == hi else f"range {lo} {hi}"))
        for (af, token), nets in sorted(groups.items(), key=lambda kv: kv[0][0]):  # IPv4 groups first
            out += ["#", f"object-group {'ip' if af == 4 else 'ipv6'} address {token}{'' if af == 4 else '6'}"]
            out += [f" network subnet {n.network_address} {n.netmask if af == 4 else n.prefixlen}" for n in nets]
        for name, line in services.items():
            out += ["#", f"object-group service {name}", f" {line}"]
        zones = self._zones()
        # a term from a zone to any zone belongs to every pair from that zone (Comware pairs name both zones)
        pairs = list(dict.fromkeys(p for t in self.zone_terms.values() if t.src_zone for p in (
            [(t.src_zone, t.dst_zone)] if t.dst_zone else [(t.src_zone, z) for z in zones if z != t.src_zone])))
        closing = [t for t in self.zone_terms.values() if not t.src_zone]  # the default deny: ends every policy
        for a, b in pairs:
            for af in (4, 6):
                out += ["#", f"object-policy {'ip' if af == 4 else 'ipv6'} {_policy_name(a, b, af)}"]
                n = 0
                for t in [t for t in self.zone_terms.values()
                          if t.src_zone == a and t.dst_zone in (b, None)] + closing:
                    for line in _object_rules(t, af):
                        n += STEP
                        out += [f" rule {n} {line}", f" rule {n} comment {t.name}"]
        for a, b in pairs:
            out += ["#", f"zone-pair security source {builtin.get(a, a)} destination {builtin.get(b, b)}",
                    f" object-policy apply ip {_policy_name(a, b, 4)}",
                    f" object-policy apply ipv6 {_policy_name(a, b, 6)}"]
        return out


def _svc_name(proto: str, lo: int, hi: int) -> str:
    return f"{proto.upper()}-{lo}" + (f"-{hi}" if hi != lo else "")


def _policy_name(a: str, b: str, af: int) -> str:
    return f"JB-{a}-{b}" + ("6" if af == 6 else "")


def _object_rules(t: _ZoneTerm, af: int) -> list[str]:
    """A term as object-policy rules of one family: one per source group x destination group x port range."""
    action = "pass" if t.action == "permit" else "drop"
    sfx = "" if af == 4 else "6"
    srcs = list(dict.fromkeys(tok for tok, _ in t.src.get(af, [])))
    dsts = list(dict.fromkeys(tok for tok, _ in t.dst.get(af, [])))
    if (any(t.src.values()) and not srcs) or (any(t.dst.values()) and not dsts):
        return []  # addresses only of the other family: nothing in this one
    if t.protocol not in (None, "tcp", "udp"):
        raise Error(f"term {t.name}: protocol {t.protocol!r} is not supported in a Comware object-policy")
    svcs = [_svc_name(t.protocol, lo, hi) for lo, hi in t.ports] if t.protocol else [None]
    out = []
    for s in srcs or [None]:
        for d in dsts or [None]:
            for v in svcs or [None]:
                parts = [action]
                if s:
                    parts += ["source-ip", s + sfx]
                if d:
                    parts += ["destination-ip", d + sfx]
                if v:
                    parts += ["service", v]
                out.append(" ".join(parts))
    return out


class AerleonPlugin(plugin.BasePlugin):
    """Entry point object named in pyproject.toml under [project.entry-points."aerleon.plugin"]."""

    def __init__(self) -> None:
        pass

    def RequestMetadata(self, _platformMetadata: plugin.SystemMetadata) -> plugin.PluginMetadata:
        return plugin.PluginMetadata(capabilities={plugin.PluginCapability.GENERATOR})

    @property
    def generators(self) -> dict[str, type[aclgenerator.ACLGenerator]]:
        return {"huawei": HuaweiVRP, "h3c": H3CComware}
