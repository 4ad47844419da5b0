"""After `lab up` + `deploy`: the slice routes as planned (real FRR, real kernels, real packets)."""

from __future__ import annotations

import ipaddress
import json
import time

import pytest

from lab.slice import ZONE_OF_ROLE, LabPlan
from network.plan import own_aggregates
from tests.conftest import jinbao
from tests.lab_e2e.conftest import LAB, established, ping, requires_root, sh, vtysh_json, wait_for

pytestmark = [pytest.mark.integration, requires_root]
MINISTRY = "JB-100000-DC-WR01"


def _routers(lab: LabPlan) -> list[str]:
    return [h for h, i in lab.intents.items() if i.bgp is not None]


def _servers(lab: LabPlan, role: str) -> list[str]:
    return [d.hostname for d in lab.plan.inv.devices if d.role == role]


def _addr(lab: LabPlan, host: str, af: int) -> str:
    d = next(x for x in lab.plan.inv.devices if x.hostname == host)
    pool, zone = ZONE_OF_ROLE[d.role]
    return lab.plan.addr.lan_host(d.site, pool, zone, af, host, host).split("/")[0]


def test_every_planned_session_is_established(lab: LabPlan) -> None:
    for h in _routers(lab):
        planned = {str(ipaddress.ip_address(n.address)) for n in lab.intents[h].bgp.neighbors}
        def up(h: str = h, planned: set[str] = planned) -> dict[str, str] | None:
            s = established(h)
            return s if all(s.get(a) == "Established" for a in planned) else None

        states = wait_for(up, 60, what=f"{h}'s sessions")
        assert planned <= set(states)


def test_sessions_run_keyed_and_gtsm_protected(lab: LabPlan) -> None:
    """The established sessions are the protected ones: FRR runs every eBGP neighbour with its TCP MD5 key
    and GTSM, and a neighbour whose key no longer matches loses its session."""
    host = "JB-140000-DC-WR01"
    running = sh(host, "vtysh", "-c", "show running-config", check=True).stdout
    ebgp = [n for n in lab.intents[host].bgp.neighbors if n.kind == "ebgp"]
    assert ebgp
    for n in ebgp:
        assert f" neighbor {n.address} password LAB-ONLY-" in running, n.address
        assert f" neighbor {n.address} ttl-security hops 1" in running, n.address
        assert established(host).get(str(ipaddress.ip_address(n.address))) == "Established"
    victim = next(n for n in ebgp if n.afi == "ipv4")
    asn = lab.intents[host].bgp.asn
    try:
        sh(host, "vtysh", "-c", "configure terminal", "-c", f"router bgp {asn}",
           "-c", f"neighbor {victim.address} password wrong-key", check=True)
        sh(host, "vtysh", "-c", f"clear bgp {victim.address}", check=True)
        wait_for(lambda: established(host).get(victim.address) != "Established", 20, what="session down")
        time.sleep(3)  # a wrong MD5 key drops every segment: the session cannot come back
        assert established(host).get(victim.address) != "Established"
    finally:
        right = next(ln.split()[-1] for ln in running.splitlines()
                     if ln.startswith(f" neighbor {victim.address} password "))
        sh(host, "vtysh", "-c", "configure terminal", "-c", f"router bgp {asn}",
           "-c", f"neighbor {victim.address} password {right}", check=True)
    wait_for(lambda: established(host).get(victim.address) == "Established", 60, what="session back with its key")


def test_everything_business_is_reachable(lab: LabPlan) -> None:
    routers = _routers(lab)
    for h in routers:  # ministry -> every router loopback, both families
        for af in (4, 6):
            lo = getattr(lab.intents[h], f"loopback_v{af}").split("/")[0]
            assert wait_for(lambda lo=lo: ping(MINISTRY, lo), 20, what=f"{MINISTRY} -> {h} {lo}")
    for role in ("DB", "EX"):  # ministry -> every business zone host, and each site's DB -> the ministry's DB
        for host in _servers(lab, role):
            for af in (4, 6):
                assert ping(MINISTRY, _addr(lab, host, af)), (host, af)
    ministry_db = _addr(lab, "JB-100000-DC-DB01", 4)
    for host in _servers(lab, "DB"):
        assert ping(host, ministry_db), host
    firsts = {}
    for h in routers:
        firsts.setdefault(lab.intents[h].site, h)
    zone_hosts = _servers(lab, "DB") + _servers(lab, "EX")
    for site, a in firsts.items():  # site to site, every pair: the routers and the business zone hosts
        for b in firsts.values():
            if a != b:
                assert ping(a, lab.intents[b].loopback_v4.split("/")[0]), (a, b)
        for host in zone_hosts:
            if not host.startswith(f"JB-{site}-"):
                assert ping(a, _addr(lab, host, 4)), (a, host)


def test_decision_zone_is_unreachable(lab: LabPlan) -> None:
    ds = _servers(lab, "DS")
    assert ds
    for host in ds:
        for src in (MINISTRY, "JB-140100-DC-WR01", "JB-140100-DC-DB01"):
            assert not ping(src, _addr(lab, host, 4), wait=0.5), (src, host)
        assert not ping(host, lab.intents[MINISTRY].loopback_v4.split("/")[0], wait=0.5)
    # and no router even has a route towards the office network (only a default would lead anywhere)
    office = ipaddress.ip_network(lab.plan.addr.reg.get("office/4/100000-DC").prefix)
    for h in _routers(lab):
        table = vtysh_json(h, "show ip route json")
        assert not [p for p in table if p != "0.0.0.0/0" and ipaddress.ip_network(p).overlaps(office)], h


def test_ministry_table_holds_children_aggregates_and_its_own(lab: LabPlan) -> None:
    inv = lab.plan.inv
    ministry = inv.site("100000-DC")
    children = inv.children()[ministry.id]
    expected = {a for c in children for af in (4, 6) for a in own_aggregates(lab.plan, c, af, MINISTRY)}
    own = {p for i in lab.intents.values() if i.site == ministry.id and i.bgp
           for p in (*i.bgp.networks_v4, *i.bgp.networks_v6)}
    for cmd in ("show bgp ipv4 unicast json", "show bgp ipv6 unicast json"):
        table = set(wait_for(lambda cmd=cmd: vtysh_json(MINISTRY, cmd).get("routes"), 20))
        assert table - own == {p for p in expected if (":" in p) == ("ipv6" in cmd)}


def test_second_up_changes_nothing(lab: LabPlan) -> None:
    r = jinbao("lab", "up", "--name", LAB, "--mgmt-net", "100.126.230.0/24", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["changed"] is False
    assert all(s == "Established" for s in established("JB-140100-DC-WR01").values())


def test_status_names_and_exec_exit_code(lab: LabPlan) -> None:
    r = jinbao("lab", "status", "--name", LAB, "--json")
    assert r.returncode == 0, r.stderr
    nodes = json.loads(r.stdout)["nodes"]
    assert {n["name"] for n in nodes} == set(lab.nodes) and all(n["state"] == "running" for n in nodes)
    assert {"name", "role", "mgmt_ip", "state"} <= nodes[0].keys()
    r = jinbao("lab", "exec", "--name", LAB, "JB-140100-DC-DB01", "--", "sh", "-c", "hostname; exit 3")
    assert r.returncode == 3 and r.stdout.strip() == "JB-140100-DC-DB01"
    assert sh("JB-140100-DC-WR01", "cat", "/proc/1/comm").stdout.strip() != "systemd"  # its own PID namespace
