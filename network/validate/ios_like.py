"""Structural checks of rendered Huawei VRP, H3C Comware and Cisco IOS configurations.

All three are indentation-structured CLIs: a small indentation parser (`_Tree`, the same parent/child
reading ciscoconfparse2 does with `syntax="ios"`, about 20 times faster, so `render` can check every
config it writes) builds the blocks; the VRP and Comware dialects only differ in that `#` separates
sections (treated as a comment delimiter, like `!`). Banner bodies are removed before parsing: their
free text is not configuration (a banner saying "telnet is not allowed" must not trip the telnet rule,
and its lines would otherwise parse as commands).

Rules (each finding is (rule, message); an empty list means clean):
- bgp-inbound-filter   every BGP neighbour has an inbound route-map/route-policy, and it is defined;
- bgp-bfd              every eBGP (WAN) neighbour has BFD; IOS also needs `bfd interval` on the
                       interface facing a single-hop peer, VRP needs BFD enabled globally;
- bgp-max-prefix       every eBGP neighbour has a maximum-prefix / route-limit;
- no-telnet            no telnet server or telnet vty transport; SSH server configured;
- snmp-v3-only         no community strings, no v1/v2c, SNMPv3 groups at privacy (authPriv) level only;
- and the session-protection / management-plane rules of network/validate/hardening.py.

FRR configs get the same structural rules (dialect "frr") on top of FRR's own parser (validate/frr.py).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache

from core.findings import Finding
from network.validate.findings import finding
from network.validate.hardening import check_hardening


class _Line:
    __slots__ = ("children", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.children: list[_Line] = []

    @property
    def all_children(self) -> list[_Line]:
        out: list[_Line] = []
        for c in self.children:
            out.append(c)
            out += c.all_children
        return out


class _Tree:
    """Lines of an indentation-structured config; a line's children are the more-indented lines below it."""

    def __init__(self, lines: list[str], comments: tuple[str, ...]) -> None:
        self.objs: list[_Line] = []
        stack: list[tuple[int, _Line]] = []
        for raw in lines:
            stripped = raw.strip()
            if not stripped or stripped.startswith(comments):
                continue
            indent = len(raw) - len(raw.lstrip(" "))
            obj = _Line(raw.rstrip())
            while stack and stack[-1][0] >= indent:
                stack.pop()
            if stack:
                stack[-1][1].children.append(obj)
            stack.append((indent, obj))
            self.objs.append(obj)

    def find_objects(self, rx: str) -> list[_Line]:
        pattern = re.compile(rx)
        return [o for o in self.objs if pattern.search(o.text)]



_rx = lru_cache(maxsize=None)(re.compile)  # the same few patterns, every config


@dataclass(frozen=True)
class _Dialect:
    comments: tuple[str, ...]
    bgp: str  # top-level BGP process, group 1 = local AS
    neighbor: str  # group 1 = address, group 2 = remote AS
    inbound: str  # group 1 = address, group 2 = policy name
    policy_def: str  # group 1 = policy name
    bfd: str  # group 1 = address
    max_prefix: str  # group 1 = address
    telnet_on: tuple[str, ...]  # any line matching enables telnet
    ssh_on: tuple[str, ...]  # all must be present
    snmp_bad: tuple[tuple[str, str], ...]  # (regex, why)
    snmp_group: str  # SNMPv3 group lines; must contain snmp_priv
    snmp_priv: str


# Huawei VRP and H3C Comware share the snmp-agent syntax (Comware descends from VRP).
_SNMP_AGENT: dict = dict(
    snmp_bad=(
        (r"^snmp-agent community ", "SNMP community string"),
        (r"^snmp-agent sys-info version .*\b(v1|v2c|all)\b", "SNMP v1/v2c enabled"),
        (r"^snmp-agent target-host .* (?:v1|v2c)\b", "SNMP v1/v2c notification host"),
    ),
    snmp_group=r"^snmp-agent group v3 ",
    snmp_priv=r" privacy\b",
)
_DIALECTS: dict[str, _Dialect] = {
    "cisco_ios": _Dialect(
        comments=("!",),
        bgp=r"^router bgp (\d+)",
        neighbor=r"^\s*neighbor (\S+) remote-as (\d+)",
        inbound=r"^\s*neighbor (\S+) route-map (\S+) in\s*$",
        policy_def=r"^route-map (\S+) (?:permit|deny)",
        bfd=r"^\s*neighbor (\S+) fall-over bfd",
        max_prefix=r"^\s*neighbor (\S+) maximum-prefix \d+",
        telnet_on=(r"^\s*transport input .*\b(telnet|all)\b",),
        ssh_on=(r"^ip ssh version 2", r"^\s*transport input ssh\s*$"),
        snmp_bad=(
            (r"^snmp-server community ", "SNMP community string"),
            (r"^snmp-server host .*\bversion (?:1|2c)\b", "SNMP v1/v2c notification host"),
            # No `version` keyword means v1 with a community string in that position.
            (r"^snmp-server host \S+ (?:vrf \S+ )?(?:informs |traps )?(?!(?:version|vrf|informs|traps)\b)\S+",
             "SNMP v1 notification host"),
        ),
        snmp_group=r"^snmp-server group \S+ v3 ",
        snmp_priv=r" v3 priv\b",
    ),
    "huawei_vrp": _Dialect(
        comments=("#", "!"),
        bgp=r"^bgp (\d+)",
        neighbor=r"^\s*peer (\S+) as-number (\d+)",
        inbound=r"^\s*peer (\S+) route-policy (\S+) import",
        policy_def=r"^route-policy (\S+) (?:permit|deny) node",
        bfd=r"^\s*peer (\S+) bfd enable",
        max_prefix=r"^\s*peer (\S+) route-limit \d+",
        telnet_on=(r"^(?:telnet|telnet ipv6) server enable", r"^\s*protocol inbound (?:telnet|all)"),
        ssh_on=(r"^stelnet server enable", r"^\s*protocol inbound ssh\s*$"),
        **_SNMP_AGENT,
    ),
    "h3c_comware": _Dialect(
        comments=("#",),
        bgp=r"^bgp (\d+)",
        neighbor=r"^\s*peer (\S+) as-number (\d+)",
        inbound=r"^\s*peer (\S+) route-policy (\S+) import",
        policy_def=r"^route-policy (\S+) (?:permit|deny) node",
        bfd=r"^\s*peer (\S+) bfd(?:\s|$)",
        max_prefix=r"^\s*peer (\S+) route-limit \d+",
        telnet_on=(r"^telnet server enable", r"^\s*protocol inbound (?:telnet|all)"),
        ssh_on=(r"^ssh server enable", r"^\s*protocol inbound ssh\s*$"),
        **_SNMP_AGENT,
    ),
}

_DIALECTS["frr"] = _Dialect(
    comments=("!",),
    bgp=r"^router bgp (\d+)",
    neighbor=r"^\s*neighbor (\S+) remote-as (\d+)",
    inbound=r"^\s*neighbor (\S+) route-map (\S+) in\s*$",
    policy_def=r"^route-map (\S+) (?:permit|deny)",
    bfd=r"^\s*neighbor (\S+) bfd$",
    max_prefix=r"^\s*neighbor (\S+) maximum-prefix \d+",
    telnet_on=(), ssh_on=(),  # FRR has no telnet/SSH/SNMP server of its own: Linux services do that
    snmp_bad=(), snmp_group=r"^(?!)", snmp_priv=r"",
)
_DIALECTS["linux_nftables"] = _DIALECTS["frr"]

SUPPORTED = tuple(sorted(_DIALECTS))

# Banner bodies: IOS `banner <kind> <d> ... <d>` (^C or any char), VRP `header <kind> information "..."`,
# Comware `header <kind> <d>...<d>`.
_BANNERS = (
    re.compile(r"^banner \S+ (\^C|\S)(?:.*?)\1", re.S | re.M),
    re.compile(r'^header \S+ information "[^"]*"', re.S | re.M),
    re.compile(r"^header \S+ (\S)(?:.*?)\1", re.S | re.M),
)


def _strip_banners(text: str) -> str:
    for rx in _BANNERS:
        text = rx.sub(lambda m: m.group(0).split("\n", 1)[0].split(" ", 2)[0] + " <banner>", text)
    return text


def _lines_under(obj: object) -> list[str]:
    return [obj.text, *(c.text for c in obj.all_children)]  # type: ignore[attr-defined]


def validate_ios_like(text: str, platform: str) -> list[Finding]:
    """Structural findings for a Huawei VRP / H3C Comware / Cisco IOS configuration."""
    dialect = _DIALECTS.get(platform)
    if dialect is None:
        raise ValueError(f"validate_ios_like: unsupported platform {platform!r} (supported: {SUPPORTED})")
    cleaned = _strip_banners(text)
    parse = _Tree(cleaned.splitlines(), dialect.comments)
    lines = [o.text for o in parse.objs]
    findings: list[Finding] = []
    sessions: dict[str, bool] = {}
    findings += _check_bgp(parse, lines, dialect, platform, sessions)
    findings += _check_telnet(lines, dialect)
    findings += _check_snmp(lines, dialect)
    findings += check_hardening(platform, parse.objs, sorted(a for a, e in sessions.items() if e),  # type: ignore[arg-type]
                                sorted(sessions), text)
    return findings


def _check_bgp(parse: _Tree, lines: list[str], d: _Dialect, platform: str,
               sessions: dict[str, bool]) -> list[Finding]:
    """BGP rules; fills `sessions` (neighbour -> eBGP or not) for the hardening rules."""
    out: list[Finding] = []
    procs = parse.find_objects(d.bgp)
    if not procs:
        return out
    defined = {m.group(1) for line in lines if (m := _rx(d.policy_def).match(line))}
    for proc in procs:
        local_as = _rx(d.bgp).match(proc.text).group(1)  # type: ignore[union-attr]
        block = _lines_under(proc)
        remote: dict[str, str] = {}
        inbound: dict[str, str] = {}
        bfd: set[str] = set()
        maxp: set[str] = set()
        for line in block:
            if m := _rx(d.neighbor).match(line):
                remote[m.group(1)] = m.group(2)
            if m := _rx(d.inbound).match(line):
                inbound[m.group(1)] = m.group(2)
            if m := _rx(d.bfd).match(line):
                bfd.add(m.group(1))
            if m := _rx(d.max_prefix).match(line):
                maxp.add(m.group(1))
        for addr, ras in sorted(remote.items()):
            ebgp = ras != local_as
            sessions[addr] = ebgp
            if addr not in inbound:
                out.append(finding("bgp-inbound-filter", f"neighbour {addr} has no inbound route-map/route-policy"))
            elif inbound[addr] not in defined:
                out.append(finding("bgp-inbound-filter",
                                   f"neighbour {addr} inbound policy {inbound[addr]} is not defined"))
            if ebgp and addr not in bfd:
                out.append(finding("bgp-bfd", f"eBGP neighbour {addr} has no BFD"))
            if ebgp and addr not in maxp:
                out.append(finding("bgp-max-prefix", f"eBGP neighbour {addr} has no maximum-prefix limit"))
        if platform == "huawei_vrp" and bfd and not any(line == "bfd" for line in lines):
            out.append(finding("bgp-bfd", "peers use BFD but BFD is not enabled globally (`bfd`)"))
        if platform == "cisco_ios":
            out += _check_ios_bfd_interfaces(parse, sorted(a for a in bfd if a in remote))
    return out


def _check_ios_bfd_interfaces(parse: _Tree, peers: list[str]) -> list[Finding]:
    """IOS single-hop BFD needs `bfd interval` on the interface whose subnet holds the peer."""
    out: list[Finding] = []
    nets: list[tuple[str, ipaddress.IPv4Network | ipaddress.IPv6Network, bool]] = []
    for intf in parse.find_objects(r"^interface "):
        has_bfd = any(c.text.strip().startswith("bfd interval ") for c in intf.children)
        for c in intf.children:
            t = c.text.strip()
            if m := re.match(r"ip address (\S+) (\S+)$", t):
                nets.append((intf.text, ipaddress.ip_network(f"{m.group(1)}/{m.group(2)}", strict=False), has_bfd))
            elif m := re.match(r"ipv6 address (\S+/\d+)", t):
                nets.append((intf.text, ipaddress.ip_network(m.group(1), strict=False), has_bfd))
    for peer in peers:
        ip = ipaddress.ip_address(peer)
        for name, net, has_bfd in nets:
            if ip.version == net.version and ip in net and net.prefixlen < net.max_prefixlen:
                if not has_bfd:
                    out.append(finding("bgp-bfd", f"{name} faces BFD peer {peer} but has no `bfd interval`"))
                break
    return out


def _check_telnet(lines: list[str], d: _Dialect) -> list[Finding]:
    out = [finding("no-telnet", f"telnet enabled: {line.strip()}")
           for line in lines if any(_rx(rx).match(line) for rx in d.telnet_on)]
    for rx in d.ssh_on:
        if not any(_rx(rx).match(line) for line in lines):
            out.append(finding("no-telnet", f"SSH-only access not configured (missing /{rx}/)"))
    return out


def _check_snmp(lines: list[str], d: _Dialect) -> list[Finding]:
    out: list[Finding] = []
    for line in lines:
        if not line.startswith("snmp"):
            continue
        for rx, why in d.snmp_bad:
            if _rx(rx).match(line):
                # Never echo the line: a community string is a secret.
                out.append(finding("snmp-v3-only", f"{why} configured ({line.split()[0]} {line.split()[1]} ...)"))
        if _rx(d.snmp_group).match(line) and not _rx(d.snmp_priv).search(line):
            out.append(finding("snmp-v3-only", f"SNMPv3 group below authPriv: {line.strip()}"))
    return out
