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
"""

from __future__ import annotations

import ipaddress
from typing import ClassVar

from aerleon.lib import aclgenerator, plugin

STEP = 5


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
        sub["action"] = {"accept", "deny"}
        return tokens, sub

    def _TranslatePolicy(self, pol, exp_info: int) -> None:
        self.acls: list[tuple[str, int, str, list[str]]] = []
        for header, terms in pol.filters:
            opts = header.FilterOptions(self._PLATFORM)
            if not opts or len(opts) > 2 or (len(opts) == 2 and opts[1] not in self._AF):
                raise Error(f"{self._PLATFORM} header must be 'NAME [inet|inet6]', got {' '.join(opts or [])!r}")
            name, af = opts[0], self._AF[opts[1] if len(opts) == 2 else "inet"]
            comment = " ".join(header.comment)[:127]
            lines: list[str] = []
            n = 0
            for term in terms:
                for line in self._term_lines(term, af):
                    n += STEP
                    lines.append(f" rule {n} {line}")
                    lines.append(f" rule {n} {self._NAME_KEYWORD} {term.name}")
            self.acls.append((name, af, comment, lines))

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
        out += ["#", ""]
        return "\n".join(out)


class HuaweiVRP(_VendorACL):
    _PLATFORM = "huawei"
    SUFFIX = ".vrp"
    _ACL_HEAD: ClassVar[dict[int, str]] = {4: "acl name {name} advance", 6: "acl ipv6 name {name} advance"}
    _NAME_KEYWORD = "description"


class H3CComware(_VendorACL):
    _PLATFORM = "h3c"
    SUFFIX = ".comware"
    _ACL_HEAD: ClassVar[dict[int, str]] = {4: "acl advanced name {name}", 6: "acl ipv6 advanced name {name}"}
    _NAME_KEYWORD = "comment"


class AerleonPlugin(plugin.BasePlugin):
    """Entry point object named in pyproject.toml under [project.entry-points."aerleon.plugin"]."""

    def __init__(self) -> None:
        pass

    def RequestMetadata(self, _platformMetadata: plugin.SystemMetadata) -> plugin.PluginMetadata:
        return plugin.PluginMetadata(capabilities={plugin.PluginCapability.GENERATOR})

    @property
    def generators(self) -> dict[str, type[aclgenerator.ACLGenerator]]:
        return {"huawei": HuaweiVRP, "h3c": H3CComware}
