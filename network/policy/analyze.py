"""Batfish's three filter questions, answered over parsed rulesets with interval arithmetic:

- every allowed flow is permitted (`testFilters`): each flow instance of the policy, as packets, lies
  wholly inside what the ruleset permits; otherwise an example packet that is dropped;
- nothing else is permitted (`searchFilters`): every permitted packet set outside the policy's flows is
  reported with an example packet, named by site, zones, protocol and port;
- every rule line can match (`filterLineReachability`): a line whose packets are all taken by earlier
  lines (shadowed) or that matches no packet at all (empty) is reported.

Interfaces (nftables `iifname`/`oifname`) are not an axis: zones are told apart by their addresses, and
the interface a zone's packets arrive on follows from routing, not from the ruleset."""

from __future__ import annotations

import ipaddress
from typing import Any

from core.findings import Finding, Shape
from network.policy.compile import Instance, dst_owner, instances
from network.policy.parse import Line, Ruleset
from network.policy.space import PROTO, PROTO_NAME, Box, full, minus, witness
from network.policy.zones import World

# `jinbao policy verify --json`: the rule is the kind (missing | unplanned | unreachable | zone-policy; with
# --config also absent | unbound, service.verify_texts), the subject the site;
# detail: the platform, the ruleset line (or None) and an example packet (src, dst, protocol, port, src_zone,
# dst_zone; empty for an unreachable line)
JSON: Shape = (("site", "subject"), ("platform", "platform"), ("kind", "rule"), ("message", "message"),
               ("line", "line"), ("example", "example"))


def finding_at(site: str, platform: str, kind: str, message: str, example: dict[str, Any] | None = None,
             line: int | None = None) -> Finding:
    return Finding(kind, site, message, {"platform": platform, "example": example or {}, "line": line})


def _touch(a: Box, b: Box) -> bool:
    return (a[0][0] <= b[0][1] and b[0][0] <= a[0][1] and a[1][0] <= b[1][1] and b[1][0] <= a[1][1]
            and a[2][0] <= b[2][1] and b[2][0] <= a[2][1] and a[3][0] <= b[3][1] and b[3][0] <= a[3][1])


def allowed_boxes(world: World, site: str) -> dict[int, list[tuple[Box, Instance]]]:
    """The policy's meaning at one site's firewall, as packet boxes per family."""
    out: dict[int, list[tuple[Box, Instance]]] = {4: [], 6: []}
    for inst in instances(world, site):
        if inst.flow.action != "allow":
            continue
        srcs = world.blocks[(inst.src_site, inst.flow.src)]
        dsts = world.blocks[(dst_owner(world, inst.flow, inst.src_site, inst.dst_site), inst.flow.dst)]
        for svc in inst.flow.services:
            s = world.policy.services[svc]
            proto = (PROTO[s.protocol],) * 2
            for saf, sstart, splen in srcs:
                for daf, dstart, dplen in dsts:
                    if saf != daf:
                        continue
                    bits = 32 if saf == 4 else 128
                    for lo, hi in s.ports:
                        out[saf].append((((sstart, sstart + (1 << (bits - splen)) - 1),
                                          (dstart, dstart + (1 << (bits - dplen)) - 1), proto, (lo, hi)), inst))
    return out


def _example(world: World, af: int, p: tuple[int, int, int, int]) -> dict:
    addr = ipaddress.IPv4Address if af == 4 else ipaddress.IPv6Address
    proto = PROTO_NAME.get(p[2], str(p[2]))
    return {"src": str(addr(p[0])), "dst": str(addr(p[1])), "protocol": proto,
            "port": p[3] if proto in ("tcp", "udp") else None,
            "src_zone": world.zone_of(af, p[0]) or "outside every zone",
            "dst_zone": world.zone_of(af, p[1]) or "outside every zone"}


def _flow_text(ex: dict) -> str:
    port = f"{ex['protocol']}/{ex['port']}" if ex["port"] is not None else ex["protocol"]
    return f"{ex['src_zone']} -> {ex['dst_zone']} {port} (e.g. {ex['src']} -> {ex['dst']})"


def analyze(world: World, site: str, platform: str, rs: Ruleset,
            allowed: dict[int, list[tuple[Box, Instance]]] | None = None) -> list[Finding]:
    allowed = allowed if allowed is not None else allowed_boxes(world, site)
    findings: list[Finding] = []
    for af in (4, 6):
        earlier: list[tuple[Box, Line]] = []
        permitted: list[tuple[Box, Line | None]] = []
        for line in rs.lines.get(af, []):
            if not line.boxes:
                findings.append(finding_at(site, platform, "unreachable", f"line {line.lineno} ({line.name or '-'}) "
                                         f"can never match: it matches no packet", line=line.lineno))
                continue
            cuts = [b for b, _ in earlier if any(_touch(b, x) for x in line.boxes)]
            if line.action == "accept":
                hits = minus(line.boxes, cuts)
                permitted += [(h, line) for h in hits]
                reachable = bool(hits)
            else:
                reachable = any(witness(x, cuts) is not None for x in line.boxes)
            if not reachable:
                by = next(ln for b, ln in earlier if any(_touch(b, x) for x in line.boxes))
                findings.append(finding_at(site, platform, "unreachable", f"line {line.lineno} ({line.name or '-'}) "
                                         f"can never match: shadowed by earlier lines (first: line {by.lineno}"
                                         f"{', ' + by.name if by.name else ''})", line=line.lineno))
            earlier += [(b, line) for b in line.boxes]
        if rs.default.get(af) == "accept":
            permitted += [(h, None) for h in minus([full(af)], [b for b, _ in earlier])]
        allow = [b for b, _ in allowed.get(af, [])]
        for piece, line in permitted:
            rest = minus([piece], [a for a in allow if _touch(a, piece)])
            if rest:
                ex = _example(world, af, tuple(lo for lo, _ in rest[0]))
                where = f"line {line.lineno} ({line.name or '-'})" if line else "the default policy (accept)"
                findings.append(finding_at(site, platform, "unplanned", f"{where} permits {_flow_text(ex)}, which the "
                                         "policy does not allow", ex, line.lineno if line else None))
        perm = [b for b, _ in permitted]
        for box, inst in allowed.get(af, []):
            w = witness(box, [p for p in perm if _touch(p, box)])
            if w is not None:
                ex = _example(world, af, w)
                findings.append(finding_at(site, platform, "missing", f"flow {inst.flow.name} ({inst.label}) is not "
                                         f"permitted: {_flow_text(ex)} is dropped", ex))
    return findings
