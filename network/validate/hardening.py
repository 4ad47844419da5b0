"""Structural rules for what a senior engineer checks before a push (issue 9), per platform dialect.

Each rule reads the parsed config (see ios_like._Tree) and returns findings; an empty list means clean.
The rules hold for every rendered config, so a template change that drops one of these fixes fails
`render` (which validates everything it writes) and the tests, not a review:

- bgp-session-key       every eBGP neighbour has a TCP MD5 key (IOS/XE as a type 6 value, never type 7);
                        with bgp-gtsm: `session_protection()`, which `jinbao check config` uses too;
- bgp-gtsm              every eBGP neighbour (all directly connected here) has GTSM, one hop;
- bgp-max-prefix-restart every max-prefix limit comes back on its own (restart / idle-timeout / reconnect);
- bgp-duplicate-network no `network` statement repeated inside an address family;
- mgmt-acl-v6           a device with IPv6 addresses filters SSH, SNMP and the vty lines over IPv6 too;
- console-login         VRP/Comware: the local emergency account may log in on the console (`terminal`);
- command-accounting    with TACACS+ configured, every command is accounted (audit of administrators);
- ipv6-ra               router advertisements only on user LANs: never towards a BGP peer or in a VRF, and
                        an access router's user LAN sends them (SLAAC hosts need a gateway);
- vrp-vpn-instance      VRP: every vpn-instance has ipv4- and ipv6-family, each with a route distinguisher;
- vrp-comment           VRP: comments start with `#` (VRP reads `!` as a command);
- ios-mgmt-vrf          IOS-XE: GigabitEthernet0 sits in VRF Mgmt-intf (fixed by the hardware);
- ios-ssh-key           IOS: an RSA host key of at least 2048 bits is generated and named for SSH;
- ios-type6             IOS: no type 7 keys, and `password encryption aes` so type 6 keys are accepted;
- ios-banner-delimiter  IOS: a banner's delimiter is one character (`^C` typed as two makes `^` the delimiter);
- ios-snmp-aes-key      IOS: an AES-128 privacy key is 16 bytes;
- ios-archive           IOS: the configuration archive exists (configure replace with a revert timer needs it).
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from core.findings import Finding
from network.validate.findings import finding


class _Obj(Protocol):
    text: str

    @property
    def children(self) -> list[_Obj]: ...


_rx = lru_cache(maxsize=None)(re.compile)  # the same few patterns, every config


@dataclass(frozen=True)
class Hardening:
    password: str  # group 1 = neighbour with a key
    gtsm: str  # group 1 = neighbour with GTSM one hop
    max_prefix: str  # group 1 = neighbour, whole line is searched for restart_kw
    restart_kw: str
    acl6: tuple[str, ...]  # all required when the device has IPv6 addresses
    tacacs: str  # TACACS+ configured
    accounting: tuple[str, ...]  # all required when TACACS+ is configured
    console: str | None  # local account allowed on the console
    ra_default_on: bool  # interfaces with IPv6 send RAs unless told otherwise
    ra_toggle: str  # an interface child line that flips the default
    ipv6_addr: str = r"^\s*ipv6 address (\S+)"
    in_vrf: str = r"^\s*(?:vrf forwarding|ip binding vpn-instance) \S+"
    hostname: str = r"^(?:sysname|hostname) (\S+)"


_VRP_COMWARE_PEER = r"^\s*peer (\S+) "
HARDENING: dict[str, Hardening] = {
    "huawei_vrp": Hardening(
        password=_VRP_COMWARE_PEER + r"password cipher \S+", gtsm=_VRP_COMWARE_PEER + r"valid-ttl-hops 1$",
        max_prefix=_VRP_COMWARE_PEER + r"route-limit \d+", restart_kw=r" idle-timeout \d+",
        acl6=(r"^acl ipv6 number \d+", r"^ssh ipv6 server acl \d+", r"^\s+acl ipv6 \d+ inbound",
              r"^snmp-agent acl ipv6 \d+"),
        tacacs=r"^hwtacacs-server template ", accounting=(r"^\s+cmd recording-scheme \S+",
                                                           r"^\s+recording-mode hwtacacs \S+"),
        console=r"^\s*local-user \S+ service-type .*\bterminal\b", ra_default_on=False,
        ra_toggle=r"^\s*undo ipv6 nd ra halt$"),
    "h3c_comware": Hardening(
        password=_VRP_COMWARE_PEER + r"password cipher \S+", gtsm=_VRP_COMWARE_PEER + r"ttl-security hops 1$",
        max_prefix=_VRP_COMWARE_PEER + r"route-limit \d+", restart_kw=r" reconnect \d+",
        acl6=(r"^acl ipv6 basic \d+", r"^ssh server ipv6 acl ipv6 \d+", r"^snmp-agent group v3 .* acl ipv6 \d+"),
        tacacs=r"^hwtacacs scheme ", accounting=(r"^\s+accounting command hwtacacs-scheme \S+",
                                                 r"^\s+command accounting$"),
        console=r"^\s*service-type .*\bterminal\b", ra_default_on=False, ra_toggle=r"^\s*undo ipv6 nd ra halt$"),
    "cisco_ios": Hardening(
        password=r"^\s*neighbor (\S+) password 6 \S+", gtsm=r"^\s*neighbor (\S+) ttl-security hops 1$",
        max_prefix=r"^\s*neighbor (\S+) maximum-prefix \d+", restart_kw=r" restart \d+",
        acl6=(r"^ipv6 access-list \S+", r"^\s+ipv6 access-class \S+ in", r"^snmp-server group .* access ipv6 \S+"),
        tacacs=r"^tacacs server ", accounting=(r"^aaa accounting commands 15 default start-stop group \S+",),
        console=None, ra_default_on=True, ra_toggle=r"^\s*ipv6 nd ra suppress all$"),
    "frr": Hardening(
        password=r"^\s*neighbor (\S+) password \S+", gtsm=r"^\s*neighbor (\S+) ttl-security hops 1$",
        max_prefix=r"^\s*neighbor (\S+) maximum-prefix \d+", restart_kw=r" restart \d+",
        acl6=(r"^ipv6 access-list \S+", r"^\s+ipv6 access-class \S+"),
        tacacs=r"^(?!)", accounting=(), console=None,  # FRR: AAA belongs to Linux (PAM), not frr.conf
        ra_default_on=False, ra_toggle=r"^\s*no ipv6 nd suppress-ra$"),
}
HARDENING["linux_nftables"] = HARDENING["frr"]


def check_hardening(platform: str, objs: list[_Obj], ebgp: list[str], peers: list[str], raw: str) -> list[Finding]:
    """All rules for one config. `ebgp`: its eBGP neighbour addresses; `peers`: every BGP neighbour."""
    h = HARDENING.get(platform)
    if h is None:
        return []
    lines = [o.text for o in objs]
    out: list[Finding] = []
    out += _sessions(platform, h, lines, ebgp)
    out += _duplicate_networks(objs)
    has_v6 = any(_rx(h.ipv6_addr).match(ln) for ln in lines)
    if has_v6:
        out += [finding("mgmt-acl-v6", f"IPv6 addresses configured but management is not filtered over IPv6"
                                       f" (missing /{rx}/)") for rx in h.acl6 if not _any(rx, lines)]
    if h.console is not None and not _any(h.console, lines):
        out.append(finding("console-login", "the local account cannot log in on the console (service-type "
                                            "terminal missing): a TACACS+ outage locks everyone out"))
    if _any(h.tacacs, lines):
        out += [finding("command-accounting", f"TACACS+ configured but commands are not accounted (missing /{rx}/)")
                for rx in h.accounting if not _any(rx, lines)]
    out += _router_advertisements(h, objs, peers)
    extra = {"huawei_vrp": _vrp, "cisco_ios": _ios}.get(platform)
    if extra is not None:
        out += extra(objs, raw)
    return out


def _any(rx: str, lines: list[str]) -> bool:
    pattern = re.compile(rx)
    return any(pattern.search(ln) for ln in lines)


SESSION_PROTECTION_RULES = ("bgp-session-key", "bgp-gtsm")


def session_protection(platform: str, lines: Iterable[str], ebgp: Iterable[str]) -> list[Finding]:
    """eBGP session protection: a TCP MD5 key AND GTSM one hop on every eBGP neighbour. The one definition:
    the render validators and the compliance check (checks/config_rules.py) both call this."""
    h = HARDENING.get(platform)
    if h is None:
        raise ValueError(f"no session-protection rule for platform {platform!r}")
    lines = [ln for ln in lines if "peer " in ln or "neighbor " in ln]
    keyed = {m.group(1) for ln in lines if (m := _rx(h.password).match(ln))}
    gtsm = {m.group(1) for ln in lines if (m := _rx(h.gtsm).match(ln))}
    out: list[Finding] = []
    for addr in ebgp:
        if addr not in keyed:
            out.append(finding("bgp-session-key", f"eBGP neighbour {addr} has no session key (TCP MD5)"))
        if addr not in gtsm:
            out.append(finding("bgp-gtsm", f"eBGP neighbour {addr} has no GTSM (ttl-security one hop)"))
    return out


def _sessions(platform: str, h: Hardening, lines: list[str], ebgp: list[str]) -> list[Finding]:
    lines = [ln for ln in lines if "peer " in ln or "neighbor " in ln]
    out = session_protection(platform, lines, ebgp)
    for ln in lines:
        if (m := _rx(h.max_prefix).match(ln)) and not _rx(h.restart_kw).search(ln):
            kw = h.restart_kw.split()[0]
            out.append(finding("bgp-max-prefix-restart", f"neighbour {m.group(1)}: max-prefix teardown never heals"
                                                         f" (no {kw})"))
    return out


def _duplicate_networks(objs: list[_Obj]) -> list[Finding]:
    out: list[Finding] = []
    for o in objs:
        seen: set[str] = set()
        for c in o.children:
            t = c.text.strip()
            if t.startswith("network "):
                if t in seen:
                    out.append(finding("bgp-duplicate-network", f"repeated under '{o.text.strip()}': {t}"))
                seen.add(t)
    return out


def _router_advertisements(h: Hardening, objs: list[_Obj], peers: list[str]) -> list[Finding]:
    peer_ips = [ip for p in peers if (ip := _ip_or_none(p)) is not None]
    host = next((m.group(1) for o in objs if (m := _rx(h.hostname).match(o.text))), "")
    access_router = re.search(r"-AS\d{3}-AR\d\d$", host) is not None
    out: list[Finding] = []
    for o in objs:
        if not o.text.startswith("interface "):
            continue
        kids = [c.text for c in o.children]
        v6 = [m.group(1) for k in kids if (m := _rx(h.ipv6_addr).match(k))]
        name = o.text.split(None, 1)[1]
        if not v6 or name.lower().startswith(("loopback", "lo")):
            continue
        toggled = any(_rx(h.ra_toggle).match(k) for k in kids)
        sends = h.ra_default_on != toggled
        faces_peer = any(ip in ipaddress.ip_interface(a).network for a in v6 if "/" in a for ip in peer_ips
                         if ip.version == 6)
        in_vrf = any(_rx(h.in_vrf).match(k) for k in kids)
        if sends and (faces_peer or in_vrf):
            out.append(finding("ipv6-ra", f"{name} sends router advertisements towards a "
                                          f"{'BGP peer' if faces_peer else 'VRF'} (RAs belong on user LANs only)"))
        elif access_router and not sends and not faces_peer and not in_vrf:
            out.append(finding("ipv6-ra", f"{name} is the access site's user LAN but sends no router "
                                          "advertisements: SLAAC hosts get no IPv6 gateway"))
    return out


def _ip_or_none(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(text)
    return None  # an interface name (BGP unnumbered)


def _vrp(objs: list[_Obj], raw: str) -> list[Finding]:
    out: list[Finding] = []
    bangs = [n for n, ln in enumerate(raw.splitlines(), 1) if ln.startswith("!")]
    if bangs:
        out.append(finding("vrp-comment", f"line {bangs[0]} starts with '!': VRP comments start with '#'"))
    for o in objs:
        if not o.text.startswith("ip vpn-instance "):
            continue
        fams = {c.text.strip(): [g.text.strip() for g in c.children] for c in o.children}
        for fam in ("ipv4-family", "ipv6-family"):
            if fam not in fams:
                out.append(finding("vrp-vpn-instance", f"{o.text.strip()} has no {fam}"))
            elif not any(t.startswith("route-distinguisher ") for t in fams[fam]):
                out.append(finding("vrp-vpn-instance", f"{o.text.strip()} {fam} has no route-distinguisher"))
    return out


def _ios(objs: list[_Obj], raw: str) -> list[Finding]:
    out: list[Finding] = []
    lines = [o.text for o in objs]
    for o in objs:
        if o.text.strip() == "interface GigabitEthernet0":
            vrfs = [c.text.split()[-1] for c in o.children if c.text.strip().startswith("vrf forwarding ")]
            if vrfs != ["Mgmt-intf"]:
                out.append(finding("ios-mgmt-vrf", f"GigabitEthernet0 is in VRF {vrfs or 'global'}, not Mgmt-intf"))
    if not re.search(r"^crypto key generate rsa .*\bmodulus (2048|3072|4096)\b", raw, re.M) or \
            not _any(r"^ip ssh rsa keypair-name \S+", lines):
        out.append(finding("ios-ssh-key", "no RSA host key (2048 bits or more) for SSH: the SSH-only vty lines "
                                          "would leave no way in"))
    if _any(r"\b(?:key|password) 7 \S+", lines):
        out.append(finding("ios-type6", "a type 7 (reversible) key is configured: use type 6"))
    if _any(r"\b(?:key|password) 6 \S+", lines) and not _any(r"^password encryption aes$", lines):
        out.append(finding("ios-type6", "type 6 keys without `password encryption aes`"))
    for m in re.finditer(r"^banner (\S+) (\S+)\s*$", raw, re.M):
        if len(m.group(2)) != 1:
            out.append(finding("ios-banner-delimiter", f"banner {m.group(1)} delimiter {m.group(2)!r} is not one"
                                                       " character"))
    if not any(o.text == "archive" and any(c.text.strip().startswith("path ") for c in o.children) for o in objs):
        out.append(finding("ios-archive", "no `archive` path: deploy's configure replace revert timer needs it"))
    for m in re.finditer(r"^snmp-server user .* priv aes 128 ([0-9A-Fa-f:]+)", raw, re.M):
        n = len(m.group(1).replace(":", "")) // 2
        if n != 16:
            out.append(finding("ios-snmp-aes-key", f"AES-128 privacy key is {n} bytes, not 16"))
    return out
