"""`jinbao check` against the real lab: every agent answers as planned, config rules on renders and on the
backed-up running configs, and checks that fail: break one thing, exactly the matching control fails on
exactly the node(s) concerned, then restore."""

from __future__ import annotations

from pathlib import Path

import pytest

from checks.catalogue import default_catalogue
from lab.slice import LabPlan
from tests.compliance.conftest import LAB, check, not_passing, requires_root, sh, wait_for
from tests.conftest import jinbao

pytestmark = [pytest.mark.integration, requires_root]
CAT = default_catalogue()
CITY = "JB-140100-DC-WR01"
PROVINCE = "JB-140000-DC-WR01"
SNMPD_CONF = "/etc/snmp/jinbao-lab-snmpd.conf"


def expected_pairs(lp: LabPlan, kind: str) -> set[tuple[str, str]]:
    return {(n.hostname, c.id) for n in lp.spec.nodes for c in CAT.of_kind(kind) if c.applies_to.matches(n.role)}


def test_every_agent_answers_as_planned(lab: LabPlan) -> None:
    rc, results, _ = check("network")
    assert {(r["node"], r["control"]) for r in results} == expected_pairs(lab, "snmp")
    assert rc == 0 and not_passing(results) == set(), [r for r in results if r["status"] != "pass"][:5]
    assert len({r["node"] for r in results}) == 22  # routers, firewalls and servers
    bgp = [r for r in results if r["control"] == "JB-NET-SNMP-BGP-PEERS" and r["node"] == CITY]
    assert bgp[0]["evidence"].startswith("2 IPv4 peers established")
    assert all(r["clause"] == CAT.control(r["control"]).clause for r in results)


def test_config_rules_on_renders_and_on_running_configs(lab: LabPlan, tmp_path: Path) -> None:
    rc, rendered, _ = check("config")
    routers = {h for h, i in lab.intents.items() if i.role == "WR"}
    assert {r["node"] for r in rendered} == routers
    # FRR renders pass every rule, eBGP session protection included (MD5 + GTSM since issue 9)
    assert rc == 0
    assert {r["control"] for r in rendered if r["status"] != "pass"} == set()
    assert "JB-CFG-BGP-SESSION-PROTECTION" in {r["control"] for r in rendered}
    r = jinbao("backup", "--lab", LAB, "--repo", str(tmp_path / "backups"))
    assert r.returncode == 0, r.stderr
    rc2, running, _ = check("config", "--running", str(tmp_path / "backups"))
    assert rc2 == 0
    assert {(x["node"], x["control"], x["status"]) for x in running} == \
        {(x["node"], x["control"], x["status"]) for x in rendered}


def _snmpd_hup(host: str) -> None:
    sh(host, "sh", "-c", "kill -HUP $(cat /run/snmpd.pid)")  # re-reads the config; AgentX sessions survive


def test_v2c_community_on_one_router_fails_only_v3_only_there(lab: LabPlan) -> None:
    sh(CITY, "sh", "-c", f"echo 'rocommunity public default' >> {SNMPD_CONF}")
    _snmpd_hup(CITY)
    try:
        rc, results, _ = check("network")
        assert rc == 1
        assert not_passing(results) == {(CITY, "JB-NET-SNMP-V3-ONLY")}
        bad = next(r for r in results if r["status"] != "pass")
        assert "v2c community 'public' answered" in bad["evidence"]
    finally:
        sh(CITY, "sed", "-i", "/^rocommunity public/d", SNMPD_CONF)
        _snmpd_hup(CITY)
    rc, results, _ = check("network", "--scope", "140100-DC")
    assert rc == 0 and not_passing(results) == set()


def _bgp_state(host: str, peer: str) -> str:
    import json

    data = json.loads(sh(host, "vtysh", "-c", "show bgp neighbors json").stdout)
    return data.get(peer, {}).get("bgpState", "")


def test_one_bgp_session_shut_fails_only_bgp_peers_at_both_ends(lab: LabPlan) -> None:
    city = lab.intents[CITY]
    nb = next(n for n in city.bgp.neighbors if n.peer == PROVINCE and n.afi == "ipv4")  # type: ignore[union-attr]
    back = next(n for n in lab.intents[PROVINCE].bgp.neighbors  # type: ignore[union-attr]
                if n.peer == CITY and n.afi == "ipv4" and n.link_kind == nb.link_kind)
    bgp = ["vtysh", "-c", "configure terminal", "-c", f"router bgp {city.asn}"]
    sh(CITY, *bgp, "-c", f"neighbor {nb.address} shutdown")
    try:
        wait_for(lambda: _bgp_state(PROVINCE, back.address) != "Established", 15, what="the session to go down")
        rc, results, _ = check("network")
        assert rc == 1
        # A session is down at both of its ends: the same control fails on both routers, nothing else fails.
        assert not_passing(results) == {(CITY, "JB-NET-SNMP-BGP-PEERS"), (PROVINCE, "JB-NET-SNMP-BGP-PEERS")}
        ev = {r["node"]: r["evidence"] for r in results if r["status"] != "pass"}
        assert nb.address in ev[CITY] and back.address in ev[PROVINCE]
    finally:
        sh(CITY, *bgp, "-c", f"no neighbor {nb.address} shutdown")
    wait_for(lambda: _bgp_state(CITY, nb.address) == "Established", 60, what="the session to come back")
    rc, results, _ = check("network", "--scope", "140100-DC")
    assert rc == 0 and not_passing(results) == set()


def _alias(host: str, ifname: str) -> str:
    from checks.snmp import poll
    from checks.targets import lab_network

    net = lab_network(LAB, None)
    exp = next(e for e in net.expectations if e.hostname == host)
    return poll([exp], net.credentials)[host].interfaces[ifname].alias


def test_one_interface_description_changed_fails_only_ifalias_there(lab: LabPlan) -> None:
    itf = next(i for i in lab.intents[CITY].interfaces if i.kind == "wan")
    conf = ["vtysh", "-c", "configure terminal", "-c", f"interface {itf.name}"]
    new = "moved to spare port by night shift"
    sh(CITY, *conf, "-c", f"description {new}")
    try:
        # the lab's ifAlias shim re-reads FRR every second (a real agent answers at once)
        wait_for(lambda: _alias(CITY, itf.name) == new, 30, what="ifAlias to follow the description")
        rc, results, _ = check("network")
        assert rc == 1
        assert not_passing(results) == {(CITY, "JB-NET-SNMP-IF-ALIAS")}
        ev = next(r["evidence"] for r in results if r["status"] != "pass")
        assert f"{itf.name}: ifAlias='moved to spare port by night shift'" in ev and itf.description in ev
    finally:
        sh(CITY, *conf, "-c", f"description {itf.description}")
    wait_for(lambda: _alias(CITY, itf.name) == itf.description, 30, what="ifAlias to be restored")
    rc, results, _ = check("network", "--scope", "140100-DC")
    assert rc == 0 and not_passing(results) == set()
