"""The plugins' DR partner is the replication plan's replica: one rule (inventory/drpolicy.py) for both."""

from __future__ import annotations

from dr.config import load_dr_config
from dr.plan import replication_plan
from plugins.hostvars import _open_network as open_network
from plugins.hostvars import build_view
from tests.conftest import INVENTORY
from tests.disaster.drlab import with_dr_lines


def test_every_production_database_partner_is_its_planned_replica() -> None:
    plan = open_network(INVENTORY.resolve())
    view = build_view(plan, directory=INVENTORY)
    # the plan refuses DR centres without WAN lines of their own (issue 9): the DR lab's stand-in lines
    pairs = {p.primary: p for p in replication_plan(with_dr_lines(plan.inv), load_dr_config(INVENTORY)[0])}
    dbs = {h: x.vars for h, x in view.hosts.items()
           if x.vars["jinbao_role"] == "DB" and x.vars["jinbao_site_kind"] == "dc"}
    assert len(dbs) > 300 and set(dbs) == set(pairs)
    wrong = {h: (v["jinbao_dr_site"], v["jinbao_dr_partner"], pairs[h].replica_site, pairs[h].replica)
             for h, v in dbs.items()
             if (v["jinbao_dr_site"], v["jinbao_dr_partner"]) != (pairs[h].replica_site, pairs[h].replica)}
    assert wrong == {}
    # the cases the two rules used to disagree on: a province centre (national DR centre, not its own),
    # a dr.yaml override (Shanghai -> Luoyang), the city hosting its province's DR centre (Datong)
    assert dbs["JB-140000-DC-DB01"]["jinbao_dr_partner"] == "JB-100000-DR-DB01"
    assert dbs["JB-310000-DC-DB01"]["jinbao_dr_partner"] == "JB-410000-DR-DB01"
    assert dbs["JB-140200-DC-DB01"]["jinbao_dr_partner"] == "JB-100000-DR-DB01"
    assert dbs["JB-140100-DC-DB01"]["jinbao_dr_partner"] == "JB-140000-DR-DB01"
    # DR centres back nothing themselves
    assert view.hosts["JB-140000-DR-DB01"].vars["jinbao_dr_partner"] is None
