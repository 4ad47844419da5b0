"""A device's running configuration, as an audit reads it (`jinbao policy verify --config`, Cisco, VRP,
Comware): the whole configuration goes in, so nothing the project renders can be left out by a filter that
was too narrow.

What is kept for the parsers (parse.py): the ACLs of the plan's names (`JB-ZONE-POLICY`, `JB-ZONE-POLICY6`)
and, on VRP/Comware, the zone-policy sections. What is read here: the interface sections' filter bindings
(Cisco `ip access-group N in`, `ipv6 traffic-filter N in`; VRP `traffic-filter inbound acl name N`,
`traffic-filter inbound ipv6 acl name N` or, on V8, `traffic-filter ipv6 inbound acl name N`; Comware
`packet-filter [ipv6] name N inbound [hardware-count]`), and which interfaces are shut down (their bindings
filter nothing). Everything else (other ACLs, routing, AAA, ...) is blanked, line numbers kept, so findings
still name the device's lines. VRP shows a named ACL with the number it assigned (`acl name N 3999`): kept in
the form the parsers read (`acl name N advance`). An ACL header that names a plan ACL in a form the parsers do
not read is an error, never skipped."""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.errors import JinbaoError
from network.policy.compile import FILTER
from network.policy.parse import _ZONE_SECTION

ACL_NAMES = {4: FILTER, 6: f"{FILTER}6"}  # the filters the plan renders (compile.aerleon_policy)

_HEADER = {
    "cisco": re.compile(r"(?:(ip) access-list (?:extended )?|(ipv6) access-list )(\S+)$"),
    # VRP: `advance`, or the number it gave the named ACL (3000-3999: advanced); Comware: `advanced name N`
    "vendor": re.compile(r"acl (?:(ipv6) )?(?:name (\S+) (?:advance|3\d{3})|advanced name (\S+))$"),
}
# headers that could name a plan ACL; a numbered Cisco entry (`access-list 10 remark ...`) is a line of its
# own numbered ACL, never the plan's named one
_ANY_ACL = {"cisco": re.compile(r"(ip |ipv6 )?access-list (?!\d+ )"), "vendor": re.compile(r"acl\b")}
_BINDING = {
    "cisco": re.compile(r"(ip) access-group (\S+) (in|out)$|(ipv6) traffic-filter (\S+) (in|out)$"),
    "huawei": re.compile(r"traffic-filter (?:(ipv6) (inbound|outbound) acl|(inbound|outbound) "
                         r"(?:(ipv6) acl|acl (ipv6)|acl)) name (\S+)$"),
    "h3c": re.compile(r"packet-filter (?:(ipv6) )?name (\S+) (inbound|outbound)(?: hardware-count)?$"),
}


@dataclass(frozen=True, slots=True)
class Binding:
    lineno: int
    interface: str
    af: int
    acl: str
    direction: str  # in | out


@dataclass(frozen=True, slots=True)
class DeviceConfig:
    text: str  # the parts the parsers read; other lines blank (line numbers unchanged)
    acls: frozenset[int]  # families whose plan ACL is in the configuration
    bindings: tuple[Binding, ...]
    shut: frozenset[str]  # interfaces with `shutdown`: their bindings filter nothing


def _binding(platform: str, s: str) -> tuple[int, str, str] | None:
    m = _BINDING[platform].fullmatch(s)
    if not m:
        return None
    if platform == "cisco":
        v6 = bool(m.group(4))
        return (6 if v6 else 4), m.group(5 if v6 else 2), m.group(6 if v6 else 3)
    if platform == "huawei":
        v6 = bool(m.group(1) or m.group(4) or m.group(5))
        return (6 if v6 else 4), m.group(6), "in" if (m.group(2) or m.group(3)) == "inbound" else "out"
    return (6 if m.group(1) else 4), m.group(2), "in" if m.group(3) == "inbound" else "out"


def read_device_config(text: str, platform: str, file: str) -> DeviceConfig:
    """`platform`: cisco | huawei | h3c (Aerleon targets)."""
    kind = "cisco" if platform == "cisco" else "vendor"
    keep: list[str] = []
    acls: set[int] = set()
    bindings: list[Binding] = []
    shut: set[str] = set()  # interfaces with `shutdown`
    mode, interface = "other", ""  # the top-level section the current line belongs to
    for n, raw in enumerate(text.splitlines(), start=1):
        s = raw.strip()
        if kind == "vendor" and raw.rstrip() == "#":
            # ends a section: Comware prints global commands indented after it (` sysname X`); an indented ` #`
            # inside a section does not end it
            mode = "other"
        if raw[:1] not in (" ", "\t") and s and s not in ("#", "!"):
            interface = ""
            if m := _HEADER[kind].fullmatch(s):
                af = 6 if (m.group(2) if kind == "cisco" else m.group(1)) else 4
                name = m.group(3) if kind == "cisco" else (m.group(2) or m.group(3))
                mode = "acl" if name == ACL_NAMES[af] else "other"
                if mode == "acl":
                    acls.add(af)
            elif _ANY_ACL[kind].match(s) and set(s.split()) & set(ACL_NAMES.values()):
                raise JinbaoError(f"cannot read the ACL header {s!r} (expected the form the project renders)",
                                  file=file, entry=f"line {n}")
            elif kind == "vendor" and _ZONE_SECTION.fullmatch(s):
                mode = "zone"
            elif s.startswith("interface "):
                mode, interface = "interface", s.split(None, 1)[1]
            else:
                mode = "other"
            if mode == "acl" and kind == "vendor":  # the form parse_vendor reads, its number dropped
                raw = re.sub(r" 3\d{3}$", " advance", raw.rstrip())
            keep.append(raw if mode in ("acl", "zone") else "")
            continue
        if mode == "interface" and s == "shutdown":
            shut.add(interface)
        if mode == "interface" and (b := _binding(platform, s)):
            bindings.append(Binding(n, interface, b[0], b[1], b[2]))
        keep.append(raw if mode in ("acl", "zone") else "")
    return DeviceConfig("\n".join(keep) + "\n", frozenset(acls), tuple(bindings), frozenset(shut))


def completeness_problems(dc: DeviceConfig, platform: str, has_zone_policy: bool) -> list[tuple[str, str]]:
    """(kind, message) for what the plan renders but the configuration lacks: `absent` (a plan ACL, or on
    VRP/Comware the zone policy), `unbound` (a plan ACL bound inbound on no interface that is up: it filters
    nothing)."""
    out: list[tuple[str, str]] = []
    for af, name in ACL_NAMES.items():
        if af not in dc.acls:
            out.append(("absent", f"ACL {name} (IPv{af}) is not in the configuration"))
        elif not any(b.af == af and b.acl == name and b.direction == "in" and b.interface not in dc.shut
                     for b in dc.bindings):
            mine = [b for b in dc.bindings if b.af == af and b.acl == name]
            down = sorted({b.interface for b in mine if b.direction == "in"})
            where = sorted({b.interface for b in mine if b.direction == "out"})
            notes = ([f"inbound only on {', '.join(down)}, shut down"] if down else []) + (
                [f"only outbound on {', '.join(where)}"] if where else [])
            out.append(("unbound", f"ACL {name} (IPv{af}) is bound inbound on no interface" + (
                f" ({'; '.join(notes)})" if notes else "") + ": it filters nothing"))
    if platform in ("huawei", "h3c") and not has_zone_policy:
        part = "firewall zone + security-policy" if platform == "huawei" else \
            "security-zone + object-policy + zone-pair security"
        out.append(("absent", f"the zone policy ({part}) is not in the configuration"))
    return out
