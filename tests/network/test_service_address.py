"""DR service addresses (issue 13 item 5): one /32 + /128 per replicated production database in the IP record,
originated in BGP by exactly one site (a static route through the firewall is the gate), accepted by exact
filters on the way up, and the static verifier catches two sites announcing it at once."""

from __future__ import annotations

import dataclasses
import ipaddress
import json

import pytest

from inventory.drpolicy import first_db
from network.bgpsim import Simulator, parse_prefix
from network.intent_model import DeviceIntent
from network.plan import PlanInput, ServiceAddress, build_firewall_intents, build_intents
from network.verify import verify
from tests.conftest import jinbao
from tests.network.conftest import slice_hosts

SHANXI = "140000-DC"  # its replica is in the national DR centre (100000-DR), both inside the slice below


def _sv(plan: PlanInput, site: str) -> ServiceAddress:
    return next(sv for sv in plan.services if sv.primary_site == site)


def _switched(plan: PlanInput, site: str) -> PlanInput:
    """The plan after a switchover of `site`'s database: the replica's site runs it."""
    sv = _sv(plan, site)
    services = tuple(dataclasses.replace(x, active=x.replica_site) if x is sv else x for x in plan.services)
    return dataclasses.replace(plan, services=services)


@pytest.fixture(scope="module")
def sliced(plan) -> dict[str, DeviceIntent]:
    return build_intents(plan, slice_hosts(plan))


def test_one_host_address_per_replicated_database_in_the_record(plan) -> None:
    devs = plan.inv.devices_of()
    dbs = {first_db(devs[s.id]).hostname for s in plan.inv.sites if s.kind == "dc" and first_db(devs[s.id])}
    assert {sv.db for sv in plan.services} == dbs
    seen: set[str] = set()
    for sv in plan.services:
        for af, text in ((4, sv.v4), (6, sv.v6)):
            net = ipaddress.ip_network(text)
            assert net.prefixlen == (32 if af == 4 else 128)
            rec = plan.addr.reg.get(f"service/{af}/{sv.primary_site}/{sv.db}")
            assert rec is not None and rec.pool == "service" and rec.prefix == text
            assert text not in seen
            seen.add(text)
        assert sv.active == sv.primary_site  # nothing switched over in the committed plan


def test_dr_plan_json_gives_each_pair_its_service_address(plan) -> None:
    r = jinbao("dr", "plan", "--json", "--scope", "140000")
    assert r.returncode == 0, r.stderr
    pairs = {p["primary"]: p for p in json.loads(r.stdout)["pairs"]}
    sv = _sv(plan, SHANXI)
    assert pairs[sv.db]["service_v4"] == sv.v4 and pairs[sv.db]["service_v6"] == sv.v6


def test_only_the_active_site_has_the_gate(plan, sliced) -> None:
    sv = _sv(plan, SHANXI)
    for host, i in sliced.items():
        gates = [s for s in i.static_routes if s.prefix == sv.v4]
        nets = sv.v4 in i.bgp.networks_v4
        if i.site == sv.primary_site and i.role == "WR":
            assert nets and len(gates) == 1 and gates[0].next_hop, host
        elif i.site == sv.replica_site and i.role == "WR":
            assert nets and not gates, host  # the statement is there, without a route it announces nothing
        else:
            assert not nets and not gates, host
    # the active site's firewall forwards it to its database; the other's sends it to the WAN (default route),
    # so that a client beside the old primary follows BGP to the new one
    fws = build_firewall_intents(plan, {"JB-140000-DC-FW01", "JB-100000-DR-FW01"})
    assert [s.next_hop for s in fws["JB-140000-DC-FW01"].static_routes if s.prefix == sv.v6] == [
        plan.addr.lan_host(SHANXI, "business", "production", 6, "t", sv.db).split("/")[0]]
    assert not any(s.prefix.startswith(sv.v6) for s in fws["JB-100000-DR-FW01"].static_routes)
    moved = build_firewall_intents(_switched(plan, SHANXI), {"JB-140000-DC-FW01", "JB-100000-DR-FW01"})
    assert [s.next_hop for s in moved["JB-100000-DR-FW01"].static_routes if s.prefix == sv.v4] == [
        plan.addr.lan_host(sv.replica_site, "business", "production", 4, "t", sv.replica_db).split("/")[0]]
    assert not any(s.prefix == sv.v4 for s in moved["JB-140000-DC-FW01"].static_routes)


def test_the_slice_verifies_with_every_service_address_from_one_site(plan, sliced) -> None:
    report = verify(plan, sliced, partial=True)
    assert report.ok, report.findings[:5]
    assert report.checked["service-origin"] > 0
    sim = Simulator(sliced, partial=True)
    sim.converge()
    sv = _sv(plan, SHANXI)
    # the ministry learns the host route from Shanxi's routers, not from the DR centre
    best = sim.best["JB-100000-DC-WR01"][parse_prefix(sv.v4)]
    assert sliced[best.origin].site == SHANXI


def test_after_a_switchover_the_dr_site_announces_it_and_the_old_one_does_not(plan) -> None:
    moved = _switched(plan, SHANXI)
    intents = build_intents(moved, slice_hosts(moved))
    report = verify(moved, intents, partial=True)
    assert report.ok, report.findings[:5]
    sim = Simulator(intents, partial=True)
    sim.converge()
    sv = _sv(moved, SHANXI)
    for af in (4, 6):
        best = sim.best["JB-100000-DC-WR01"][parse_prefix(sv.prefix(af))]
        assert intents[best.origin].site == sv.replica_site
        assert not any(parse_prefix(sv.prefix(af)) in sim.local[h] for h, i in intents.items() if i.site == SHANXI)


def test_two_sites_announcing_at_once_is_a_finding(plan, sliced) -> None:
    """The state item 6 forbids: the old site still has its gate while the DR site announces."""
    moved = build_intents(_switched(plan, SHANXI), slice_hosts(plan))
    both = dict(moved)
    for h, i in sliced.items():
        if i.site == SHANXI:
            both[h] = i  # Shanxi's routers as before the switchover: still gated open
    report = verify(plan, both, partial=True)
    hits = [f for f in report.findings if f.rule == "service-origin"]
    assert any("2 sites at once" in f.message and SHANXI in f.message for f in hits), report.findings[:5]


def test_exact_filters_accept_the_host_route_only_from_where_it_may_come(plan, sliced) -> None:
    sv = _sv(plan, SHANXI)
    ministry = sliced["JB-100000-DC-WR01"]
    # import filters only: the ministry's export to the national DR centre (MINISTRY-TABLE) carries it too
    assert ministry.bgp is not None
    imports = {n.route_map_in for n in ministry.bgp.neighbors}
    import_lists = {e.match_prefix_list for rm in ministry.route_maps if rm.name in imports for e in rm.entries}
    accepting = {pl.name for pl in ministry.prefix_lists if pl.name in import_lists
                 and any(e.prefix == sv.v4 and e.le is None for e in pl.entries)}
    assert accepting == {"SITE-140000-DC-V4", "SITE-100000-DR-V4"}
    other = _sv(plan, "140100-DC")  # a city's: it comes up through the province (or 140000-DR), never Beijing
    beijing = [pl for pl in ministry.prefix_lists if pl.name == "SITE-110000-DC-V4"]
    assert beijing and all(e.prefix != other.v4 for e in beijing[0].entries)


def test_firewalls_let_the_exchange_zone_reach_the_service_address_at_both_sites() -> None:
    """The zone policy opens PostgreSQL from a site's exchange zone to its database's service address, at the
    site itself (behind the production port) and at its replica's site (in from the WAN side), and only that
    address: not a neighbour's database that has moved to the same DR centre."""
    from network.policy.compile import site_rules
    from network.policy.service import open_world
    from tests.conftest import INVENTORY

    world = open_world(INVENTORY)
    assert world.replica[SHANXI] == "100000-DR"
    # at its own site one rule, whichever way the address leads now (production port, or the WAN side)
    own = [r for r in site_rules(world, SHANXI) if r.dst_net == "S140000_DC_DATABASE_SERVICE"]
    assert [(r.src_net, r.services, r.oif, r.dst_zone) for r in own] == [
        ("S140000_DC_EXCHANGE", ("POSTGRESQL",), None, None)]
    # at the national DR centre: Shanxi's exchange zone to Shanxi's own address only (exact), in from the WAN
    dr = [r for r in site_rules(world, "100000-DR") if r.src_net == "S140000_DC_EXCHANGE"]
    assert [(r.dst_net, r.services, r.iif, r.oif, r.dst_zone) for r in dr] == [
        ("S140000_DC_DATABASE_SERVICE", ("POSTGRESQL",), "eth1", "eth2", "production")]
    assert all(r.src_net.removesuffix("_EXCHANGE") == r.dst_net.removesuffix("_DATABASE_SERVICE")
               for r in site_rules(world, "100000-DR") if r.dst_net and r.dst_net.endswith("_DATABASE_SERVICE"))


def test_a_move_withdraws_at_the_old_site_before_it_announces_at_the_new_one(plan) -> None:
    """dr/announce.py: phase 1 only removes routes, at the old site's WAN routers and firewall; phase 2 only
    adds them at the new site's; between them no site has a gate (item 6: never two at once)."""
    from core.errors import JinbaoError
    from dr.announce import NOWHERE, frr_commands, plan_move, with_active

    sv = _sv(plan, SHANXI)
    move = plan_move(plan, SHANXI, sv.replica_site, platform="frr")
    assert {c.site for c in move.withdraw} == {SHANXI} and {c.action for c in move.withdraw} == {"remove"}
    assert {c.site for c in move.announce} == {sv.replica_site} and {c.action for c in move.announce} == {"add"}
    assert {c.route.prefix for c in (*move.withdraw, *move.announce)} == {sv.v4, sv.v6}
    roles = {h.split("-")[-1][:2] for h in {c.host for c in move.withdraw}}
    assert roles == {"WR", "FW"}
    middle = build_intents(with_active(plan, SHANXI, NOWHERE), slice_hosts(plan))
    sim = Simulator(middle, partial=True)
    assert not any(parse_prefix(sv.v4) in sim.local[h] for h in middle)  # nobody announces in between
    cmds = frr_commands(move.withdraw)
    assert all(line.startswith(("no ip route", "no ipv6 route")) for lines in cmds.values() for line in lines)
    with pytest.raises(JinbaoError, match="already announced"):
        plan_move(plan, SHANXI, SHANXI)
    with pytest.raises(JinbaoError, match="holds neither end"):
        plan_move(plan, SHANXI, "140100-DC")


def test_the_state_record_says_where_each_database_runs(inv_dir) -> None:
    """`dr-active.yaml`: after a switchover the workspace plans the gate at the DR centre, so that a routine
    `jinbao deploy` keeps the address where the drill left it instead of announcing it at both sites."""
    from network.workspace import Workspace

    (inv_dir / "dr-active.yaml").write_text('version: 1\nactive: {"140000-DC": "100000-DR"}\n')
    p = Workspace(inv_dir).network
    sv = _sv(p, SHANXI)
    assert sv.active == "100000-DR"
    it = build_intents(p, {"JB-140000-DC-WR01", "JB-100000-DR-WR01"})
    assert not [s for s in it["JB-140000-DC-WR01"].static_routes if s.prefix == sv.v4]
    assert [s for s in it["JB-100000-DR-WR01"].static_routes if s.prefix == sv.v4]


@pytest.mark.parametrize(("text", "words"), [
    ('version: 1\nactive: {"140000-DC": "140100-DC"}\n',
     "dr-active.yaml: active.140000-DC: active site '140100-DC' is neither the primary's (140000-DC) nor"),
    ('version: 1\nactive: {"999999-DC": "100000-DR"}\n', "dr-active.yaml: active.999999-DC: unknown site"),
    ('version: 1\nactive: {"100000-DR": "100000-DR"}\n',  # keyed by the replica's site: would be ignored
     "dr-active.yaml: active.100000-DR: 100000-DR is not the primary site of a replicated database"),
    ("version: 1\nactiv: {}\n", "dr-active.yaml"),
])
def test_a_bad_state_record_is_one_line(inv_dir, text: str, words: str) -> None:
    (inv_dir / "dr-active.yaml").write_text(text)
    r = jinbao("--inventory", str(inv_dir), "verify", "--scope", "140000")
    assert r.returncode != 0 and r.stdout == ""
    assert words in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
