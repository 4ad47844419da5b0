"""Structural checks of rendered Huawei VRP, H3C Comware and Cisco IOS configurations.

All three are indentation-structured CLIs, so ciscoconfparse2 parses them with `syntax="ios"`; the VRP
and Comware dialects only differ in that `#` separates sections (treated as a comment delimiter, like
`!`). Banner bodies are removed before parsing: their free text is not configuration (a banner saying
"telnet is not allowed" must not trip the telnet rule, and its lines would otherwise parse as commands).

Rules (each finding is (rule, detail); an empty list means clean):
- bgp-inbound-filter   every BGP neighbour has an inbound route-map/route-policy, and it is defined;
- bgp-bfd              every eBGP (WAN) neighbour has BFD; IOS also needs `bfd interval` on the
                       interface facing a single-hop peer, VRP needs BFD enabled globally;
- bgp-max-prefix       every eBGP neighbour has a maximum-prefix / route-limit;
- no-telnet            no telnet server or telnet vty transport; SSH server configured;
- snmp-v3-only         no community strings, no v1/v2c, SNMPv3 groups at privacy (authPriv) level only.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import NamedTuple

from ciscoconfparse2 import CiscoConfParse


class Finding(NamedTuple):
    rule: str
    detail: str


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
    parse = CiscoConfParse(cleaned.splitlines(), syntax="ios", comment_delimiters=list(dialect.comments),
                           loguru=False)
    lines = [o.text for o in parse.objs]
    findings: list[Finding] = []
    findings += _check_bgp(parse, lines, dialect, platform)
    findings += _check_telnet(lines, dialect)
    findings += _check_snmp(lines, dialect)
    return findings


def _check_bgp(parse: CiscoConfParse, lines: list[str], d: _Dialect, platform: str) -> list[Finding]:
    out: list[Finding] = []
    procs = parse.find_objects(d.bgp)
    if not procs:
        return out
    defined = {m.group(1) for line in lines if (m := re.match(d.policy_def, line))}
    for proc in procs:
        local_as = re.match(d.bgp, proc.text).group(1)  # type: ignore[union-attr]
        block = _lines_under(proc)
        remote: dict[str, str] = {}
        inbound: dict[str, str] = {}
        bfd: set[str] = set()
        maxp: set[str] = set()
        for line in block:
            if m := re.match(d.neighbor, line):
                remote[m.group(1)] = m.group(2)
            if m := re.match(d.inbound, line):
                inbound[m.group(1)] = m.group(2)
            if m := re.match(d.bfd, line):
                bfd.add(m.group(1))
            if m := re.match(d.max_prefix, line):
                maxp.add(m.group(1))
        for addr, ras in sorted(remote.items()):
            ebgp = ras != local_as
            if addr not in inbound:
                out.append(Finding("bgp-inbound-filter", f"neighbour {addr} has no inbound route-map/route-policy"))
            elif inbound[addr] not in defined:
                out.append(Finding("bgp-inbound-filter",
                                   f"neighbour {addr} inbound policy {inbound[addr]} is not defined"))
            if ebgp and addr not in bfd:
                out.append(Finding("bgp-bfd", f"eBGP neighbour {addr} has no BFD"))
            if ebgp and addr not in maxp:
                out.append(Finding("bgp-max-prefix", f"eBGP neighbour {addr} has no maximum-prefix limit"))
        if platform == "huawei_vrp" and bfd and not any(line == "bfd" for line in lines):
            out.append(Finding("bgp-bfd", "peers use BFD but BFD is not enabled globally (`bfd`)"))
        if platform == "cisco_ios":
            out += _check_ios_bfd_interfaces(parse, sorted(a for a in bfd if a in remote))
    return out


def _check_ios_bfd_interfaces(parse: CiscoConfParse, peers: list[str]) -> list[Finding]:
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
                    out.append(Finding("bgp-bfd", f"{name} faces BFD peer {peer} but has no `bfd interval`"))
                break
    return out


def _check_telnet(lines: list[str], d: _Dialect) -> list[Finding]:
    out = [Finding("no-telnet", f"telnet enabled: {line.strip()}")
           for line in lines if any(re.match(rx, line) for rx in d.telnet_on)]
    for rx in d.ssh_on:
        if not any(re.match(rx, line) for line in lines):
            out.append(Finding("no-telnet", f"SSH-only access not configured (missing /{rx}/)"))
    return out


def _check_snmp(lines: list[str], d: _Dialect) -> list[Finding]:
    out: list[Finding] = []
    for line in lines:
        for rx, why in d.snmp_bad:
            if re.match(rx, line):
                # Never echo the line: a community string is a secret.
                out.append(Finding("snmp-v3-only", f"{why} configured ({line.split()[0]} {line.split()[1]} ...)"))
        if re.match(d.snmp_group, line) and not re.search(d.snmp_priv, line):
            out.append(Finding("snmp-v3-only", f"SNMPv3 group below authPriv: {line.strip()}"))
    return out
