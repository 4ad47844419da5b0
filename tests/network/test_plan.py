"""The routing plan: ASNs, sessions, preferences, filters and aggregates, read from real intents."""

from __future__ import annotations

import ipaddress
import json

from network.intent_model import DeviceIntent
from network.plan import build_intents
from tests.conftest import jinbao


def _nbrs(intent: DeviceIntent, **match) -> list:
    return [n for n in intent.bgp.neighbors if all(getattr(n, k) == v for k, v in match.items())]


def _rmap(intent: DeviceIntent, name: str):
    return next(m for m in intent.route_maps if m.name == name)


def _plist(intent: DeviceIntent, name: str) -> list[str]:
    return [e.prefix for e in next(p for p in intent.prefix_lists if p.name == name).entries]


def test_every_intent_validates(intents) -> None:
    assert len(intents) > 3000
    for intent in intents.values():
        again = DeviceIntent.model_validate_json(intent.model_dump_json())
        assert again == intent


def test_asns(plan, intents) -> None:
    assert intents["JB-100000-DC-WR01"].asn == 4200100000
    assert intents["JB-140100-DC-WR01"].asn == 4200140100
    site_asn = {}
    for s in plan.inv.sites:
        site_asn.setdefault(plan.inv.asn(s), s.id)
    assert len(site_asn) == len(plan.inv.sites)  # every site its own AS: eBGP between sites
    for i in intents.values():
        for n in i.bgp.neighbors:
            peer = intents[n.peer]
            assert n.remote_as == peer.asn
            assert (n.kind == "ibgp") == (peer.site == i.site)


def test_city_uplinks_prefer_primary(plan, intents) -> None:
    wr = intents["JB-140100-DC-WR01"]
    for afi, v in (("ipv4", "V4"), ("ipv6", "V6")):
        primary = _nbrs(wr, role="upstream", link_kind="primary", afi=afi)
        backup = _nbrs(wr, role="upstream", link_kind="backup", afi=afi)
        assert [n.peer for n in primary] == ["JB-140000-DC-WR01"]
        assert [n.peer for n in backup] == ["JB-140000-DC-WR02"]
        lp_primary = _rmap(wr, primary[0].route_map_in).entries[0].set_local_preference
        lp_backup = _rmap(wr, backup[0].route_map_in).entries[0].set_local_preference
        assert lp_primary > lp_backup
        # the upper tier prefers the primary too: the backup export prepends our own AS
        assert _rmap(wr, backup[0].route_map_out).entries[0].set_as_path_prepend == (wr.asn,) * 3
        assert _rmap(wr, primary[0].route_map_out).entries[0].set_as_path_prepend == ()
        # only the default comes down, only our aggregates go up, tagged with the city community
        assert _plist(wr, _rmap(wr, primary[0].route_map_in).entries[0].match_prefix_list) == [
            "0.0.0.0/0" if afi == "ipv4" else "::/0"]
        out = _rmap(wr, primary[0].route_map_out).entries[0]
        assert out.set_community == ("65100:4",)
        af = 4 if afi == "ipv4" else 6
        # (and its database's service address, which it announces while it runs the database: docs/dr.md)
        assert _plist(wr, out.match_prefix_list) == [
            plan.addr.aggregate("140100-DC", pool, af) for pool in ("business", "loopback", "p2p")] + [
            plan.addr.service("140100-DC", "JB-140100-DC-DB01", af)]
        assert f"OWN-{v}" == out.match_prefix_list


def test_downstream_filters_accept_exactly_the_childs_aggregates(plan, intents) -> None:
    prov = intents["JB-140000-DC-WR01"]
    down = _nbrs(prov, role="downstream", peer="JB-140100-DC-WR01", afi="ipv4")
    assert len(down) == 1 and down[0].default_originate and down[0].max_prefix >= 6
    pl = _rmap(prov, down[0].route_map_in).entries[0].match_prefix_list
    assert sorted(_plist(prov, pl)) == sorted([plan.addr.aggregate("140100-DC", pool, 4)
                                              for pool in ("business", "loopback", "p2p")]
                                             + [plan.addr.service("140100-DC", "JB-140100-DC-DB01", 4)])
    for i in intents.values():
        for n in i.bgp.neighbors:
            assert n.bfd and n.route_map_in and n.route_map_out
            if n.kind == "ebgp":
                assert n.max_prefix


def test_ministry_has_no_upstream_and_sends_defaults(intents) -> None:
    m = intents["JB-100000-DC-WR01"]
    assert not _nbrs(m, role="upstream")
    down = _nbrs(m, role="downstream")
    assert {n.peer for n in down} >= {"JB-140000-DC-WR01", "JB-110000-DC-WR01", "JB-100000-DR-WR01"}
    assert all(n.default_originate for n in down)


def test_aggregates_are_anchored_and_originated(plan, intents) -> None:
    wr = intents["JB-140100-DC-WR01"]
    discards = {s.prefix for s in wr.static_routes if s.next_hop is None}
    for pool in ("business", "loopback", "p2p"):
        for af in (4, 6):
            agg = plan.addr.aggregate("140100-DC", pool, af)
            assert agg in discards
            assert agg in (wr.bgp.networks_v4 if af == 4 else wr.bgp.networks_v6)
    # zones behind the firewall are reached through it, and so is the site's database service address (docs/dr.md)
    fw_routes = [s for s in wr.static_routes if s.next_hop and s.vrf is None]
    assert {s.description.split()[0] for s in fw_routes} == {"production", "exchange", "service"}
    transit = next(i for i in wr.interfaces if i.kind == "transit")
    for s in fw_routes:
        if ":" not in s.prefix:
            assert ipaddress.ip_address(s.next_hop) in ipaddress.ip_interface(transit.ipv4).network


def test_link_addresses_match_both_ends(intents) -> None:
    city = intents["JB-140100-DC-WR01"]
    prov = intents["JB-140000-DC-WR01"]
    up = next(i for i in city.interfaces if i.peer == prov.hostname)
    down = next(i for i in prov.interfaces if i.peer == city.hostname)
    assert ipaddress.ip_interface(up.ipv4).network == ipaddress.ip_interface(down.ipv4).network
    assert up.ipv4 != down.ipv4 and up.bfd and down.bfd


def test_intent_cli_json() -> None:
    r = jinbao("intent", "JB-140100-DC-WR01", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["hostname"] == "JB-140100-DC-WR01" and data["bgp"]["asn"] == 4200140100
    # secrets appear only as references, never as values
    assert data["snmp"]["auth_key"] == {"name": "snmp_auth"} and "LAB" not in r.stdout
    r = jinbao("intent", "JB-149999-DC-WR01")
    assert r.returncode != 0 and r.stderr.count("\n") == 1 and "JB-149999-DC-WR01" in r.stderr


def test_dr_centres_have_lines_of_their_own_as_the_last_resort(plan, intents) -> None:
    """Issue 9 item 1: a provincial DR centre's own line goes to the ministry's second router, the national
    one's to Shanghai's; local-pref `dr` (30) on what is learned over it both ways, the backup prepend on what
    the DR centre sends, and the ministry accepts over it exactly the DR centre's own aggregates."""
    lines = {lk.b: lk.a for lk in plan.inv.links if lk.kind == "dr" and lk.a_site != "100000-DR"}
    assert lines == {"JB-100000-DR-WR01": "JB-310000-DC-WR02", "JB-140000-DR-WR01": "JB-100000-DC-WR02",
                     "JB-410000-DR-WR01": "JB-100000-DC-WR02"}
    assert plan.routing.bgp.local_preference.dr == 30
    dr, m2 = intents["JB-140000-DR-WR01"], intents["JB-100000-DC-WR02"]
    for afi, af in (("ipv4", 4), ("ipv6", 6)):
        [up] = _nbrs(dr, link_kind="dr", afi=afi)
        assert up.peer == m2.hostname and up.role == "upstream" and up.ttl_security_hops == 1
        assert _rmap(dr, up.route_map_in).entries[0].set_local_preference == 30
        assert _rmap(dr, up.route_map_out).entries[0].set_as_path_prepend == (dr.asn,) * 3
        [down] = _nbrs(m2, link_kind="dr", afi=afi, peer=dr.hostname)
        assert down.role == "downstream" and down.default_originate
        entry = _rmap(m2, down.route_map_in).entries[0]
        assert entry.set_local_preference == 30
        own = [plan.addr.aggregate("140000-DR", pool, af) for pool in ("business", "loopback", "p2p")]
        # and the service addresses of the databases it holds replicas of (announced there after a failover)
        held = [sv.prefix(af) for sv in plan.services if sv.replica_site == "140000-DR"]
        assert len(held) >= 10 and _plist(m2, entry.match_prefix_list) == own + held
        # the province keeps passing its DR centre's aggregates up, and the ministry takes them from it
        # (longest match: otherwise the DR line would carry the traffic while the province stands)
        prov = intents["JB-140000-DC-WR01"]
        [to_parent] = _nbrs(prov, link_kind="primary", role="upstream", afi=afi)
        sent = _plist(prov, _rmap(prov, to_parent.route_map_out).entries[0].match_prefix_list)
        svc = [sv.prefix(af) for sv in plan.services_below("140000-DC")]  # Shanxi's, and those its DR centre holds
        assert {sv.primary_site[:2] for sv in plan.services_below("140000-DC")} == {"14"}
        assert sent == [plan.addr.aggregate("140000-DC", pool, af) for pool in ("business", "loopback", "p2p")] + \
            own + svc
        m1 = intents["JB-100000-DC-WR01"]
        [from_prov] = _nbrs(m1, peer="JB-140000-DC-WR01", afi=afi)
        assert _plist(m1, _rmap(m1, from_prov.route_map_in).entries[0].match_prefix_list) == sent
    assert any(i.link_kind == "dr" and i.peer == "JB-100000-DR-WR01" for i in intents["JB-310000-DC-WR02"].interfaces)


def test_every_province_has_a_line_to_the_national_dr_centre(plan, intents) -> None:
    """Issue 9 item 1, the rest: the national DR centre backs up the ministry and every provincial-level data
    centre, so each of those has a line (kind dr) from its second router to the national DR router, Shanghai
    through the national DR centre's own line. Over those lines the national DR centre is a last-resort parent
    (default sent, the province's announcement accepted, local-pref 30 both ways, the province prepends), and
    the ministry sends the national DR centre its whole table so that, while it stands, no DR line wins."""
    nd = "JB-100000-DR-WR01"
    provinces = {s.id for s in plan.inv.sites if s.parent == "100000-DC" and s.kind == "dc"}
    assert len(provinces) == 31
    ends = {(lk.b_site if lk.a == nd else lk.a_site) for lk in plan.inv.links
            if lk.kind == "dr" and nd in (lk.a, lk.b)}
    assert ends == provinces
    assert all((lk.b if lk.a == nd else lk.a).endswith("-DC-WR02") for lk in plan.inv.links
               if lk.kind == "dr" and nd in (lk.a, lk.b))
    it = build_intents(plan, {nd, "JB-100000-DC-WR01", "JB-140000-DC-WR02", "JB-310000-DC-WR02"})
    d, m1 = it[nd], it["JB-100000-DC-WR01"]
    assert sum(1 for i in d.interfaces if i.link_kind == "dr") == 31
    for afi, af in (("ipv4", 4), ("ipv6", 6)):
        table = plan.ministry_table(af, nd)
        for prov in ("JB-140000-DC-WR02", "JB-310000-DC-WR02"):  # a new line, and Shanghai's older one
            [down] = _nbrs(d, link_kind="dr", afi=afi, peer=prov)
            assert down.role == "downstream" and down.default_originate
            entry = _rmap(d, down.route_map_in).entries[0]
            assert entry.set_local_preference == 30
            sent = [a for a in table if a in _plist(d, entry.match_prefix_list)]
            assert sent and _plist(d, entry.match_prefix_list) == sent  # exactly what the province sends up
            assert _plist(d, _rmap(d, down.route_map_out).entries[0].match_prefix_list) == [
                "0.0.0.0/0" if af == 4 else "::/0"]
            [up] = _nbrs(it[prov], link_kind="dr", afi=afi)
            assert up.role == "upstream" and up.peer == nd
            assert _rmap(it[prov], up.route_map_in).entries[0].set_local_preference == 30
            out = _rmap(it[prov], up.route_map_out).entries[0]
            assert out.set_as_path_prepend == (it[prov].asn,) * 3
        # the ministry's table, both ways of the national DR centre's primary line, at the primary preference
        [prim] = _nbrs(d, link_kind="primary", afi=afi)
        rin = _rmap(d, prim.route_map_in)
        assert [e.set_local_preference for e in rin.entries] == [200, 200]
        assert _plist(d, rin.entries[1].match_prefix_list) == table and prim.max_prefix >= len(table)
        [to_nd] = _nbrs(m1, peer=nd, afi=afi)
        assert [_plist(m1, e.match_prefix_list) for e in _rmap(m1, to_nd.route_map_out).entries][1] == table
        assert plan.addr.aggregate("140000-DR", "business", af) in table
