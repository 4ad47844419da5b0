"""Coverage KPI: planned (inventory) and answering (access routers polled over SNMPv3; real snmpd agents on
loopback stand in for Taiyuan's access routers, which the lab slices do not build)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from checks.agent_pool import SnmpdPool
from checks.coverage import Offices, coverage, load_offices
from core.errors import JinbaoError
from lab.spec import SnmpUser
from network.secrets import LabTestSecrets
from network.service import open_network
from tests.conftest import INVENTORY, jinbao

OFFICES = Offices({"agency": 90, "community": 70, "township": 50}, {"agency": 3, "community": 3, "township": 4}, {})


def test_planned_shares_per_city_and_national() -> None:
    inv = open_network(INVENTORY).inv
    data = coverage(inv.sites, OFFICES, cities=["140100", "140200"])
    ty = data["cities"][0]["kinds"]
    assert (ty["agency"]["planned_pct"], ty["community"]["planned_pct"], ty["township"]["planned_pct"]) == \
        (100.0, 66.7, 50.0)
    assert (ty["agency"]["planned_ok"], ty["community"]["planned_ok"], ty["township"]["planned_ok"]) == \
        (True, False, True)
    assert data["national"]["community"]["offices"] == 6 and data["national"]["community"]["planned"] == 4
    assert ty["agency"]["answering"] is None  # planned only: no network figures invented


def test_answering_counts_only_routers_that_answered() -> None:
    inv = open_network(INVENTORY).inv
    answering = {"140100-AS001": True, "140100-AS002": True, "140100-AS003": False, "140100-AS500": True}
    ty = coverage(inv.sites, OFFICES, answering, cities=["140100"])["cities"][0]["kinds"]
    assert (ty["agency"]["answering"], ty["agency"]["answering_pct"], ty["agency"]["answering_ok"]) == (2, 66.7, False)
    assert (ty["township"]["answering"], ty["township"]["answering_ok"]) == (1, False)
    assert ty["community"]["answering"] == 0


def test_bad_offices_file_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "offices.yaml"
    bad.write_text("targets: {agency: 90, community: 170, township: 50}\nper_city: {agency: 1, community: 1, "
                   "township: 1}\n")
    with pytest.raises(JinbaoError) as e:
        load_offices(bad)
    assert "offices.yaml" in str(e.value) and "targets" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.integration
@pytest.mark.skipif(os.geteuid() != 0, reason="binds snmpd agents on 127.0.0.x")
def test_network_half_from_real_agents(tmp_path: Path) -> None:
    s = LabTestSecrets()
    user = SnmpUser("jinbao-nms", s.get("snmp_auth") or "", s.get("snmp_priv") or "")
    inv = open_network(INVENTORY).inv
    routers = sorted(d.hostname for d in inv.devices if d.role == "AR" and d.site.startswith("140100-AS"))
    with SnmpdPool(user, base_port=22161) as pool:
        agents = pool.start([(h, "Taiyuan access site") for h in routers])
        agents_file = tmp_path / "agents.json"
        agents_file.write_text(json.dumps({a.name: f"{a.host}:{a.port}" for a in agents}))
        args = ("report", "coverage", "--scope", "140100", "--lab", "any", "--agents", str(agents_file), "--json")
        r = jinbao(*args)
        ty = json.loads(r.stdout)["cities"][0]["kinds"]
        assert r.returncode == 1  # communities are below 70% even as planned
        assert [ty[k]["answering"] for k in ("agency", "community", "township")] == \
            [ty[k]["planned"] for k in ("agency", "community", "township")]
        pool.stop(next(a for a in agents if a.name == "JB-140100-AS001-AR01"))  # one agency router goes dark
        ty = json.loads(jinbao(*args).stdout)["cities"][0]["kinds"]
        assert ty["agency"]["answering"] == ty["agency"]["planned"] - 1
        assert ty["agency"]["answering_ok"] is False and ty["agency"]["planned_ok"] is True


def test_illustrative_offices_are_named_as_such_in_every_report(tmp_path: Path) -> None:
    offices = load_offices(INVENTORY / "offices.yaml")
    assert offices.illustrative  # the shipped counts are placeholders, and the file says so in data
    inv = open_network(INVENTORY).inv
    den = coverage(inv.sites, offices, cities=["140100"])["denominator"]
    assert den["illustrative"] is True and "ILLUSTRATIVE" in den["note"] and den["file"].endswith("offices.yaml")
    r = jinbao("report", "coverage", "--scope", "140100", "--planned-only", "--json")
    assert json.loads(r.stdout)["denominator"]["illustrative"] is True
    assert "ILLUSTRATIVE" in r.stderr and "offices.yaml" in r.stderr
    r = jinbao("report", "coverage", "--scope", "140100", "--planned-only")
    assert "ILLUSTRATIVE" in r.stderr
    # a register (illustrative: false) is not flagged; a file that does not say is refused
    real = tmp_path / "offices.yaml"
    real.write_text((INVENTORY / "offices.yaml").read_text().replace("illustrative: true", "illustrative: false"))
    r = jinbao("report", "coverage", "--scope", "140100", "--planned-only", "--json", "--offices", str(real))
    assert json.loads(r.stdout)["denominator"]["illustrative"] is False and "ILLUSTRATIVE" not in r.stderr
    real.write_text((INVENTORY / "offices.yaml").read_text().replace("illustrative: true\n", ""))
    with pytest.raises(JinbaoError) as e:
        load_offices(real)
    assert "illustrative" in str(e.value) and "\n" not in str(e.value)
