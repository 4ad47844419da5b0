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
from network.policy.space import ANY_PORT, ANY_PROTO, PROTO, Box, Interval, full


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
    for n, raw in enumerate(text.splitlines(), start=1):
        s = raw.strip()
        if not s or s == "#" or s.startswith("description ") or s.startswith("return"):
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


PARSERS = {"nftables": parse_nftables, "cisco": parse_cisco, "huawei": parse_vendor, "h3c": parse_vendor}
