"""Read firewall rulesets back into rule lines: what jinbao generated, or a real device's running
filter, for the four platforms the policy compiles to. The analysis works on what these return, so it
judges the text that reaches (or sits on) the device, not the compiler's intentions.

Each parser understands the subset the generators emit plus the common hand-written forms (any, host,
single prefixes, eq/range ports, protocol-only lines). Anything else is a one-line error naming the line:
an audit must never silently skip a rule it cannot read."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from core.errors import JinbaoError
from network.policy.space import ANY_PORT, ANY_PROTO, PROTO, Box, Interval, full, minus


@dataclass(frozen=True, slots=True)
class Line:
    """One rule line: where it is, what it says, and the packets it matches (boxes of one family)."""

    lineno: int
    text: str
    name: str  # term name (remark / description / chain), "" if none
    action: str  # accept | deny
    af: int
    boxes: tuple[Box, ...]  # empty: the line can match nothing (e.g. a source of the other family)


@dataclass(frozen=True, slots=True)
class Ruleset:
    """Rule lines per address family, in evaluation order, and the verdict when none matches."""

    lines: dict[int, list[Line]]
    default: dict[int, str]


def _prefix(text: str) -> tuple[int, Interval]:
    net = ipaddress.ip_network(text, strict=False)
    lo = int(net.network_address)
    return net.version, (lo, lo + net.num_addresses - 1)


def _wildcard(addr: str, wild: str) -> tuple[int, Interval]:
    w = int(ipaddress.IPv4Address(wild))
    if (w + 1) & w:  # not contiguous: not a prefix; refuse rather than approximate
        raise ValueError(f"non-contiguous wildcard {wild}")
    lo = int(ipaddress.IPv4Address(addr)) & ~w & 0xFFFFFFFF
    return 4, (lo, lo + w)


def _ports(spec: str) -> list[Interval]:
    spec = spec.strip().strip("{}").strip()
    out = []
    for part in (p.strip() for p in spec.split(",")):
        lo, _, hi = part.partition("-")
        out.append((int(lo), int(hi or lo)))
    return out


def _boxes(af: int, src: list[Interval] | None, dst: list[Interval] | None, proto: Interval,
           ports: list[Interval] | None) -> tuple[Box, ...]:
    u = full(af)
    boxes = ((s, d, proto, p) for s in (src if src is not None else [u[0]])
             for d in (dst if dst is not None else [u[1]]) for p in (ports if ports is not None else [ANY_PORT]))
    return tuple(b for b in boxes if all(lo <= hi for lo, hi in b))  # `range 100 50` matches nothing


def _err(file: str, lineno: int, msg: str) -> JinbaoError:
    return JinbaoError(msg, file=file, entry=f"line {lineno}")


# -- nftables ---------------------------------------------------------------------------------------
_NFT_ADDR = re.compile(r"\b(ip6?) (saddr|daddr) (\{[^}]*\}|\S+)")
_NFT_PORT = re.compile(r"\b(tcp|udp) dport (\{[^}]*\}|\S+)")
_NFT_PROTO = re.compile(r"\b(?:ip protocol|meta l4proto|ip6 nexthdr) (\{[^}]*\}|\S+)")
_NFT_VERDICT = re.compile(r"\b(accept|drop|reject)\b")
_NFT_KNOWN = re.compile(r"^(iifname \"[^\"]*\"|oifname \"[^\"]*\"|ip6? (saddr|daddr) (\{[^}]*\}|\S+)|(tcp|udp) dport "
                        r"(\{[^}]*\}|\S+)|(ip protocol|meta l4proto|ip6 nexthdr) (\{[^}]*\}|\S+)|ct state new|"
                        r"counter( packets \d+ bytes \d+)?|log( prefix \"[^\"]*\")?|accept|drop|reject|\s)+$")


def parse_nftables(text: str, file: str = "<nftables>") -> Ruleset:
    """Tables `ip`, `ip6` or `inet`; every base chain on the forward hook is walked from its first line,
    following `jump`s into regular chains (as the generator nests one chain per term)."""
    chains: dict[tuple[str, str], list[tuple[int, str]]] = {}
    base: list[tuple[str, str, str]] = []  # (family, chain, policy)
    family, chain, depth = "", "", 0
    for n, raw in enumerate(text.splitlines(), start=1):
        s = raw.strip()
        if not s or s.startswith("#"):
            continue
        if m := re.match(r"table (ip|ip6|inet) (\S+) \{$", s):
            family, depth = m.group(1), 1
            continue
        if m := re.match(r"chain (\S+) \{$", s):
            chain, depth = m.group(1), 2
            chains[(family, chain)] = []
            continue
        if s == "}":
            depth -= 1
            continue
        if depth == 2:
            if m := re.match(r"type filter hook (\w+) priority ([-+\w ]+?);(?: policy (accept|drop);)?", s):
                if m.group(1) == "forward":
                    base.append((family, chain, m.group(3) or "accept"))  # nft's default chain policy
                continue
            if s.startswith("comment "):
                continue
            chains[(family, chain)].append((n, s))
            continue
        if s.startswith("flush ") or s.startswith("delete "):
            continue
        raise _err(file, n, f"unexpected nftables statement: {s}")
    if not base:
        raise JinbaoError("no base chain on the forward hook", file=file)
    lines: dict[int, list[Line]] = {4: [], 6: []}
    default: dict[int, str] = {}
    for fam, root, pol in base:
        for af in {"ip": [4], "ip6": [6], "inet": [4, 6]}[fam]:
            walked = _nft_walk(chains, fam, root, af, file, root, set())
            if not walked and pol == "accept":
                continue  # an empty accepting chain (Debian's default `inet filter`) passes everything: neutral
            if af in default:
                # every forward base chain must accept a packet: not one first-match list; refuse, never misjudge
                raise JinbaoError(f"more than one IPv{af} forward base chain (chain {root}): audit them one by one",
                                  file=file)
            default[af] = "accept" if pol == "accept" else "deny"
            lines[af] += walked
    for af in (4, 6):  # no forward base chain for a family: netfilter forwards all of it
        default.setdefault(af, "accept")
    return Ruleset(lines, default)


def _nft_walk(chains, fam: str, chain: str, af: int, file: str, name: str, seen: set[str]) -> list[Line]:
    if chain in seen:
        raise JinbaoError(f"jump loop through chain {chain}", file=file)
    out: list[Line] = []
    for n, s in chains.get((fam, chain), []):
        if s == "ct state established,related accept":
            continue  # replies of admitted connections: not a new flow
        if m := re.fullmatch(r"(?:counter )?(jump|goto) (\S+)", s):
            if (fam, m.group(2)) not in chains:
                raise _err(file, n, f"jump to unknown chain {m.group(2)}")
            out += _nft_walk(chains, fam, m.group(2), af, file, m.group(2), seen | {chain})
            continue
        if not _NFT_KNOWN.match(s):
            raise _err(file, n, f"cannot read nftables rule: {s}")
        v = _NFT_VERDICT.search(s)
        if not v:
            continue  # counter-only line: no verdict, no effect on the decision
        line_afs = {4 if m.group(1) == "ip" else 6 for m in _NFT_ADDR.finditer(s)}
        if line_afs and af not in line_afs:
            continue  # an ip6 line inside an inet table says nothing about IPv4
        try:
            src = dst = None
            for m in _NFT_ADDR.finditer(s):
                ivs = [_prefix(x.strip())[1] for x in m.group(3).strip("{}").split(",") if x.strip()]
                if m.group(2) == "saddr":
                    src = ivs
                else:
                    dst = ivs
            pm = _NFT_PORT.search(s)
            if pm:
                proto: Interval = (PROTO[pm.group(1)],) * 2  # type: ignore[assignment]
                ports = _ports(pm.group(2))
            else:
                pr = _NFT_PROTO.search(s)
                ports = None
                proto = _proto(pr.group(1), af) if pr else ANY_PROTO
        except (ValueError, KeyError) as e:
            raise _err(file, n, f"cannot read nftables rule ({e}): {s}") from None
        action = "accept" if v.group(1) == "accept" else "deny"
        out.append(Line(n, s, name, action, af, _boxes(af, src, dst, proto, ports)))
    return out


# -- Cisco IOS ACLs ---------------------------------------------------------------------------------
def _cisco_addr(tok: list[str], i: int, af: int) -> tuple[list[Interval] | None, int]:
    if tok[i] == "any":
        return None, i + 1
    if tok[i] == "host":
        _, iv = _prefix(tok[i + 1])
        return [iv], i + 2
    if "/" in tok[i]:
        return [_prefix(tok[i])[1]], i + 1
    return [_wildcard(tok[i], tok[i + 1])[1]], i + 2


def _l4(tok: list[str], i: int, file: str, n: int) -> tuple[list[Interval] | None, int]:
    if i >= len(tok):
        return None, i
    if tok[i] == "eq":
        j = i + 1
        while j < len(tok) and tok[j].isdigit():
            j += 1
        return [(int(p), int(p)) for p in tok[i + 1:j]], j
    if tok[i] == "range":
        return [(int(tok[i + 1]), int(tok[i + 2]))], i + 3
    raise _err(file, n, f"unsupported port match {tok[i]!r}")


def _proto(word: str, af: int) -> Interval:
    if word in ("ip", "ipv6"):
        return ANY_PROTO
    p = int(word) if word.isdigit() else PROTO[word]
    return (p, p)


def parse_cisco(text: str, file: str = "<cisco>") -> Ruleset:
    lines: dict[int, list[Line]] = {4: [], 6: []}
    af, name = 0, ""
    for n, raw in enumerate(text.splitlines(), start=1):
        s = raw.strip()
        if m := re.match(r"(ip|ipv6) access-list (?:extended )?(\S+)$", s):
            af, name = (4 if m.group(1) == "ip" else 6), ""
            continue
        if s.startswith("remark "):
            name = s.split(None, 1)[1]
            continue
        if not s or s.startswith("!") or s in ("exit",) or s.startswith("no "):
            continue
        tok = s.split()
        if tok[0].isdigit():  # sequence numbers as shown by `show access-lists`
            tok = tok[1:]
        if tok[0] not in ("permit", "deny") or not af:
            raise _err(file, n, f"cannot read ACL line: {s}")
        try:
            proto = _proto(tok[1], af)
            src, i = _cisco_addr(tok, 2, af)
            dst, i = _cisco_addr(tok, i, af)
            ports, i = _l4(tok, i, file, n)
            if any(t != "log" for t in tok[i:]):
                raise ValueError(f"unsupported keyword {tok[i]!r}")
        except (ValueError, KeyError, IndexError) as e:
            raise _err(file, n, f"cannot read ACL line ({e}): {s}") from None
        lines[af].append(Line(n, s, name, "accept" if tok[0] == "permit" else "deny", af,
                              _boxes(af, src, dst, proto, ports)))
    return Ruleset(lines, {4: "deny", 6: "deny"})  # implicit deny at the end of every ACL


# -- Huawei VRP and H3C Comware advanced ACLs -------------------------------------------------------
def _vendor_addr(tok: list[str], i: int) -> tuple[list[Interval] | None, int]:
    if tok[i] == "any":
        return None, i + 1
    if "/" in tok[i]:
        return [_prefix(tok[i])[1]], i + 1
    if i + 1 < len(tok) and re.fullmatch(r"\d+\.\d+\.\d+\.\d+|0", tok[i + 1]):
        w = "0.0.0.0" if tok[i + 1] == "0" else tok[i + 1]
        return [_wildcard(tok[i], w)[1]], i + 2
    if i + 1 < len(tok) and tok[i + 1].isdigit():  # IPv6 "address prefix-length"
        return [_prefix(f"{tok[i]}/{tok[i + 1]}")[1]], i + 2
    return [_prefix(tok[i])[1]], i + 1


def parse_vendor(text: str, file: str = "<acl>") -> Ruleset:
    """Huawei VRP (`acl [ipv6] name N advance`) and H3C Comware (`acl [ipv6] advanced name N`): rules are
    evaluated in rule-number order (config order on both when numbers ascend, which is checked); what no
    rule matches is permitted (the traffic-filter / packet-filter default)."""
    rules: dict[int, list[tuple[int, int, str, list[str]]]] = {4: [], 6: []}
    names: dict[tuple[int, int], str] = {}
    af, acl = 0, 0
    in_zone_section = False  # zone objects and zone policies: read by parse_zone_policy, not here
    for n, raw in enumerate(text.splitlines(), start=1):
        s = raw.strip()
        if not s or s == "#" or s.startswith("description ") or s.startswith("return"):
            continue
        if not raw.startswith(" "):
            in_zone_section = bool(_ZONE_SECTION.match(s))
            if in_zone_section:
                af = 0
                continue
        elif in_zone_section:
            continue
        if m := re.match(r"acl (ipv6 )?(?:name \S+ advance|advanced name \S+|number \d+)$", s):
            af = 6 if m.group(1) else 4
            acl += 1
            continue
        tok = s.split()
        if tok[0] != "rule" or not af or len(tok) < 3 or not tok[1].isdigit():
            raise _err(file, n, f"cannot read ACL line: {s}")
        num = int(tok[1])
        if tok[2] in ("description", "comment"):
            names[(acl, num)] = " ".join(tok[3:])
            continue
        if tok[2] not in ("permit", "deny"):
            raise _err(file, n, f"cannot read ACL rule: {s}")
        rules[af].append((acl, num, s, [str(n), *tok[2:]]))
    lines: dict[int, list[Line]] = {4: [], 6: []}
    for fam, rs in rules.items():
        last: dict[int, int] = {}
        for acl_i, num, s, tok in rs:
            n = int(tok[0])
            if num <= last.get(acl_i, 0):
                raise _err(file, n, f"rule {num} out of order or repeated")
            last[acl_i] = num
            action, word, rest = tok[1], tok[2], tok[3:]
            try:
                proto = _proto(word, fam)
                src = dst = ports = None
                i = 0
                while i < len(rest):
                    if rest[i] == "source":
                        src, i = _vendor_addr(rest, i + 1)
                    elif rest[i] == "destination":
                        dst, i = _vendor_addr(rest, i + 1)
                    elif rest[i] == "destination-port":
                        ports, i = _l4(rest, i + 1, file, n)
                    elif rest[i] in ("logging", "counting"):
                        i += 1
                    else:
                        raise ValueError(f"unsupported keyword {rest[i]!r}")
            except (ValueError, KeyError, IndexError) as e:
                raise _err(file, n, f"cannot read ACL rule ({e}): {s}") from None
            lines[fam].append(Line(n, s, names.get((acl_i, num), ""), "accept" if action == "permit" else "deny",
                                   fam, _boxes(fam, src, dst, proto, ports)))
    # A packet matching no rule passes a VRP traffic-filter or a Comware packet-filter unless the device is
    # told otherwise (`packet-filter default deny`): hence jinbao's explicit last rule; audits assume the default.
    return Ruleset(lines, {4: "accept", 6: "accept"})


# -- VRP and Comware zone policies (beside the ACL; vendor.py) ---------------------------------------
_ZONE_SECTION = re.compile(r"(firewall zone (name )?\S+|security-policy|security-zone name \S+|"
                           r"object-group (ip|ipv6) address \S+|object-group service \S+|object-policy (ip|ipv6) \S+|"
                           r"zone-pair security source \S+ destination \S+)$")


@dataclass(frozen=True, slots=True)
class ZoneRule:
    """One rule of a zone policy: zones (None: any), name, action and its packets per family."""

    lineno: int
    name: str
    action: str  # accept | deny
    src_zone: str | None
    dst_zone: str | None
    boxes: dict[int, tuple[Box, ...]]
    policy: str = ""  # Comware: the object-policy it belongs to


@dataclass
class ZonePolicy:
    zones: dict[str, list[str]]  # zone -> interfaces
    zone_line: dict[str, int]
    priorities: dict[str, int]
    rules: list[ZoneRule]
    pairs: list[tuple[int, str, str, dict[int, str]]]  # Comware: (line, source, destination, {af: policy})


def _svc_boxes(af: int, src: list[Interval] | None, dst: list[Interval] | None,
               services: list[tuple[Interval, list[Interval] | None]]) -> tuple[Box, ...]:
    if not services:
        return _boxes(af, src, dst, ANY_PROTO, None)
    return tuple(b for proto, ports in services for b in _boxes(af, src, dst, proto, ports))


def _family_addrs(addrs: list[tuple[int, Interval]], af: int) -> tuple[list[Interval] | None, bool]:
    """(intervals of family `af` or None for any, whether the side matches nothing in this family)."""
    if not addrs:
        return None, False
    mine = [iv for f, iv in addrs if f == af]
    return (mine, False) if mine else (None, True)


def parse_zone_policy(text: str, file: str = "<zone policy>") -> ZonePolicy | None:
    """The zone objects and zone policy of VRP (`firewall zone` + `security-policy`) or Comware
    (`security-zone`, `object-group`, `object-policy`, `zone-pair security`) text; None if it has none."""
    zp = ZonePolicy({}, {}, {}, [], [])
    groups: dict[tuple[str, str], list[tuple[int, Interval]]] = {}
    services: dict[str, list[tuple[Interval, list[Interval] | None]]] = {}
    policies: dict[tuple[str, str], list[tuple[int, int, str, list[str]]]] = {}
    comments: dict[tuple[str, str, int], str] = {}
    section: tuple[str, ...] = ()
    rule: dict | None = None
    vrp_rules: list[dict] = []
    for n, raw in enumerate(text.splitlines(), start=1):
        s = raw.strip()
        if not s or s == "#" or s.startswith("return"):
            continue
        tok = s.split()
        if not raw.startswith(" "):
            section = ()
            if not _ZONE_SECTION.match(s):
                continue  # ACLs and the rest: parse_vendor's business
            if tok[:2] == ["firewall", "zone"]:
                section = ("zone", tok[-1])
            elif tok[0] == "security-zone":
                section = ("zone", tok[2])
            elif tok[0] == "security-policy":
                section = ("security-policy",)
            elif tok[0] == "object-group":
                section = ("group", tok[1], tok[-1]) if tok[1] != "service" else ("service", tok[2])
                if tok[1] == "service":
                    services[tok[2]] = []
                else:
                    groups[(tok[1], tok[3])] = []
            elif tok[0] == "object-policy":
                section = ("policy", tok[1], tok[2])
                policies[(tok[1], tok[2])] = []
            else:
                zp.pairs.append((n, tok[3], tok[5], {}))
                section = ("pair",)
            if section[0] == "zone":
                zp.zones.setdefault(section[1], [])
                zp.zone_line.setdefault(section[1], n)
            continue
        if not section:
            continue  # inside an ACL
        try:
            kind = section[0]
            if kind == "zone" and tok[:2] in (["add", "interface"], ["import", "interface"]):
                zp.zones[section[1]].append(tok[2])
            elif kind == "zone" and tok[:2] == ["set", "priority"]:
                zp.priorities[section[1]] = int(tok[2])
            elif kind == "security-policy" and tok[:2] == ["rule", "name"]:
                rule = {"line": n, "name": tok[2], "action": "", "src_zone": None, "dst_zone": None,
                        "src": [], "dst": [], "svc": []}
                vrp_rules.append(rule)
            elif kind == "security-policy" and rule is not None and raw.startswith("  "):
                if tok[0] in ("source-zone", "destination-zone") and len(tok) == 2:
                    rule["src_zone" if tok[0] == "source-zone" else "dst_zone"] = tok[1]
                elif tok[0] in ("source-address", "destination-address"):
                    if len(tok) == 4 and tok[2] == "mask":
                        addr = str(ipaddress.ip_network(f"{tok[1]}/{tok[3]}", strict=False))
                    elif len(tok) == 3 and tok[2].isdigit():
                        addr = f"{tok[1]}/{tok[2]}"
                    else:
                        raise ValueError("expected ADDRESS mask MASK or ADDRESS LENGTH")
                    rule["src" if tok[0] == "source-address" else "dst"].append(_prefix(addr))
                elif tok[:2] == ["service", "protocol"]:
                    proto = _proto(tok[2], 4)
                    ports = None
                    if len(tok) > 3:
                        if tok[3] != "destination-port":
                            raise ValueError(f"unsupported keyword {tok[3]!r}")
                        lo = int(tok[4])
                        hi = int(tok[6]) if len(tok) == 7 and tok[5] == "to" else lo
                        if len(tok) not in (5, 7):
                            raise ValueError("expected destination-port P [to Q]")
                        ports = [(lo, hi)]
                    rule["svc"].append((proto, ports))
                elif tok[0] == "action" and len(tok) == 2 and tok[1] in ("permit", "deny"):
                    rule["action"] = "accept" if tok[1] == "permit" else "deny"
                elif tok[0] != "description":
                    raise ValueError("unsupported statement")
            elif kind == "group" and tok[:2] == ["network", "subnet"]:
                fam = section[1]
                net = f"{tok[2]}/{tok[3]}"
                groups[(fam, section[2])].append(_prefix(str(ipaddress.ip_network(net, strict=False))))
            elif kind == "group" and tok[:2] == ["network", "host"] and tok[2] == "address":
                groups[(section[1], section[2])].append(_prefix(tok[3]))
            elif kind == "service" and tok[0] == "service" and tok[2] == "destination":
                ports = [(int(tok[4]), int(tok[4]))] if tok[3] == "eq" else [(int(tok[4]), int(tok[5]))]
                if tok[3] not in ("eq", "range"):
                    raise ValueError(f"unsupported port match {tok[3]!r}")
                services[section[1]].append(((PROTO[tok[1]],) * 2, ports))  # type: ignore[arg-type]
            elif kind == "policy" and tok[0] == "rule" and tok[1].isdigit():
                if tok[2] == "comment":
                    comments[(section[1], section[2], int(tok[1]))] = " ".join(tok[3:])
                elif tok[2] in ("pass", "drop"):
                    policies[(section[1], section[2])].append((n, int(tok[1]), tok[2], tok[3:]))
                else:
                    raise ValueError(f"unsupported action {tok[2]!r}")
            elif kind == "pair" and tok[:2] == ["object-policy", "apply"]:
                zp.pairs[-1][3][4 if tok[2] == "ip" else 6] = tok[3]
            else:
                raise ValueError("unsupported statement")
        except (ValueError, KeyError, IndexError) as e:
            raise _err(file, n, f"cannot read zone policy line ({e}): {s}") from None
    if not zp.zones and not vrp_rules and not policies:
        return None
    for r in vrp_rules:
        boxes = {}
        for af in (4, 6):
            src, s_none = _family_addrs(r["src"], af)
            dst, d_none = _family_addrs(r["dst"], af)
            boxes[af] = () if s_none or d_none else _svc_boxes(af, src, dst, r["svc"])
        zp.rules.append(ZoneRule(r["line"], r["name"], r["action"], r["src_zone"], r["dst_zone"], boxes))
    pair_of = {pol: (a, b) for _, a, b, applied in zp.pairs for pol in applied.values()}
    for (fam, pname), rules in policies.items():
        af = 4 if fam == "ip" else 6
        a, b = pair_of.get(pname, (None, None))
        for n, num, action, rest in rules:
            sel: dict[str, str] = {}
            try:
                for i in range(0, len(rest), 2):
                    if rest[i] not in ("source-ip", "destination-ip", "service"):
                        raise ValueError(f"unsupported keyword {rest[i]!r}")
                    sel[rest[i]] = rest[i + 1]
                src = groups[(fam, sel["source-ip"])] if "source-ip" in sel else None
                dst = groups[(fam, sel["destination-ip"])] if "destination-ip" in sel else None
                svc = services[sel["service"]] if "service" in sel else []
            except KeyError as e:
                raise _err(file, n, f"object-policy {pname} rule {num}: undefined object-group {e}") from None
            except (ValueError, IndexError) as e:
                raise _err(file, n, f"cannot read object-policy rule ({e})") from None
            box = _svc_boxes(af, [iv for _, iv in src] if src is not None else None,
                             [iv for _, iv in dst] if dst is not None else None, svc)
            zp.rules.append(ZoneRule(n, comments.get((fam, pname, num), ""), "accept" if action == "pass" else "deny",
                                     a, b, {af: box}, pname))
    return zp


def zone_policy_problems(zp: ZonePolicy, acl: Ruleset) -> list[tuple[int, str]]:
    """Structural rules of a zone policy beside jinbao's ACL, as (line, message):

    - every zone a rule or zone pair names is declared and has an interface; no interface is in two zones;
      VRP zone priorities are unique;
    - every applied Comware object-policy exists, and every object-policy is applied;
    - the zone policy means the ACL, rule for rule: each named rule matches exactly the packets of the ACL
      lines of that name, with the same action, and every ACL term is in the zone policy;
    - it closes with the default deny: VRP's last rule names no zone and denies; each Comware object-policy
      ends with a drop."""
    out: list[tuple[int, str]] = []
    iface_zone: dict[str, str] = {}
    # a zone nothing names needs no interface: a device's built-in zones (VRP local/trust/dmz, Comware Local,
    # Trust, DMZ, Management) sit in its whole configuration unused
    used = {z.lower() for r in zp.rules for z in (r.src_zone, r.dst_zone) if z}
    used |= {z.lower() for _, a, b, _ in zp.pairs for z in (a, b)}
    for z, ifs in zp.zones.items():
        if not ifs and z.lower() in used:
            out.append((zp.zone_line[z], f"zone {z} has no interface"))
        for i in ifs:
            if i in iface_zone:
                out.append((zp.zone_line[z], f"interface {i} is in zones {iface_zone[i]} and {z}"))
            iface_zone[i] = z
    prios = [p for p in zp.priorities.values()]
    for z, p in zp.priorities.items():
        if prios.count(p) > 1:
            out.append((zp.zone_line[z], f"zone {z}: priority {p} is not unique"))
    known = {z.lower() for z in zp.zones}
    for r in zp.rules:
        for z in (r.src_zone, r.dst_zone):
            if z is not None and z.lower() not in known:
                out.append((r.lineno, f"rule {r.name or r.lineno}: zone {z} is not declared"))
    applied = {pol for _, _, _, ap in zp.pairs for pol in ap.values()}
    defined = {r.policy for r in zp.rules if r.policy}
    for n, a, b, ap in zp.pairs:
        for z in (a, b):
            if z.lower() not in known:
                out.append((n, f"zone-pair {a} -> {b}: zone {z} is not declared"))
        for pol in ap.values():
            if pol not in defined:
                out.append((n, f"zone-pair {a} -> {b}: object-policy {pol} is not defined"))
    for pol in sorted(defined - applied):
        out.append((next(r.lineno for r in zp.rules if r.policy == pol), f"object-policy {pol} is not applied"))
    acl_boxes: dict[tuple[str, int], list[Box]] = {}
    acl_action: dict[str, str] = {}
    for af, lines in acl.lines.items():
        for ln in lines:
            if not ln.name:  # a line added without its description/comment (by hand): in no zone rule
                out.append((ln.lineno, f"ACL line {ln.lineno} ({ln.text}) is unnamed: no zone policy rule means it"))
                continue
            acl_boxes.setdefault((ln.name, af), []).extend(ln.boxes)
            acl_action[ln.name] = ln.action
    zone_boxes: dict[tuple[str, int], list[Box]] = {}
    first_line: dict[str, int] = {}
    for r in zp.rules:
        first_line.setdefault(r.name, r.lineno)
        if acl_action.get(r.name) is None:
            out.append((r.lineno, f"rule {r.name or r.lineno}: no ACL term of that name"))
            continue
        if r.action != acl_action[r.name]:
            out.append((r.lineno, f"rule {r.name}: {r.action} here, {acl_action[r.name]} in the ACL"))
        for af, boxes in r.boxes.items():
            zone_boxes.setdefault((r.name, af), []).extend(boxes)
    for name, af in sorted(zone_boxes.keys() | {k for k in acl_boxes if k[0] in first_line}):
        mine, theirs = zone_boxes.get((name, af), []), acl_boxes.get((name, af), [])
        if minus(mine, theirs) or minus(theirs, mine):  # the same packets, however the boxes are cut
            out.append((first_line[name], f"rule {name}: matches other IPv{af} packets than the ACL's lines of"
                                          f" that name"))
    named = {r.name for r in zp.rules}
    for name in acl_action:
        if name not in named:
            out.append((0, f"ACL term {name} has no rule in the zone policy"))
    if zp.rules and not any(r.policy for r in zp.rules):
        last = zp.rules[-1]
        if last.src_zone or last.dst_zone or last.action != "deny":
            out.append((last.lineno, "the security-policy does not end with a deny for any zone"))
    for pol in sorted(defined):
        last = [r for r in zp.rules if r.policy == pol][-1]
        if last.action != "deny":
            out.append((last.lineno, f"object-policy {pol} does not end with a drop"))
    return out


PARSERS = {"nftables": parse_nftables, "cisco": parse_cisco, "huawei": parse_vendor, "h3c": parse_vendor}
