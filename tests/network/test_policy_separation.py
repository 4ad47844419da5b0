"""Business and office networks never joined: a stray link or route in the routing plan is found."""

from __future__ import annotations

import json

from network.intent_model import Interface, PrefixList, PrefixListEntry, StaticRoute
from network.policy.separation import office_pools, separation_findings
from tests.conftest import jinbao

HOST = "JB-140100-DC-WR01"


def test_the_plan_has_no_path_into_the_office_network(plan, intents):
    assert separation_findings(intents, office_pools(plan.addr.reg)) == []


def test_a_stray_link_route_and_filter_are_found(plan, intents):
    pools = office_pools(plan.addr.reg)
    assert {str(p) for p in pools} >= {"172.16.0.0/12"}
    wr = intents[HOST]
    pl = PrefixList(name="STRAY", afi="ipv4", entries=(PrefixListEntry(seq=5, action="permit",
                                                                       prefix="172.19.64.0/24"),))
    stray = wr.model_copy(update={
        "interfaces": (*wr.interfaces, Interface(name="GigabitEthernet0/0/9", kind="lan", description="stray",
                                                 ipv4="172.19.64.9/24")),
        "static_routes": (*wr.static_routes, StaticRoute(prefix="172.19.64.0/24", next_hop="10.26.4.162")),
        "prefix_lists": (*wr.prefix_lists, pl)})
    fs = separation_findings({HOST: stray}, pools)
    assert {(f.rule, f.subject) for f in fs} == {("link", HOST), ("route", HOST), ("filter", HOST)}
    assert all(f.detail["pool"] == "172.16.0.0/12" and f.detail["site"] == "140100-DC" for f in fs)
    assert "GigabitEthernet0/0/9 172.19.64.9/24 lies in the office network" in fs[0].message


def test_verify_reports_separation_in_json():
    r = jinbao("policy", "verify", "--scope", "140100-DC", "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["ok"] and rep["separation"]["findings"] == [] and rep["separation"]["devices_checked"] >= 1


def test_a_scope_without_a_firewall_is_a_one_line_error():
    r = jinbao("policy", "verify", "--scope", "140100-AS001")
    assert r.returncode == 2 and "--scope: 140100-AS001 has no firewall" in r.stderr
