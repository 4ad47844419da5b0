"""The replication plan: who replicates where, and what is refused."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from core.errors import JinbaoError
from dr.config import DrDoc, SiteDoc, load_dr_config
from dr.plan import has_own_lines, replication_plan
from inventory.load import load
from inventory.model import Inventory
from tests.conftest import INVENTORY, jinbao
from tests.disaster.drlab import with_dr_lines


@pytest.fixture(scope="module")
def nation() -> Inventory:
    return load(INVENTORY).inventory


_with_dr_lines = with_dr_lines  # a no-op on the default inventory since issue 9 item 1 gave DR centres their lines


def test_every_production_database_has_a_replica_in_another_city(nation: Inventory) -> None:
    inv = _with_dr_lines(nation)
    pairs = replication_plan(inv, load_dr_config(INVENTORY)[0])
    dbs = {d.hostname for d in inv.devices if d.role == "DB" and inv.site(d.site).kind == "dc"}
    assert {p.primary for p in pairs} == dbs
    by = {p.primary_site: p for p in pairs}
    assert by["140100-DC"].replica == "JB-140000-DR-DB01"  # Shanxi's cities -> Shanxi's DR centre (Datong)
    assert by["410100-DC"].replica_site == "410000-DR"
    assert by["130100-DC"].replica_site == "100000-DR"  # Hebei has no DR centre: the national one
    assert by["140200-DC"].replica_site == "100000-DR"  # Datong hosts Shanxi's DR centre: the national one
    assert by["410300-DC"].replica_site == "100000-DR"  # Luoyang likewise for Henan
    assert by["140000-DC"].replica_site == "100000-DR"  # provinces -> national DR centre
    assert by["100000-DC"].replica_site == "100000-DR"
    assert by["310000-DC"].replica_site == "410000-DR"  # Shanghai hosts the national DR centre
    assert by["140000-DC"].mode == "sync" and by["140100-DC"].mode == "async"
    assert all(inv.site(p.replica_site).city != inv.site(p.primary_site).city for p in pairs)
    assert len({p.slot for p in pairs}) == len(pairs)


def test_replica_in_the_primarys_city_is_refused(nation: Inventory) -> None:
    doc = DrDoc(version=1, sites={"140200-DC": SiteDoc(replica_site="140000-DR")})  # Shanxi's DR is in Datong
    with pytest.raises(JinbaoError, match=r"sites\.140200-DC: replica site 140000-DR is in the same city"):
        replication_plan(_with_dr_lines(nation), doc)


def test_the_national_dr_city_needs_an_override(nation: Inventory) -> None:
    with pytest.raises(JinbaoError, match=r"defaults: replica site 100000-DR is in the same city \(310000\) as"
                                          r" its primary 310000-DC \(set sites.310000-DC.replica_site\)"):
        replication_plan(_with_dr_lines(nation), DrDoc(version=1))


def test_a_cycle_is_refused(nation: Inventory) -> None:
    doc = DrDoc(version=1, sites={"140100-DC": SiteDoc(replica_site="140300-DC"),
                                  "140300-DC": SiteDoc(replica_site="140100-DC"),
                                  "310000-DC": SiteDoc(replica_site="410000-DR")})
    with pytest.raises(JinbaoError, match=r"circle: 140100-DC -> 140300-DC -> 140100-DC"):
        replication_plan(_with_dr_lines(nation), doc)


def test_a_dr_centre_without_lines_of_its_own_is_refused(nation: Inventory) -> None:
    inv = _with_dr_lines(nation)
    cut = tuple(lk for lk in inv.links if not ("140000-DR" in (lk.a_site, lk.b_site)
                                               and "140000-DC" not in (lk.a_site, lk.b_site)))
    inv = dataclasses.replace(inv, links=cut, _site_index={})
    with pytest.raises(JinbaoError, match=r"DR centre 140000-DR has no WAN line of its own"):
        replication_plan(inv, DrDoc(version=1))


def test_unknown_override_site_is_refused(nation: Inventory) -> None:
    with pytest.raises(JinbaoError, match=r"sites\.999999-DC: unknown site"):
        replication_plan(nation, DrDoc(version=1, sites={"999999-DC": SiteDoc(mode="sync")}))


def test_cli_plans_the_national_inventory_now_that_dr_centres_have_lines() -> None:
    """Every DR centre of the default inventory has a WAN line of its own (issue 9 item 1), so the plan it
    used to refuse ("DR centre 100000-DR has no WAN line of its own") is made, from the real inventory."""
    import json

    nation = load(INVENTORY).inventory
    assert all(has_own_lines(nation, s) for s in nation.sites if s.kind == "dr")
    r = jinbao("dr", "plan", "--json", "--scope", "140000")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    pairs = {p["primary"]: p for p in json.loads(r.stdout)["pairs"]}
    assert pairs["JB-140100-DC-DB01"]["replica"] == "JB-140000-DR-DB01"  # Shanxi's cities -> Datong
    assert pairs["JB-140000-DC-DB01"]["replica"] == "JB-100000-DR-DB01"  # the province -> the national one
    assert pairs["JB-140000-DC-DB01"]["mode"] == "sync"
    assert all(p["primary_site"].startswith("14") for p in pairs.values())


def test_plan_pairs_of_shanxi_with_lines_of_their_own() -> None:
    """`jinbao dr plan --json`'s pairs, from an inventory whose DR centres have lines of their own (stand-in)."""
    inv = with_dr_lines(load(INVENTORY).inventory)
    pairs = [p.as_dict() for p in replication_plan(inv, load_dr_config(INVENTORY)[0])
             if p.primary_site.startswith("14")]
    assert {"primary": "JB-140100-DC-DB01", "replica": "JB-140000-DR-DB01", "mode": "async"}.items() \
        <= next(p for p in pairs if p["primary"] == "JB-140100-DC-DB01").items()
    assert all(p["primary_site"].startswith("14") for p in pairs)


def test_cli_bad_policy_is_one_line(inv_dir: Path) -> None:
    (inv_dir / "dr.yaml").write_text("version: 1\ndefaults: {mode: eventually}\n")
    r = jinbao("--inventory", str(inv_dir), "dr", "plan")
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "dr.yaml: defaults.mode:" in r.stderr
