"""Static verification of the intents before anything is pushed (`jinbao verify`).

Every rule is computed on the intents the templates render from, through the BGP simulator:
- bgp-session: both ends of every session agree (addresses, ASNs, address families);
- unique: no duplicate hostname, router ID or interface address;
- reach-primary: every site reaches the ministry, and the ministry every site, over primary lines only;
  a deterministic sample of site pairs reaches each other;
- redundancy: with any one WAN link (primary, backup or inside a site) removed, every site below and
  at that link still reaches the ministry and is reached from it (IPv4; access links are single-homed
  by design and not counted as WAN);
- ministry-table: the ministry holds only its direct children's aggregates plus what it originates,
  and holds all of them;
- import-filter: every downstream session accepts the child's own aggregates and rejects a sibling's;
- session-protection: every eBGP session is keyed (TCP MD5), both ends name the same key, and it is
  GTSM-protected one hop (all eBGP sessions here run over directly connected links);
- dr-survival: for every DR centre, its primary data centre is removed entirely (all its routers), and the
  DR centre must still reach the ministry and the national DR centre (the national DR centre: the sites its
  lines land on, every provincial-level data centre), both ways, its zone hosts included, and the sites it
  serves that are still connected to it. Sites cut off with a lost provincial data centre (their only lines
  end there) are expected: reported as `notes`, not findings. With the ministry removed, every data centre
  left must reach the national DR centre both ways (it backs up the provinces and, by default, every city
  without a provincial DR centre): a site cut off is a finding;
- dr-idle: while every site stands, no router's best path uses a DR line (kind dr): they are the last
  resort, and a DR line carrying traffic in the intact network means a longer prefix or a local-preference
  beats the normal path somewhere;
- service-origin: every database service address (docs/dr.md) is originated by the routers of exactly one
  site, the one the plan says runs the database now, and the ministry holds it (never two sites at once).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from core.findings import Finding, Shape
from network.bgpsim import Route, Simulator, parse_prefix
from network.intent_model import DeviceIntent
from network.plan import PlanInput, announced_up, own_aggregates

WAN_KINDS = ("primary", "backup", "internal", "dr")
NOT_PRIMARY = ("backup", "dr")  # line kinds a walk in the intact network must not take to or from the ministry
PAIR_SAMPLE = 400


# `jinbao verify --json`: a finding is about the devices listed in detail["devices"]
JSON: Shape = (("rule", "rule"), ("devices", "devices"), ("message", "message"))


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # expected consequences worth knowing; not failures

    @property
    def ok(self) -> bool:
        return not self.findings

    def as_dict(self) -> dict:
        return {"ok": self.ok, "checked": self.checked, "findings": [f.as_dict(JSON) for f in self.findings],
                "notes": self.notes}

    def add(self, rule: str, devices: tuple[str, ...] | list[str], message: str) -> None:
        self.findings.append(Finding(rule, ", ".join(devices), message, {"devices": list(devices)}))

    def count(self, rule: str, n: int = 1) -> None:
        self.checked[rule] = self.checked.get(rule, 0) + n


def verify(p: PlanInput, intents: dict[str, DeviceIntent],
           progress: Callable[[str], None] | None = None, partial: bool = False) -> Report:
    """Verify the intents. `partial`: they are a slice (a scope) of the network, analysed on their own."""
    say = progress or (lambda _msg: None)
    rep = Report()
    _unique(intents, rep)
    _session_protection(intents, rep)
    say("building BGP sessions")
    sim = Simulator(intents, partial=partial)
    for _rule, devs, msg in sim.problems:
        rep.add("bgp-session", devs, msg)
    rep.count("bgp-session", sum(len(s) for s in sim.sessions.values()) + len(sim.problems))
    say("simulating BGP")
    sim.converge()
    anchors = _anchors(p, intents)
    say("walking primary paths")
    _reach_primary(p, sim, anchors, rep)
    _dr_idle(sim, rep)
    _ministry_table(p, sim, intents, rep)
    _import_filters(p, sim, intents, rep)
    _service_origin(p, sim, intents, rep)
    # The failure analyses re-converge once per failed link (~800 times for the nation): on a simulator
    # without the service addresses' host routes (two thirds of the ministry's table), which decide no path
    # but their own; where they go is the full simulation's business above.
    services = frozenset(parse_prefix(sv.prefix(af)) for sv in p.services for af in (4, 6))
    if services:
        say("simulating BGP without the service addresses for the failure analyses")
        sim = sim.without(services)
        sim.converge()
    say("failing every WAN link")
    _redundancy(p, sim, intents, anchors, rep, say)
    say("removing every DR centre's primary data centre")
    _dr_survival(p, sim, intents, anchors, rep, say)
    return rep


def _session_protection(intents: dict[str, DeviceIntent], rep: Report) -> None:
    for h, it in intents.items():
        if it.bgp is None:
            continue
        for n in it.bgp.neighbors:
            if n.kind != "ebgp":
                continue
            rep.count("session-protection")
            if n.password is None:
                rep.add("session-protection", (h, n.peer), f"eBGP session {h} -> {n.address} has no key")
            if n.ttl_security_hops != 1:
                rep.add("session-protection", (h, n.peer), f"eBGP session {h} -> {n.address} has no GTSM")
            other = intents.get(n.peer)
            if other is not None and other.bgp is not None and n.password is not None:
                keys = {m.password.name for m in other.bgp.neighbors if m.peer == h and m.password is not None}
                if keys and n.password.name not in keys:
                    rep.add("session-protection", (h, n.peer),
                            f"the two ends of {h} -> {n.address} use different keys")


def _unique(intents: dict[str, DeviceIntent], rep: Report) -> None:
    seen_rid: dict[str, str] = {}
    seen_addr: dict[tuple[str | None, str], str] = {}
    for h, i in intents.items():
        rep.count("unique")
        if i.hostname != h:
            rep.add("unique", (h, i.hostname), f"intent for {h} is named {i.hostname}")
        if i.bgp is not None:
            other = seen_rid.setdefault(i.bgp.router_id, h)
            if other != h:
                rep.add("unique", (other, h), f"router ID {i.bgp.router_id} used twice")
        for itf in i.interfaces:
            for a in (itf.ipv4, itf.ipv6):
                if not a:
                    continue
                key = (itf.vrf, a.split("/")[0])
                other = seen_addr.setdefault(key, h)
                if other != h:
                    rep.add("unique", (other, h), f"address {key[1]} (vrf {itf.vrf or 'default'}) used twice")


def _anchors(p: PlanInput, intents: dict[str, DeviceIntent]) -> dict[str, str]:
    """One router per site (its first), the one walks start from and go to."""
    out: dict[str, str] = {}
    for h in intents:
        out.setdefault(intents[h].site, h)
    return out


def _lo(intents: dict[str, DeviceIntent], h: str, af: int) -> str:
    i = intents[h]
    return (i.loopback_v4 if af == 4 else i.loopback_v6 or "").split("/")[0]


def _reach_primary(p: PlanInput, sim: Simulator, anchors: dict[str, str], rep: Report) -> None:
    ministry_site = p.inv.sites[0].id
    core = anchors.get(ministry_site)
    if core is None:
        rep.add("reach-primary", (), f"no router of the ministry ({ministry_site}) in scope")
        return
    for h in anchors.values():
        if h == core:
            continue
        for af in (4, 6):
            for src, dst in ((h, core), (core, h)):
                rep.count("reach-primary")
                w = sim.walk(src, _lo(sim.intents, dst, af))
                if not w.ok:
                    rep.add("reach-primary", (src, dst), f"IPv{af} {src} -> {dst}: {w.detail} via {' > '.join(w.hops)}")
                elif kind := next((k for k in w.link_kinds if k in NOT_PRIMARY), None):
                    rep.add("reach-primary", (src, dst), f"IPv{af} {src} -> {dst} uses a {kind} line:"
                                                         f" {' > '.join(w.hops)}")
                else:
                    _reply(sim, rep, "reach-primary", src, dst, _lo(sim.intents, dst, af))
    sites = sorted(anchors)
    rng = random.Random(20261123)
    pairs = [(a, b) for a in sites for b in sites if a != b] if len(sites) <= 30 else [
        tuple(rng.sample(sites, 2)) for _ in range(PAIR_SAMPLE)]
    for a, b in pairs:
        rep.count("reach-primary")
        src, dst = anchors[a], anchors[b]
        w = sim.walk(src, _lo(sim.intents, dst, 4))
        if not w.ok:
            rep.add("reach-primary", (src, dst), f"{a} cannot reach {b}: {w.detail} via {' > '.join(w.hops)}")


def _reply(sim: Simulator, rep: Report, rule: str, src: str, dst: str, dst_addr: str) -> None:
    """The answer must come back too: from `dst` to the address `src` sent from (its egress interface's,
    not its loopback), which only its own site knows in detail."""
    back_to = sim.egress_address(src, dst_addr)
    if back_to is None:
        return
    rep.count(rule)
    w = sim.walk(dst, back_to)
    if not w.ok:
        rep.add(rule, (dst, src), f"reply {dst} -> {src}'s {back_to}: {w.detail} via {' > '.join(w.hops)}")


def _subtree(children: dict[str, list], root: str) -> set[str]:
    out, stack = set(), [root]
    while stack:
        s = stack.pop()
        out.add(s)
        stack.extend(c.id for c in children.get(s, []))
    return out


def _redundancy(p: PlanInput, sim: Simulator, intents: dict[str, DeviceIntent], anchors: dict[str, str],
                rep: Report, say: Callable[[str], None]) -> None:
    core = anchors.get(p.inv.sites[0].id)
    if core is None:
        return
    links: dict[frozenset[str], tuple[str, str, str]] = {}
    for s_list in sim.sessions.values():
        for s in s_list:
            kind = sim.link_kind.get(s.stmt.address, "")
            if kind in WAN_KINDS and s.link not in links:
                links[s.link] = (s.local, s.peer, kind)
    children = p.inv.children()
    for n, (link, (a, b, kind)) in enumerate(sorted(links.items(), key=lambda kv: sorted(kv[0]))):
        if n % 100 == 0:
            say(f"failing WAN link {n + 1}/{len(links)}")
        sa, sb = intents[a].site, intents[b].site
        lower = sb if p.inv.site(sb).parent == sa else sa
        # a DR line is no site's way up: losing it may only hurt its two ends
        affected = ({sa, sb} if kind == "dr" else _subtree(children, lower) | {sa, sb}) & anchors.keys()
        sim.set_link(link, up=False)
        for site in sorted(affected):
            h = anchors[site]
            if h == core:
                continue
            for src, dst in ((h, core), (core, h)):
                rep.count("redundancy")
                w = sim.walk(src, _lo(intents, dst, 4))
                if not w.ok:
                    rep.add("redundancy", (a, b, src, dst),
                            f"with {kind} link {a} - {b} down, {src} cannot reach {dst}: {w.detail}")
        sim.set_link(link, up=True)


def _ministry_table(p: PlanInput, sim: Simulator, intents: dict[str, DeviceIntent], rep: Report) -> None:
    ministry = p.inv.sites[0]
    in_scope = {i.site for i in intents.values()}
    children = [c for c in p.inv.children()[ministry.id] if c.id in in_scope]
    # its children's aggregates and those of the DR centres below them, which the children pass up
    below = [d for c in children for d in p.dr_centres_below(c.id) if d.id in in_scope]
    expected = {parse_prefix(a) for c in (*children, *below) for af in (4, 6)
                for a in own_aggregates(p, c, af, ministry.id)}
    sites = {i.site for i in intents.values() if i.bgp}  # service addresses come up from where they are active
    expected |= {parse_prefix(sv.prefix(af)) for sv in p.services for af in (4, 6)
                 if sv.active in sites and sv.active != ministry.id}
    for h, i in intents.items():
        if i.site != ministry.id:
            continue
        own = {pfx for x in intents.values() if x.site == ministry.id
               for pfx in map(parse_prefix, (*x.bgp.networks_v4, *x.bgp.networks_v6))} if i.bgp else set()
        table = set(sim.best[h])
        rep.count("ministry-table", len(table))
        extra = table - expected - own
        if extra:
            rep.add("ministry-table", (h,), f"{len(extra)} unexpected routes, e.g. {_fmt(sorted(extra)[0])}")
        missing = expected - table
        if missing:
            rep.add("ministry-table", (h,), f"{len(missing)} child aggregates missing, e.g. {_fmt(sorted(missing)[0])}")


def _fmt(p: tuple[int, int, int]) -> str:
    from ipplan.addr import fmt

    return fmt(*p)


def _import_filters(p: PlanInput, sim: Simulator, intents: dict[str, DeviceIntent], rep: Report) -> None:
    children = p.inv.children()
    for h, i in intents.items():
        if i.bgp is None:
            continue
        for n in i.bgp.neighbors:
            if n.role != "downstream":
                continue
            af = 4 if n.afi == "ipv4" else 6
            child = p.inv.site(intents[n.peer].site) if n.peer in intents else None
            if child is None:
                continue
            # a sibling's aggregates are known from the plan even when the sibling is outside the scope
            siblings = [c for c in children[i.site] if c.id != child.id]
            if n.link_kind == "dr" and i.site == p.national_dr:  # the provinces are its children over DR lines
                siblings = [c for c in children[p.inv.sites[0].id] if c.id not in (child.id, i.site)]
            rep.count("import-filter")
            for agg in announced_up(p, child, af, h):
                r = Route(parse_prefix(agg), (intents[n.peer].asn,), 100, n.peer, n.peer, True)
                if sim.policy[h].apply(n.route_map_in, r, i.asn) is None:
                    rep.add("import-filter", (h, n.peer), f"{n.route_map_in} rejects {child.id}'s own {agg}")
            for sib in siblings:
                for agg in own_aggregates(p, sib, af, h):
                    r = Route(parse_prefix(agg), (intents[n.peer].asn,), 100, n.peer, n.peer, True)
                    if sim.policy[h].apply(n.route_map_in, r, i.asn) is not None:
                        rep.add("import-filter", (h, n.peer),
                                f"{n.route_map_in} accepts sibling {sib.id}'s {agg} from {child.id}")


def _dr_idle(sim: Simulator, rep: Report) -> None:
    """In the intact network, no best route is learned over a DR line: one finding per router and line."""
    for h in sorted(sim.best):
        over: dict[str, list] = {}
        for r in sim.best[h].values():
            rep.count("dr-idle")
            if r.peer is not None and r.via_kind == "dr":
                over.setdefault(r.peer, []).append(r.prefix)
        for peer, prefixes in sorted(over.items()):
            first = _fmt(sorted(prefixes)[0])
            more = f" and {len(prefixes) - 1} more" if len(prefixes) > 1 else ""
            rep.add("dr-idle", (h, peer), f"with every site standing, {h}'s best path to {first}{more} uses the DR"
                                          f" line to {peer}")


def _service_origin(p: PlanInput, sim: Simulator, intents: dict[str, DeviceIntent], rep: Report) -> None:
    """A service address is announced by one site at a time: two would split a client's sessions between two
    databases (one of them fenced or a standby), none would leave clients without it."""
    origins: dict[tuple[int, int, int], set[str]] = {}
    for h, routes in sim.local.items():
        for pfx in routes:
            origins.setdefault(pfx, set()).add(intents[h].site)
    sites = {i.site for i in intents.values() if i.bgp}
    ministry = [h for h, i in intents.items() if i.site == p.inv.sites[0].id and i.bgp]
    for sv in p.services:
        if sv.active not in sites:
            continue
        for af in (4, 6):
            pfx = parse_prefix(sv.prefix(af))
            rep.count("service-origin")
            at = sorted(origins.get(pfx, set()))
            if len(at) > 1 or at != [sv.active]:  # the routers to name: only for a finding (a scan of them all)
                hosts = tuple(h for h, i in intents.items() if i.site in (*at, sv.active) and i.bgp)
            if len(at) > 1:
                rep.add("service-origin", hosts, f"service address {sv.prefix(af)} of {sv.db} is announced by"
                        f" {len(at)} sites at once: {', '.join(at)}")
            elif at != [sv.active]:
                rep.add("service-origin", hosts, f"service address {sv.prefix(af)} of {sv.db} is announced by"
                        f" {at[0] if at else 'no site'}, not by {sv.active} where it is active")
            for h in ministry:
                if pfx not in sim.best[h]:
                    rep.add("service-origin", (h,), f"{h} has no route to service address {sv.prefix(af)} of {sv.db}")


def _dr_survival(p: PlanInput, sim: Simulator, intents: dict[str, DeviceIntent], anchors: dict[str, str],
                 rep: Report, say: Callable[[str], None]) -> None:
    """Remove each DR centre's primary data centre (every session of its routers) and walk what must
    survive; restore it before the next."""
    ministry = p.inv.sites[0].id
    routers: dict[str, set[str]] = {}
    for h, i in intents.items():
        if i.bgp is not None:
            routers.setdefault(i.site, set()).add(h)
    national = [s.id for s in p.inv.sites if s.kind == "dr" and s.parent == ministry]
    children = p.inv.children()
    for dr in (s for s in p.inv.sites if s.kind == "dr" and s.id in anchors):
        primary = dr.parent or ""
        lost = routers.get(primary, set())
        if not lost:
            rep.notes.append(f"dr-survival: {dr.id}'s primary data centre {primary} is not in scope: not checked")
            continue
        own_line_to = sorted({lk.a_site if lk.b_site == dr.id else lk.b_site for lk in p.inv.links
                              if lk.kind == "dr" and dr.id in (lk.a_site, lk.b_site)})
        if not own_line_to:
            rep.count("dr-survival")
            rep.add("dr-survival", (anchors[dr.id],), f"{dr.id} has no WAN line of its own: losing {primary}"
                                                      f" cuts it off")
            continue
        targets = own_line_to if primary == ministry else [ministry, *(n for n in national if n != dr.id)]
        missing = [t for t in targets if t not in anchors]
        if missing:
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            rep.notes.append(f"dr-survival: {', '.join(missing[:5])}{more} not in scope: {dr.id} not checked"
                             f" against it")
        say(f"removing {primary}, the data centre {dr.id} backs up")
        links = sim.links_of(lost)
        sim.set_links(links, up=False)
        try:
            _walk_dr(p, sim, intents, anchors, rep, dr.id, primary, [t for t in targets if t in anchors])
            if primary == ministry:  # the national DR centre: every data centre left, none may be cut off
                _dr_served(sim, intents, anchors, rep, dr.id, primary,
                           [s.id for s in p.inv.sites if s.kind == "dc" and s.id != ministry], cut_ok=False)
            else:
                _dr_served(sim, intents, anchors, rep, dr.id, primary,
                           [c.id for c in children[primary] if c.kind == "dc"])
        finally:
            sim.set_links(links, up=True)


def _walk_dr(p: PlanInput, sim: Simulator, intents: dict[str, DeviceIntent], anchors: dict[str, str],
             rep: Report, dr: str, primary: str, targets: list[str]) -> None:
    h = anchors[dr]
    db = next((d for d in p.devices(dr) if d.role == "DB"), None)
    for t in targets:
        th = anchors[t]
        for af in (4, 6):
            dsts = [(h, th, _lo(intents, th, af)), (th, h, _lo(intents, h, af))]
            if db is not None:  # a zone host of the DR centre (its database), not only its router
                dsts.append((th, h, p.addr.lan_host(dr, "business", "production", af, h, db.hostname).split("/")[0]))
            for src, dst, addr in dsts:
                rep.count("dr-survival")
                w = sim.walk(src, addr)
                if not w.ok:
                    rep.add("dr-survival", (src, dst), f"with {primary} gone, IPv{af} {src} -> {addr} ({dst}):"
                                                       f" {w.detail} via {' > '.join(w.hops)}")
                else:
                    _reply(sim, rep, "dr-survival", src, dst, addr)


def _dr_served(sim: Simulator, intents: dict[str, DeviceIntent], anchors: dict[str, str], rep: Report,
               dr: str, primary: str, served: list[str], cut_ok: bool = True) -> None:
    """The data centres the DR centre serves: reachable both ways while a line still joins them; cut off
    with the lost data centre (a note) when every line they have ends there, unless `cut_ok` is false (the
    national DR centre with the ministry gone: every data centre has a way there, so a cut is a finding)."""
    h = anchors[dr]
    joined = _connected(sim, h)
    cut = []
    for s in served:
        sh = anchors.get(s)
        if sh is None:
            continue
        rep.count("dr-survival")
        walks = [sim.walk(a, _lo(intents, b, 4)) for a, b in ((h, sh), (sh, h))]
        if all(w.ok for w in walks):
            continue
        if not cut_ok and intents[sh].site not in joined:
            rep.add("dr-survival", (h, sh), f"with {primary} gone, {s} has no path of live sessions left to {dr}"
                                            f" (no line of its own towards it)")
        elif intents[sh].site in joined:
            bad = next(w for w in walks if not w.ok)
            rep.add("dr-survival", (h, sh), f"with {primary} gone, {dr} and {s} are still joined by lines but"
                                            f" do not reach each other: {bad.detail} via {' > '.join(bad.hops)}")
        else:
            cut.append(s)
    if cut:
        more = f" and {len(cut) - 5} more" if len(cut) > 5 else ""
        rep.notes.append(f"dr-survival: with {primary} gone, {len(cut)} data centre(s) {dr} serves are cut off"
                         f" with it (every line they have ends there; expected): {', '.join(cut[:5])}{more}")


def _connected(sim: Simulator, start: str) -> set[str]:
    """Sites whose routers `start` still has a path of live sessions to."""
    seen, stack = {start}, [start]
    while stack:
        h = stack.pop()
        for s in sim.sessions[h]:
            if sim.up(s) and s.peer not in seen:
                seen.add(s.peer)
                stack.append(s.peer)
    return {sim.intents[h].site for h in seen}
