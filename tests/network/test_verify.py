"""Static verification: the real plan passes, and each rule catches the fault it exists for."""

from __future__ import annotations

import json

import pytest

from network.intent_model import DeviceIntent, PrefixListEntry
from network.plan import build_intents
from network.verify import verify
from tests.conftest import jinbao
from tests.network.conftest import slice_hosts


@pytest.fixture
def sliced(plan) -> dict[str, DeviceIntent]:
    return build_intents(plan, slice_hosts(plan))


def _rules(report) -> set[str]:
    return {f.rule for f in report.findings}


def _replace_neighbor(intents: dict, host: str, peer: str, **changes) -> None:
    i = intents[host]
    nbrs = tuple(n.model_copy(update=changes) if n.peer == peer else n for n in i.bgp.neighbors)
    intents[host] = i.model_copy(update={"bgp": i.bgp.model_copy(update={"neighbors": nbrs})})


def _drop_neighbor(intents: dict, host: str, peer: str) -> None:
    i = intents[host]
    nbrs = tuple(n for n in i.bgp.neighbors if n.peer != peer)
    intents[host] = i.model_copy(update={"bgp": i.bgp.model_copy(update={"neighbors": nbrs})})


def _widen_prefix_list(intents: dict, host: str, name: str, prefix: str) -> None:
    i = intents[host]
    pls = []
    for pl in i.prefix_lists:
        if pl.name == name:
            pl = pl.model_copy(update={"entries": (*pl.entries, PrefixListEntry(seq=999, action="permit",
                                                                                 prefix=prefix, le=32))})
        pls.append(pl)
    intents[host] = i.model_copy(update={"prefix_lists": tuple(pls)})


def test_slice_passes(plan, sliced) -> None:
    report = verify(plan, sliced, partial=True)
    assert report.ok, report.findings[:5]
    for rule in ("unique", "bgp-session", "reach-primary", "redundancy", "ministry-table", "import-filter",
                 "session-protection", "dr-survival", "dr-idle"):
        assert report.checked.get(rule, 0) > 0, rule
    # Shanxi's cities hang off its data centre only: cut off with it, as expected (a note, not a finding)
    assert any(n.startswith("dr-survival: with 140000-DC gone") and "140100-DC" in n for n in report.notes)


@pytest.mark.slow
def test_nation_passes(plan, intents) -> None:
    report = verify(plan, intents)
    assert report.ok, report.findings[:5]
    assert report.checked["redundancy"] > 10000


def test_session_disagreement(plan, sliced) -> None:
    _replace_neighbor(sliced, "JB-140100-DC-WR01", "JB-140000-DC-WR01", remote_as=4200149999)
    report = verify(plan, sliced, partial=True)
    hit = [f for f in report.findings if f.rule == "bgp-session"]
    assert hit and "JB-140100-DC-WR01" in hit[0].detail["devices"] and "4200149999" in hit[0].message


@pytest.mark.parametrize(("change", "words"), [
    ({"password": None}, "has no key"),
    ({"ttl_security_hops": None}, "has no GTSM"),
    ({"password": {"name": "bgp_somebody_else"}}, "different keys"),
])
def test_unprotected_session(plan, sliced, change: dict, words: str) -> None:
    from network.intent_model import SecretRef

    change = {k: SecretRef(**v) if isinstance(v, dict) else v for k, v in change.items()}
    _replace_neighbor(sliced, "JB-140100-DC-WR01", "JB-140000-DC-WR01", **change)
    report = verify(plan, sliced, partial=True)
    hit = [f for f in report.findings if f.rule == "session-protection"]
    assert hit and all(words in f.message for f in hit) and "JB-140100-DC-WR01" in hit[0].detail["devices"], hit


def test_duplicate_router_id(plan, sliced) -> None:
    a, b = sliced["JB-140100-DC-WR01"], sliced["JB-140200-DC-WR01"]
    sliced[b.hostname] = b.model_copy(update={"bgp": b.bgp.model_copy(update={"router_id": a.bgp.router_id})})
    report = verify(plan, sliced, partial=True)
    assert any(f.rule == "unique" and "router ID" in f.message for f in report.findings)


def test_missing_backup_breaks_redundancy(plan, sliced) -> None:
    # Datong's backup line carries no BGP: losing the primary must cut Datong off
    _drop_neighbor(sliced, "JB-140200-DC-WR01", "JB-140000-DC-WR02")
    _drop_neighbor(sliced, "JB-140000-DC-WR02", "JB-140200-DC-WR01")
    report = verify(plan, sliced, partial=True)
    red = [f for f in report.findings if f.rule == "redundancy"]
    assert red and any("JB-140200-DC-WR01" in f.detail["devices"] for f in red)
    assert "reach-primary" not in _rules(report)  # with every link up it still works


def test_filter_accepting_a_sibling(plan, sliced) -> None:
    datong = plan.addr.aggregate("140200-DC", "business", 4)
    _widen_prefix_list(sliced, "JB-140000-DC-WR01", "SITE-140100-DC-V4", datong)
    report = verify(plan, sliced, partial=True)
    assert any(f.rule == "import-filter" and "sibling 140200-DC" in f.message for f in report.findings)


def test_leaking_more_specifics_to_the_ministry(plan, sliced) -> None:
    # Shanxi announces everything inside its aggregate: the ministry table grows beyond the aggregates
    prov_agg = plan.addr.aggregate("140000-DC", "business", 4)
    for h in ("JB-140000-DC-WR01", "JB-140000-DC-WR02"):
        _widen_prefix_list(sliced, h, "OWN-V4", prov_agg)
        _widen_prefix_list(sliced, h, "SITE-140100-DC-V4", plan.addr.aggregate("140100-DC", "business", 4))
    for h in ("JB-100000-DC-WR01", "JB-100000-DC-WR02"):
        _widen_prefix_list(sliced, h, "SITE-140000-DC-V4", prov_agg)
    report = verify(plan, sliced, partial=True)
    assert any(f.rule == "ministry-table" and "unexpected" in f.message for f in report.findings)


def test_filter_rejecting_the_child_breaks_reachability(plan, sliced) -> None:
    for h in ("JB-140000-DC-WR01", "JB-140000-DC-WR02"):
        _replace_neighbor(sliced, h, "JB-140100-DC-WR01", route_map_in="TO-CHILD-V4")
    report = verify(plan, sliced, partial=True)
    assert {"import-filter", "reach-primary"} <= _rules(report)


def test_verify_cli_scope_json() -> None:
    r = jinbao("verify", "--scope", "140000", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["ok"] is True and data["checked"]["redundancy"] > 0


def test_replies_to_link_addresses_are_checked(plan, sliced) -> None:
    # Beijing WR01 stops originating its link subnets: behind its twin WR02, nobody can answer the
    # ministry's router, which sends from its address on the Beijing WR01 link (in Beijing's p2p block)
    wr = sliced["JB-110000-DC-WR01"]
    keep = tuple(n for n in wr.bgp.networks_v4 if not n.endswith("/31"))
    sliced[wr.hostname] = wr.model_copy(update={"bgp": wr.bgp.model_copy(update={"networks_v4": keep})})
    report = verify(plan, sliced, partial=True)
    replies = [f for f in report.findings if f.rule == "reach-primary" and f.message.startswith("reply")]
    assert replies and all("discarded at JB-110000-DC-WR02" in f.message for f in replies), report.findings[:3]


def test_dr_survival_needs_the_dr_line(plan) -> None:
    """A plan whose DR centre hangs off the data centre it backs up only fails the rule: with 140000-DC gone,
    140000-DR reaches neither the ministry nor the national DR centre, nor is reached."""
    import dataclasses

    from network.plan import PlanInput

    inv = dataclasses.replace(plan.inv, links=tuple(lk for lk in plan.inv.links if lk.kind != "dr"), _site_index={})
    bare = PlanInput(inv=inv, addr=plan.addr, routing=plan.routing, mgmt_pools=plan.mgmt_pools, ports=plan.ports)
    report = verify(bare, build_intents(bare, slice_hosts(bare)), partial=True)
    hits = [f for f in report.findings if f.rule == "dr-survival"]
    assert {"dr-survival"} == _rules(report), report.findings[:3]
    assert any("140000-DR has no WAN line of its own: losing 140000-DC cuts it off" in f.message for f in hits)


def test_dr_survival_walks_fail_without_a_working_line(plan, sliced) -> None:
    """The line exists but the ministry's end carries no session: removing 140000-DC cuts the DR centre off,
    and the walks say so, its database's zone address included."""
    _drop_neighbor(sliced, "JB-100000-DC-WR02", "JB-140000-DR-WR01")
    _drop_neighbor(sliced, "JB-140000-DR-WR01", "JB-100000-DC-WR02")
    report = verify(plan, sliced, partial=True)
    hits = [f for f in report.findings if f.rule == "dr-survival"]
    assert hits and all("with 140000-DC gone" in f.message for f in hits)
    db = plan.addr.lan_host("140000-DR", "business", "production", 4, "", "JB-140000-DR-DB01").split("/")[0]
    assert any(f"-> {db} (JB-140000-DR-WR01)" in f.message for f in hits)
    assert any(f.detail["devices"][0] == "JB-140000-DR-WR01" and "JB-100000-DC-WR01" in f.message for f in hits)
    assert "reach-primary" not in _rules(report)  # with 140000-DC standing nothing changes


def _without_national_dr_lines(plan):
    import dataclasses

    from network.plan import PlanInput

    inv = dataclasses.replace(plan.inv, links=tuple(lk for lk in plan.inv.links
                                                    if not (lk.kind == "dr" and lk.a_site == "100000-DR")),
                              _site_index={})
    return PlanInput(inv=inv, addr=plan.addr, routing=plan.routing, mgmt_pools=plan.mgmt_pools, ports=plan.ports)


def test_national_dr_survival_needs_the_provinces_lines(plan) -> None:
    """Issue 9 item 1: with the ministry removed, every province must still reach the national DR centre.
    Without the provinces' lines to it (only Shanghai's, the national DR centre's own) Shanxi and Beijing are
    cut off with the ministry: a finding, not a note, for the national DR centre."""
    bare = _without_national_dr_lines(plan)
    report = verify(bare, build_intents(bare, slice_hosts(bare)), partial=True)
    assert _rules(report) == {"dr-survival"}, report.findings[:3]
    msgs = [f.message for f in report.findings]
    for prov in ("140000-DC", "110000-DC", "140100-DC"):
        assert f"with 100000-DC gone, {prov} has no path of live sessions left to 100000-DR (no line of its own" \
               " towards it)" in msgs, (prov, msgs[:3])


def test_national_dr_survival_walks_every_province_and_its_database(plan, sliced) -> None:
    """The lines exist but Shanxi's end of its line to the national DR centre carries no session: with the
    ministry gone, Shanxi's data centre (and Taiyuan below it) cannot reach the national DR centre, nor its
    database: findings naming them."""
    _drop_neighbor(sliced, "JB-140000-DC-WR02", "JB-100000-DR-WR01")
    _drop_neighbor(sliced, "JB-100000-DR-WR01", "JB-140000-DC-WR02")
    report = verify(plan, sliced, partial=True)
    hits = [f for f in report.findings if f.rule == "dr-survival"]
    assert hits and all("with 100000-DC gone" in f.message for f in hits), report.findings[:3]
    db = plan.addr.lan_host("100000-DR", "business", "production", 4, "", "JB-100000-DR-DB01").split("/")[0]
    assert any(f.detail["devices"][0] == "JB-140000-DC-WR01" and f"-> {db} (JB-100000-DR-WR01)" in f.message
               for f in hits)
    assert any("140100-DC" in f.message for f in hits)
    assert not any("110000-DC" in f.message for f in hits)  # Beijing keeps its line


def test_dr_idle_fails_when_a_dr_line_wins_in_the_intact_network(plan, sliced) -> None:
    """The national DR centre taking only a default from the ministry (no table) would reach every province
    over its DR line while the ministry stands (longest match): dr-idle says so, one line per router and line."""
    nd = sliced["JB-100000-DR-WR01"]
    maps = tuple(m.model_copy(update={"entries": m.entries[:1]}) if m.name.startswith("FROM-PARENT-") else m
                 for m in nd.route_maps)
    sliced[nd.hostname] = nd.model_copy(update={"route_maps": maps})
    report = verify(plan, sliced, partial=True)
    idle = [f for f in report.findings if f.rule == "dr-idle"]
    assert idle, report.findings[:3]
    assert all(f.message.count("\n") == 0 and f.detail["devices"][0] == nd.hostname for f in idle)
    assert any(f.detail["devices"] == ["JB-100000-DR-WR01", "JB-140000-DC-WR02"] and "with every site standing,"
               " JB-100000-DR-WR01's best path to" in f.message and "uses the DR line to JB-140000-DC-WR02"
               in f.message for f in idle)


def test_the_failure_analyses_simulator_differs_only_by_the_service_addresses(plan, sliced) -> None:
    """verify's failure analyses run on `Simulator.without(service addresses)`: every router's best routes
    there are the full simulation's minus exactly those prefixes, and the full one is left untouched."""
    from network.bgpsim import Simulator, parse_prefix

    services = frozenset(parse_prefix(sv.prefix(af)) for sv in plan.services for af in (4, 6))
    full = Simulator(sliced, partial=True)
    full.converge()
    before = {h: dict(b) for h, b in full.best.items()}
    lean = full.without(services)
    lean.converge()
    assert full.best == before
    dropped = 0
    for h, best in full.best.items():
        kept = {p: r for p, r in best.items() if p not in services}
        dropped += len(best) - len(kept)
        assert {p: r.as_path for p, r in lean.best[h].items()} == {p: r.as_path for p, r in kept.items()}, h
    assert dropped > 0  # the slice does carry service addresses: the comparison is not empty
