"""After `lab up` + `deploy`: the slice routes as planned (real FRR, real kernels, real packets)."""

from __future__ import annotations

import ipaddress
import json
import time

import pytest

from lab.slice import ZONE_OF_ROLE, LabPlan
from network.plan import announced_up
from tests.conftest import jinbao
from tests.lab_e2e.conftest import LAB, established, ping, requires_root, sh, vtysh_json, wait_for
from tests.lab_e2e.flows import failed_connections, zone_address

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


def _policy_flows(lab: LabPlan) -> list[tuple[str, str, int]]:
    """(src host, dst host, port) of every flow the zone policy allows between the slice's business zone hosts."""
    from checks.isolation import allowed_set
    from network.policy.service import open_world
    from tests.conftest import INVENTORY

    allowed = allowed_set(open_world(INVENTORY), sorted({d.site for d in lab.plan.inv.devices}))
    hosts = [d for d in lab.plan.inv.devices if d.role in ("DB", "EX")]
    return sorted({(a.hostname, b.hostname, port) for a in hosts for b in hosts if a is not b
                   for (ss, sz, ds, dz, proto, port) in allowed
                   if (ss, sz, ds, dz, proto) == (a.site, ZONE_OF_ROLE[a.role][1], b.site, ZONE_OF_ROLE[b.role][1],
                                                  "tcp")})


def _zone_gateways(lab: LabPlan, af: int) -> dict[str, str]:
    """"<site> <zone>" -> the firewall's address on that business zone LAN (the zone's gateway), in family `af`."""
    return {f"{i.site} {itf.link_kind}": getattr(itf, f"ipv{af}").split("/")[0]
            for i in lab.intents.values() if i.role == "FW" for itf in i.interfaces if itf.kind == "lan"}


def test_everything_business_is_reachable(lab: LabPlan) -> None:
    """Routing reaches every business zone, and every zone host is reached by the flows the policy allows.
    The firewalls enforce the zone policy (`jinbao deploy` pushes their rulesets), so the WAN routers no longer
    ping zone hosts: the WAN is proved up to each zone's gateway (the firewall answers for itself), each host on
    its LAN, and the firewalls' forwarding by TCP on the policy's own flows, both families."""
    routers = _routers(lab)
    for h in routers:  # ministry -> every router loopback, both families
        for af in (4, 6):
            lo = getattr(lab.intents[h], f"loopback_v{af}").split("/")[0]
            assert wait_for(lambda lo=lo: ping(MINISTRY, lo), 20, what=f"{MINISTRY} -> {h} {lo}")
    gateways = {af: _zone_gateways(lab, af) for af in (4, 6)}
    assert len(gateways[4]) == 2 * len([i for i in lab.intents.values() if i.role == "FW"])
    for af in (4, 6):  # ministry -> every business zone of every site, over the WAN to the zone's gateway
        for zone, gw in gateways[af].items():
            assert ping(MINISTRY, gw), (zone, af)
    zone_hosts = _servers(lab, "DB") + _servers(lab, "EX")
    for host in zone_hosts:  # every zone host on its LAN, behind its firewall
        for af in (4, 6):
            d = next(x for x in lab.plan.inv.devices if x.hostname == host)
            assert ping(host, gateways[af][f"{d.site} {ZONE_OF_ROLE[d.role][1]}"]), (host, af)
    # end to end through the firewalls: every allowed flow connects (uploads city -> province -> ministry,
    # replication to the DR centre, production -> exchange), and every zone host takes part in one
    flows = _policy_flows(lab)
    assert {h for s, d, _ in flows for h in (s, d)} == set(zone_hosts)
    assert ("JB-140100-DC-EX01", "JB-140000-DC-EX01", 8444) in flows
    assert ("JB-140000-DC-EX01", "JB-100000-DC-EX01", 8444) in flows
    assert ("JB-140100-DC-DB01", "JB-140000-DR-DB01", 5432) in flows
    assert failed_connections(lab, flows) == []
    # and what the policy does not allow is dropped: the ministry's router pings no zone host any more
    assert not ping(MINISTRY, zone_address(lab, "JB-140100-DC-DB01", 4), wait=0.5)
    firsts = {}
    for h in routers:
        firsts.setdefault(lab.intents[h].site, h)
    for site, a in firsts.items():  # site to site, every pair: the routers and the business zones' gateways
        for b in firsts.values():
            if a != b:
                assert ping(a, lab.intents[b].loopback_v4.split("/")[0]), (a, b)
        for zone, gw in gateways[4].items():
            if not zone.startswith(f"{site} "):
                assert ping(a, gw), (a, zone)


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
    # each child's aggregates and those of the DR centres below it, which it passes up (issue 9: a DR centre
    # with a line of its own is still reached through its data centre while that stands)
    expected = {a for c in children for af in (4, 6) for a in announced_up(lab.plan, c, af, MINISTRY)}
    own = {p for i in lab.intents.values() if i.site == ministry.id and i.bgp
           for p in (*i.bgp.networks_v4, *i.bgp.networks_v6)}
    for cmd in ("show bgp ipv4 unicast json", "show bgp ipv6 unicast json"):
        table = set(wait_for(lambda cmd=cmd: vtysh_json(MINISTRY, cmd).get("routes"), 20))
        # (expected - own: the ministry's own database's service address comes up from its DR centre only
        # after a switchover; while the ministry runs it, it originates it itself)
        assert table - own == {p for p in expected - own if (":" in p) == ("ipv6" in cmd)}


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
