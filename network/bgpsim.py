"""A small, event-driven BGP simulator over device intents (Batfish-style static analysis).

It evaluates what the rendered configurations would do, from the same intents: sessions come up only
when both ends agree; routes are originated from `networks`, sent with `default-originate`, filtered by
the route-maps and prefix-lists as written (first matching entry wins, implicit deny), AS paths are
prepended and loop-checked, and best paths are chosen by local-preference, locally originated, AS-path
length, eBGP over iBGP, then peer router ID. Withdrawals propagate because every router keeps an
Adj-RIB-In per neighbour and recomputes from it, so links can be failed and restored incrementally.
"""

from __future__ import annotations

import copy
import ipaddress
from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache

from network.intent_model import BgpNeighbor, DeviceIntent, RouteMap

Prefix = tuple[int, int, int]  # (af, start, plen)
AFI_AF = {"ipv4": 4, "ipv6": 6}
BITS = {4: 32, 6: 128}


@lru_cache(maxsize=1 << 18)  # bounded: a process may verify many networks
def parse_prefix(text: str) -> Prefix:
    # cached: a national verify parses the same few thousand addresses half a million times (every walk)
    net = ipaddress.ip_network(text, strict=False)
    return net.version, int(net.network_address), net.prefixlen


@lru_cache(maxsize=1 << 18)  # bounded: a process may verify many networks
def _network_of(address: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_interface(address).network


def contains(outer: Prefix, inner: Prefix) -> bool:
    af, start, plen = outer
    if af != inner[0] or inner[2] < plen:
        return False
    shift = BITS[af] - plen
    return (inner[1] >> shift) == (start >> shift)


@dataclass(frozen=True, slots=True)
class Route:
    prefix: Prefix
    as_path: tuple[int, ...]
    local_pref: int
    origin: str  # hostname that originated it
    peer: str | None  # hostname it was learned from (None: local)
    ebgp: bool
    peer_rid: int = 0
    communities: tuple[str, ...] = ()
    via_kind: str = ""  # link kind of the interface it was learned over (primary, backup, internal ...)
    via_if: str = ""  # the receiving router's interface it was learned over

    def rank(self) -> tuple:
        # lower sorts better
        return (-self.local_pref, self.peer is not None, len(self.as_path), not self.ebgp, self.peer_rid)


@dataclass(slots=True)
class Session:
    local: str
    peer: str
    afi: str
    stmt: BgpNeighbor  # local's neighbour statement towards peer
    peer_stmt: BgpNeighbor  # peer's statement towards local
    link: frozenset[str] = field(default_factory=frozenset)  # interface pair it runs over, for failures


class Policy:
    """Compiled prefix-lists and route-maps of one device."""

    def __init__(self, intent: DeviceIntent) -> None:
        self.plists: dict[str, list[tuple[str, Prefix, int, int]]] = {}
        for pl in intent.prefix_lists:
            entries = []
            for e in sorted(pl.entries, key=lambda e: e.seq):
                p = parse_prefix(e.prefix)
                ge = e.ge if e.ge is not None else p[2]
                le = e.le if e.le is not None else (BITS[p[0]] if e.ge is not None else p[2])
                entries.append((e.action, p, ge, le))
            self.plists[pl.name] = entries
        self.cl = {c.name: set(c.communities) for c in intent.community_lists}
        self.maps: dict[str, RouteMap] = {m.name: m for m in intent.route_maps}
        # entries in evaluation order, once: route-maps are applied millions of times in a national run
        self.entries = {m.name: sorted(m.entries, key=lambda e: e.seq) for m in intent.route_maps}
        self._verdicts: dict[tuple[str, Prefix], bool] = {}

    def plist_permits(self, name: str, p: Prefix) -> bool:
        key = (name, p)
        verdict = self._verdicts.get(key)
        if verdict is None:
            verdict = False
            for action, ep, ge, le in self.plists.get(name, ()):
                if contains(ep, p) and ge <= p[2] <= le:
                    verdict = action == "permit"
                    break
            self._verdicts[key] = verdict
        return verdict

    def apply(self, name: str | None, r: Route, own_asn: int) -> Route | None:
        if name is None:
            return None  # eBGP without a policy exchanges nothing (FRR's ebgp-requires-policy, RFC 8212)
        entries = self.entries.get(name)
        if entries is None:
            return None
        for e in entries:
            if e.match_prefix_list is not None and not self.plist_permits(e.match_prefix_list, r.prefix):
                continue
            if e.match_community_list is not None and not (self.cl.get(e.match_community_list, set())
                                                           & set(r.communities)):
                continue
            if e.action == "deny":
                return None
            lp = e.set_local_preference if e.set_local_preference is not None else r.local_pref
            path = tuple(e.set_as_path_prepend) + r.as_path
            comms = tuple(dict.fromkeys(r.communities + tuple(e.set_community)))
            return Route(r.prefix, path, lp, r.origin, r.peer, r.ebgp, r.peer_rid, comms, r.via_kind, r.via_if)
        return None


class Simulator:
    def __init__(self, intents: dict[str, DeviceIntent], partial: bool = False,
                 exclude: frozenset[Prefix] = frozenset()) -> None:
        """`partial`: the intents are a slice of the network; sessions to routers outside it are ignored
        instead of reported (the slice is analysed as if those neighbours were silent). `exclude`: prefixes
        never originated (the failure analyses leave the DR service addresses out: BGP chooses every prefix
        on its own, so host routes change no other prefix's path, and they are most of the table)."""
        self.intents = intents
        self.partial = partial
        self.exclude = exclude
        self.policy = {h: Policy(i) for h, i in intents.items()}
        self.rid = {h: int(ipaddress.ip_address(i.bgp.router_id)) if i.bgp else 0 for h, i in intents.items()}
        self.owner: dict[str, tuple[str, str]] = {}  # address -> (hostname, interface)
        self.link_kind: dict[str, str] = {}  # address -> link kind of its interface
        for h, i in intents.items():
            for itf in i.interfaces:
                if itf.vrf:
                    continue
                for a in (itf.ipv4, itf.ipv6):
                    if a:
                        self.owner[a.split("/")[0]] = (h, itf.name)
                        self.link_kind[a.split("/")[0]] = itf.link_kind or itf.kind
        self.sessions: dict[str, list[Session]] = {h: [] for h in intents}
        self.problems: list[tuple[str, tuple[str, ...], str]] = []  # (rule, devices, message)
        self._build_sessions()
        self.down: set[frozenset[str]] = set()  # failed links, as interface-pair keys
        self.adj_in: dict[str, dict[tuple[str, str], dict[Prefix, Route]]] = {h: {} for h in intents}
        self.best: dict[str, dict[Prefix, Route]] = {h: {} for h in intents}
        self._fibs: dict[str, tuple[dict[int, list[int]], dict[Prefix, tuple[str, object]]]] = {}
        self._statics: dict[str, list[tuple[Prefix, int, str, object]]] = {}
        self.local: dict[str, dict[Prefix, Route]] = {h: self._originated(h) for h in intents}

    def without(self, exclude: frozenset[Prefix]) -> Simulator:
        """A new, unconverged simulator over the same sessions and policies (built once: the slow part) that
        never originates `exclude`; this one is left as it is."""
        new = copy.copy(self)
        new.exclude = exclude
        new.down = set()
        new.adj_in = {h: {} for h in self.intents}
        new.best = {h: {} for h in self.intents}
        new._fibs = {}
        new._statics = {}
        new.local = {h: new._originated(h) for h in self.intents}
        return new

    # -- sessions ---------------------------------------------------------------------------------
    def _build_sessions(self) -> None:
        for h, i in self.intents.items():
            if i.bgp is None:
                continue
            for n in i.bgp.neighbors:
                if self.partial and n.peer not in self.intents:
                    continue
                own = self.owner.get(n.address)
                if own is None:
                    self.problems.append(("session", (h, n.peer), f"neighbor {n.address} ({n.peer}): no device has that"
                                                        f" address"))
                    continue
                peer, peer_if = own
                pi = self.intents[peer]
                if pi.bgp is None or pi.asn != n.remote_as:
                    self.problems.append(("session", (h, peer), f"neighbor {n.address} remote-as {n.remote_as} but"
                                                                f" {peer}"
                                                                f" is AS {pi.asn}"))
                    continue
                # the peer's statement for THIS session: the one naming our address on the subnet that holds
                # the neighbour address (two routers may share several sessions: internal link and transit
                # LAN, or a primary and a backup line between the same pair)
                target = ipaddress.ip_address(n.address)
                my_addrs = {a.split("/")[0]: itf.name for itf in i.interfaces if not itf.vrf
                            for a in (itf.ipv4, itf.ipv6)
                            if a and target in _network_of(a)}
                back = [m for m in pi.bgp.neighbors if m.address in my_addrs and m.afi == n.afi]
                if not back:
                    self.problems.append(("session", (h, peer),
                                          f"{peer} has no {n.afi} neighbor statement back to {h}"))
                    continue
                m = back[0]
                if m.remote_as != i.asn:
                    self.problems.append(("session", (h, peer), f"{peer} expects {h} as AS {m.remote_as}, but it is"
                                                        f" AS {i.asn}"))
                    continue
                link = frozenset({f"{h}:{my_addrs[m.address]}", f"{peer}:{peer_if}"})
                self.sessions[h].append(Session(h, peer, n.afi, n, m, link))

    def _originated(self, h: str) -> dict[Prefix, Route]:
        i = self.intents[h]
        if i.bgp is None:
            return {}
        # a `network` statement originates only a prefix the router has a route to, exactly (FRR's
        # import-check, the vendors' rule): a DR service address is gated by a static route (docs/dr.md)
        have = {pfx for pfx, _, _, _ in self._static_rows(h)}
        out = {}
        for text in (*i.bgp.networks_v4, *i.bgp.networks_v6):
            p = parse_prefix(text)
            if p in have and p not in self.exclude:
                out[p] = Route(p, (), 100, h, None, False)
        return out

    def up(self, s: Session) -> bool:
        return s.link not in self.down

    # -- propagation ------------------------------------------------------------------------------
    def _export(self, s: Session) -> dict[Prefix, Route]:
        """What `s.peer` accepts from `s.local` over session `s`: the full table."""
        af = AFI_AF[s.afi]
        out: dict[Prefix, Route] = {}
        routes = list(self.best[s.local].values())
        if s.stmt.default_originate:
            d = (af, 0, 0)
            routes = [r for r in routes if r.prefix != d] + [Route(d, (), 100, s.local, None, False)]
        for r in routes:
            if r.prefix[0] != af:
                continue
            got = self._export_route(s, r)
            if got is not None:
                out[got.prefix] = got
        return out

    def _export_prefix(self, s: Session, p: Prefix) -> Route | None:
        """What `s.peer` accepts for prefix `p` over session `s` (None: nothing): the full table's entry for
        `p`, each prefix being exported on its own (policies never change a route's prefix)."""
        if s.stmt.default_originate and p == (AFI_AF[s.afi], 0, 0):
            return self._export_route(s, Route(p, (), 100, s.local, None, False))
        r = self.best[s.local].get(p)
        return None if r is None else self._export_route(s, r)

    def _export_route(self, s: Session, r: Route) -> Route | None:
        x, y = s.local, s.peer
        xi, yi = self.intents[x], self.intents[y]
        ebgp = xi.asn != yi.asn
        af = AFI_AF[s.afi]
        if not ebgp and r.peer is not None and not r.ebgp:
            return None  # iBGP split horizon
        is_default_orig = s.stmt.default_originate and r.prefix == (af, 0, 0) and r.origin == x
        sent = r if is_default_orig else self.policy[x].apply(s.stmt.route_map_out, r, xi.asn)
        if sent is None:
            return None
        via = self.link_kind.get(s.stmt.address, "")
        via_if = self.owner.get(s.stmt.address, ("", ""))[1]
        if ebgp:
            if yi.asn in sent.as_path:
                return None
            sent = Route(sent.prefix, (xi.asn, *sent.as_path), 100, sent.origin, x, True, self.rid[x],
                         sent.communities, via, via_if)
        else:
            sent = Route(sent.prefix, sent.as_path, sent.local_pref, sent.origin, x, False, self.rid[x],
                         sent.communities, via, via_if)
        return self.policy[y].apply(s.peer_stmt.route_map_in, sent, yi.asn)

    def _recompute(self, h: str) -> set[Prefix]:
        """Choose `h`'s best paths again; returns the prefixes whose best path changed."""
        cands: dict[Prefix, Route] = dict(self.local[h])
        for routes in self.adj_in[h].values():
            for p, r in routes.items():
                cur = cands.get(p)
                if cur is None or r.rank() < cur.rank():
                    cands[p] = r
        old = self.best[h]
        if cands == old:
            return set()
        self.best[h] = cands
        self._fibs.pop(h, None)  # its forwarding table derives from the old best paths
        return {p for p in old.keys() | cands.keys() if old.get(p) != cands.get(p)}

    def converge(self, start: list[str] | None = None, limit: int = 5_000_000,
                 links: set[frozenset[str]] | None = None) -> int:
        """Propagate until nothing changes; returns the number of router updates processed.

        Routers in `start` re-export unconditionally (their sessions changed); others only when their
        best paths change. `links`, when given, are the links whose state changed: a router of `start`
        re-sends its full table only over sessions on them (its other peers hold it already)."""
        queue = deque(start if start is not None else list(self.intents))
        queued = set(queue)
        forced = set(queue)
        steps = 0
        while queue:
            h = queue.popleft()
            queued.discard(h)
            steps += 1
            if steps > limit:
                raise RuntimeError("BGP simulation did not converge (route oscillation?)")
            changed = self._recompute(h)
            if not changed and h not in forced:
                continue
            full = h in forced
            forced.discard(h)
            for s in self.sessions[h]:
                key = (h, s.stmt.address)  # one Adj-RIB-In per session, not per neighbour router
                rev = self.adj_in[s.peer]
                old = rev.get(key, {})
                if not self.up(s):
                    new = {}
                elif full and (links is None or s.link in links):
                    new = self._export(s)
                else:
                    # what the peer holds from us is the full export of our previous best paths (every change
                    # of them is exported, and a session's change forces a full export): only the changed
                    # prefixes can differ, which is most of the work saved when one link of ~800 fails
                    new = old
                    af = AFI_AF[s.afi]
                    for p in changed:
                        if p[0] != af:
                            continue
                        got = self._export_prefix(s, p)
                        if got != old.get(p):
                            if new is old:
                                new = dict(old)
                            if got is None:
                                del new[p]
                            else:
                                new[p] = got
                if old != new:
                    rev[key] = new
                    if s.peer not in queued:
                        queue.append(s.peer)
                        queued.add(s.peer)
        return steps

    def set_link(self, link: frozenset[str], up: bool) -> None:
        """Fail or restore a link (interface pair) and reconverge from its two ends."""
        self.set_links([link], up)

    def set_links(self, links: list[frozenset[str]], up: bool) -> None:
        """Fail or restore several links at once (a whole site lost) and reconverge once."""
        for link in links:
            if up:
                self.down.discard(link)
            else:
                self.down.add(link)
        self.converge(sorted({e.split(":", 1)[0] for link in links for e in link}), links=set(links))

    def links_of(self, hosts: set[str]) -> list[frozenset[str]]:
        """Every session link with an end on one of `hosts`: what removing those routers takes down."""
        return sorted({s.link for h, ss in self.sessions.items() for s in ss if h in hosts or s.peer in hosts},
                      key=sorted)

    # -- forwarding -------------------------------------------------------------------------------
    def _fib(self, h: str) -> tuple[dict[int, list[int]], dict[Prefix, tuple[str, object]]]:
        """`h`'s forwarding table, indexed: the prefix lengths present per address family, longest first, and
        what each prefix resolves to (connected beats static beats BGP). Kept until `h`'s best paths change."""
        cached = self._fibs.get(h)
        if cached is not None:
            return cached
        rows = list(self._static_rows(h))
        for p, r in self.best[h].items():
            if r.peer is not None:
                rows.append((p, 2, "bgp", r))
        rows.sort(key=lambda x: (-x[0][2], x[1]))
        index: dict[Prefix, tuple[str, object]] = {}
        for p, _, kind, data in rows:
            index.setdefault(p, (kind, data))  # the first row of a prefix wins, as in a linear scan
        lengths: dict[int, list[int]] = {}
        for af, _, plen in index:
            lengths.setdefault(af, []).append(plen)
        cached = ({af: sorted(set(ls), reverse=True) for af, ls in lengths.items()}, index)
        self._fibs[h] = cached
        return cached

    def _static_rows(self, h: str) -> list[tuple[Prefix, int, str, object]]:
        """Connected and static routes: they never change during a simulation, so they are parsed once."""
        rows = self._statics.get(h)
        if rows is None:
            i = self.intents[h]
            rows = [(parse_prefix(a), 0, "connected", itf) for itf in i.interfaces if not itf.vrf
                    for a in (itf.ipv4, itf.ipv6) if a]
            rows += [(parse_prefix(st.prefix), 1, "static", st) for st in i.static_routes if st.vrf is None]
            self._statics[h] = rows
        return rows

    def lookup(self, h: str, dst: Prefix) -> tuple[str, object] | None:
        """Longest-prefix match: one dictionary probe per prefix length present (prefixes are stored with
        their host bits clear, as parse_prefix gives them), not a scan of the table."""
        lengths, index = self._fib(h)
        af, start, plen = dst
        bits = BITS[af]
        for length in lengths.get(af, ()):
            if length > plen:
                continue
            shift = bits - length
            hit = index.get((af, start >> shift << shift, length))
            if hit is not None:
                return hit
        return None

    def egress_address(self, src: str, dst_text: str) -> str | None:
        """The source address `src`'s kernel would put on a packet to `dst_text`: its outgoing interface's."""
        dst = parse_prefix(dst_text)
        hit = self.lookup(src, dst)
        if hit is None or hit[0] != "bgp":
            return None
        r: Route = hit[1]  # type: ignore[assignment]
        itf = next((i for i in self.intents[src].interfaces if i.name == r.via_if), None)
        addr = None if itf is None else (itf.ipv4 if dst[0] == 4 else itf.ipv6)
        return addr.split("/")[0] if addr else None

    def walk(self, src: str, dst_text: str, max_hops: int = 64) -> Walk:
        """Follow the forwarding tables hop by hop from router `src` towards address `dst_text`."""
        dst = parse_prefix(dst_text)
        cur, hops = src, [src]
        kinds: list[str] = []
        for _ in range(max_hops):
            owner = self.owner.get(dst_text)
            if owner is not None and owner[0] == cur:
                return Walk(True, hops, kinds, "delivered")
            hit = self.lookup(cur, dst)
            if hit is None:
                return Walk(False, hops, kinds, f"no route at {cur}")
            kind, data = hit
            if kind == "connected":
                return Walk(True, hops, kinds, f"on a connected subnet of {cur}")
            if kind == "static":
                if data.next_hop is None:  # type: ignore[attr-defined]
                    return Walk(False, hops, kinds, f"discarded at {cur}")
                return Walk(True, hops, kinds, f"handed to {data.next_hop} by {cur}")  # type: ignore[attr-defined]
            r: Route = data  # type: ignore[assignment]
            kinds.append(r.via_kind)
            cur = r.peer  # type: ignore[assignment]
            if cur in hops:
                return Walk(False, [*hops, cur], kinds, "forwarding loop")
            hops.append(cur)
        return Walk(False, hops, kinds, "too many hops")


@dataclass(frozen=True, slots=True)
class Walk:
    ok: bool
    hops: list[str]
    link_kinds: list[str]  # link kind of every hop taken
    detail: str
