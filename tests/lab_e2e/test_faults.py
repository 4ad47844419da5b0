"""Faults on the deployed slice: line failures (carrier loss and a silent black hole), a dead bgpd, a
broken change under commit-confirm, a city announcing another city's prefix, and the loss of a whole
provincial data centre (its DR centre stays reachable over its own line), and the loss of the ministry (every
province still reaches the national DR centre over its own line to it)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from lab.fleet import lab_fleet
from lab.slice import LabPlan
from network.deploy import deploy, drift
from network.targets import build_targets
from network.validate import validated
from tests.lab_e2e.conftest import LAB, established, ping, requires_root, sh, vtysh_json, wait_for
from tests.lab_e2e.flows import failed_connections

pytestmark = [pytest.mark.integration, requires_root]
MINISTRY, MINISTRY2 = "JB-100000-DC-WR01", "JB-100000-DC-WR02"
SHANXI, SHANXI2, TAIYUAN = "JB-140000-DC-WR01", "JB-140000-DC-WR02", "JB-140100-DC-WR01"
SHANXI_DR, SHANXI_DR_FW = "JB-140000-DR-WR01", "JB-140000-DR-FW01"


def _uplink(lab: LabPlan, host: str, kind: str = "primary") -> tuple[str, str]:
    """(interface, the peer's address on it) of `host`'s uplink of this kind."""
    itf = next(i for i in lab.intents[host].interfaces if i.link_kind == kind and i.description.startswith(kind))
    peer = next(n.address for n in lab.intents[host].bgp.neighbors
                if n.peer == itf.peer and n.afi == "ipv4" and n.link_kind == kind)
    return itf.name, peer


def _best_next_hop(host: str, prefix: str) -> str | None:
    paths = vtysh_json(host, f"show bgp ipv4 unicast {prefix} json").get("paths", [])
    for p in paths:
        if p.get("bestpath", {}).get("overall"):
            return p["nexthops"][0]["ip"]
    return None


def _shanxi_agg(lab: LabPlan) -> str:
    return lab.plan.addr.aggregate("140000-DC", "business", 4)


def _primary_next_hop(lab: LabPlan) -> str:
    """The ministry's next hop for Shanxi over the primary line: the province router's link address."""
    _, ministry_side = _uplink(lab, SHANXI)
    itf = next(i for i in lab.intents[SHANXI].interfaces if i.link_kind == "primary" and i.peer == MINISTRY)
    assert ministry_side
    return itf.ipv4.split("/")[0]


# After a fault is undone a session that gave up while its line was down retries on BGP's ConnectRetry timer
# (FRR's default 120 s, as on most platforms): recovery is proved within one retry plus a margin.
RECOVERY_S = 150


def _all_established(lab: LabPlan) -> None:
    for h in (MINISTRY, MINISTRY2, SHANXI, SHANXI2, TAIYUAN):
        planned = {n.address for n in lab.intents[h].bgp.neighbors}
        wait_for(lambda h=h, planned=planned: all(established(h).get(a) == "Established" for a in planned),
                 RECOVERY_S, what=f"{h} sessions back")


def _taiyuan_lo(lab: LabPlan) -> str:
    return lab.intents[TAIYUAN].loopback_v4.split("/")[0]


def test_primary_line_carrier_loss(lab: LabPlan) -> None:
    agg, primary = _shanxi_agg(lab), _primary_next_hop(lab)
    assert wait_for(lambda: _best_next_hop(MINISTRY, agg) == primary, 30, what="primary path first")
    ifname, _ = _uplink(lab, SHANXI)
    sh(SHANXI, "ip", "link", "set", ifname, "down", check=True)
    try:
        # the ministry now reaches Shanxi through its twin, i.e. over the backup line, and traffic flows
        wait_for(lambda: _best_next_hop(MINISTRY, agg) not in (None, primary), 15, what="failover")
        assert _best_next_hop(MINISTRY2, agg) != primary
        assert ping(MINISTRY, _taiyuan_lo(lab))
        # and zone traffic the policy allows (ICMP from zones is denied): Shanxi's upload to the ministry's exchange
        assert failed_connections(lab, [("JB-140000-DC-EX01", "JB-100000-DC-EX01", 8444)]) == []
    finally:
        sh(SHANXI, "ip", "link", "set", ifname, "up", check=True)
    wait_for(lambda: _best_next_hop(MINISTRY, agg) == primary, 60, what="back on the primary line")
    _all_established(lab)


def test_silent_black_hole_is_found_by_bfd(lab: LabPlan) -> None:
    ifname, ministry_addr = _uplink(lab, SHANXI)
    agg, primary = _shanxi_agg(lab), _primary_next_hop(lab)
    wait_for(lambda: established(SHANXI).get(ministry_addr) == "Established", 60, what="session up")
    rules = ("add table netdev jbfault; add chain netdev jbfault in { type filter hook ingress device "
             f'"{ifname}" priority 0; policy drop; }}')
    t0 = time.monotonic()
    sh(SHANXI, "nft", rules, check=True)  # carrier stays up: only BFD can notice
    try:
        wait_for(lambda: established(SHANXI).get(ministry_addr) != "Established", 8.5, interval=0.05,
                 what="BFD to take the session down before BGP's 9 s hold timer could")
        detected = time.monotonic() - t0
        wait_for(lambda: _best_next_hop(MINISTRY, agg) not in (None, primary), 10, what="ministry failover")
        assert ping(MINISTRY, _taiyuan_lo(lab))
        assert detected < 9
    finally:
        sh(SHANXI, "nft", "delete table netdev jbfault", check=True)
    wait_for(lambda: _best_next_hop(MINISTRY, agg) == primary, 60, what="back on the primary line")


def test_killed_bgpd_network_reconverges(lab: LabPlan) -> None:
    agg, primary = _shanxi_agg(lab), _primary_next_hop(lab)
    wait_for(lambda: _best_next_hop(MINISTRY, agg) == primary, 60, what="primary path first")
    pid = sh(SHANXI, "cat", "/var/run/frr/bgpd.pid", check=True).stdout.strip()
    sh(SHANXI, "kill", "-9", pid, check=True)  # inside the node: its own bgpd, by PID
    # around the dead router: the ministry and Taiyuan use Shanxi's second router, both ways
    wait_for(lambda: _best_next_hop(MINISTRY, agg) not in (None, primary), 5, interval=0.1, what="reroute")
    ministry_lo = lab.intents[MINISTRY].loopback_v4.split("/")[0]
    wait_for(lambda: ping(MINISTRY, _taiyuan_lo(lab), wait=0.5) and ping(TAIYUAN, ministry_lo, wait=0.5), 4,
             interval=0.1, what="traffic around the dead bgpd")
    assert sh(SHANXI, "pgrep", "-x", "bgpd").returncode != 0  # still dead: this was the reroute, not a restart
    # watchfrr restarts bgpd; the router rejoins with its configuration
    wait_for(lambda: sh(SHANXI, "cat", "/var/run/frr/bgpd.pid").stdout.strip() not in ("", pid), 30,
             what="bgpd restarted by watchfrr")
    wait_for(lambda: "phase: Idle" in sh(SHANXI, "vtysh", "-c", "show watchfrr").stdout, 30, what="watchfrr idle")
    wait_for(lambda: _best_next_hop(MINISTRY, agg) == primary, 60, what="back through the first router")
    _all_established(lab)


def test_broken_change_is_rolled_back(lab: LabPlan) -> None:
    fleet = lab_fleet(LAB, "140000-DC")
    good = next(t for t in build_targets(fleet.intents, fleet.secrets, fleet.hosts, fleet.access)
                if t.hostname == SHANXI)
    bad_text = good.config_text.replace("remote-as 4200100000", "remote-as 4200100999")
    assert bad_text != good.config_text
    unchecked = type(good)(**{**good.__dict__, "config_text": bad_text})
    [refused] = deploy([unchecked], dry_run=False, confirm_seconds=20)  # an edited config is never pushed
    assert refused.status == "failed" and "not validated" in (refused.error or ""), refused
    # a wrong remote AS is valid syntax: it passes the validator, gets pushed, and the post-checks catch it
    bad = type(good)(**{**good.__dict__, "config_text": bad_text,
                        "validated_sha256": validated(bad_text, "frr", SHANXI)})
    before = sh(SHANXI, "vtysh", "-c", "show running-config", check=True).stdout
    [res] = deploy([bad], dry_run=False, confirm_seconds=20)
    assert res.status == "rolled-back", (res.status, res.error)
    assert "remote-as 4200100999" in res.diff  # it really was applied before the checks failed
    after = sh(SHANXI, "vtysh", "-c", "show running-config", check=True).stdout
    assert after == before
    [d] = drift([good])
    assert d.in_sync is True, d.diff
    _all_established(lab)


def test_city_cannot_originate_another_citys_prefix(lab: LabPlan) -> None:
    datong = lab.plan.addr.aggregate("140200-DC", "business", 4)
    taiyuan_as, datong_as = lab.intents[TAIYUAN].asn, lab.intents["JB-140200-DC-WR01"].asn
    _, province_addr = _uplink(lab, TAIYUAN)
    hijack = ["vtysh", "-c", "conf t", "-c", f"ip route {datong} blackhole",
              "-c", f"ip prefix-list OWN-V4 seq 90 permit {datong}",
              "-c", f"router bgp {taiyuan_as}", "-c", "address-family ipv4 unicast", "-c", f"network {datong}"]
    sh(TAIYUAN, *hijack, check=True)
    try:
        def advertised() -> bool:
            routes = vtysh_json(TAIYUAN, f"show bgp ipv4 unicast neighbors {province_addr} advertised-routes json")
            return datong in routes.get("advertisedRoutes", {})
        wait_for(advertised, 15, what="Taiyuan to announce Datong's prefix")  # the hijack is really sent
        time.sleep(2)
        for prov in (SHANXI, SHANXI2):
            paths = vtysh_json(prov, f"show bgp ipv4 unicast {datong} json").get("paths", [])
            origins = {p["aspath"]["string"].split()[0] for p in paths if p["aspath"]["string"]}
            assert str(datong_as) in origins and str(taiyuan_as) not in origins, (prov, origins)
    finally:
        fleet = lab_fleet(LAB, "140100-DC")
        targets = [t for t in build_targets(fleet.intents, fleet.secrets, fleet.hosts, fleet.access)
                   if t.hostname == TAIYUAN]
        [res] = deploy(targets, dry_run=False, confirm_seconds=30)
        assert res.status == "committed", res.error


def test_dr_centre_survives_the_loss_of_its_provincial_data_centre(lab: LabPlan) -> None:
    """Issue 9 item 1: both of Shanxi's WAN routers lose every line (the data centre is gone); the ministry
    still reaches Shanxi's DR centre in Datong — its router and its business zones' gateway, behind which the
    zone hosts answer on their LAN — over the DR centre's own line to the ministry's second router, and the DR
    centre reaches the ministry back. While Shanxi stands, that line carries nothing (local-pref 30 and prepends
    make it the last resort)."""
    dr_agg = lab.plan.addr.aggregate("140000-DR", "business", 4)
    line = next(i for i in lab.intents[SHANXI_DR].interfaces if i.link_kind == "dr")
    assert line.peer == MINISTRY2
    over_line = line.ipv4.split("/")[0]
    via_shanxi = lambda: _best_next_hop(MINISTRY2, dr_agg) not in (None, over_line)  # noqa: E731
    wait_for(via_shanxi, 60, what="the ministry to reach the DR centre through Shanxi first")
    # the DR centre's router and its business zones up to their gateway (the firewall answers for itself: the
    # zone policy, enforced since `jinbao deploy` pushes the rulesets, lets no router ping a zone host), and
    # the zone hosts behind it on their LAN
    targets = [getattr(lab.intents[SHANXI_DR], f"loopback_v{af}").split("/")[0] for af in (4, 6)]
    targets += [getattr(itf, f"ipv{af}").split("/")[0] for itf in lab.intents[SHANXI_DR_FW].interfaces
                if itf.kind == "lan" and itf.link_kind in ("production", "exchange") for af in (4, 6)]
    assert len(targets) == 6
    ministry_lo = lab.intents[MINISTRY].loopback_v4.split("/")[0]
    shanxi_lo = lab.intents[SHANXI].loopback_v4.split("/")[0]
    with sites_cut_off(lab, SHANXI, SHANXI2):
        wait_for(lambda: _best_next_hop(MINISTRY2, dr_agg) == over_line, 20, what="failover to the DR line")
        assert not ping(MINISTRY, shanxi_lo, wait=0.5)  # Shanxi's data centre really is gone
        for dst in targets:
            assert wait_for(lambda dst=dst: ping(MINISTRY, dst), 10, what=f"{MINISTRY} -> {dst}"), dst
        assert ping(SHANXI_DR_FW, ministry_lo)  # and back: the DR centre's firewall reaches the ministry
        for host, zone in (("JB-140000-DR-DB01", "production"), ("JB-140000-DR-EX01", "exchange")):
            gw = next(i.ipv4 for i in lab.intents[SHANXI_DR_FW].interfaces if i.kind == "lan" and i.link_kind == zone)
            assert ping(host, gw.split("/")[0]), host
    wait_for(via_shanxi, 60, what="back through Shanxi")
    planned = {n.address for n in lab.intents[SHANXI_DR].bgp.neighbors}
    wait_for(lambda: all(established(SHANXI_DR).get(a) == "Established" for a in planned), RECOVERY_S,
             what="the DR centre's sessions back")
    _all_established(lab)


@contextmanager
def sites_cut_off(lab: LabPlan, *routers: str) -> Iterator[None]:
    """Every WAN and transit interface of `routers` down (their site cut off the WAN), up again after."""
    downed = {h: [i.name for i in lab.intents[h].interfaces if i.kind in ("wan", "transit")] for h in routers}
    try:
        for h, names in downed.items():
            for name in names:
                sh(h, "ip", "link", "set", name, "down", check=True)
        yield
    finally:
        for h, names in downed.items():
            for name in names:
                sh(h, "ip", "link", "set", name, "up", check=True)


ND, ND_FW = "JB-100000-DR-WR01", "JB-100000-DR-FW01"
PROVINCE_ROUTERS = (SHANXI, SHANXI2, TAIYUAN, "JB-410000-DC-WR01", "JB-410000-DC-WR02", "JB-110000-DC-WR01")


def test_provinces_reach_the_national_dr_centre_without_the_ministry(lab: LabPlan) -> None:
    """Issue 9 item 1: the national DR centre backs up the ministry and the provinces. While the ministry stands
    the provinces' lines to it carry nothing (it reaches Shanxi through the ministry, whose table it holds);
    with both of the ministry's WAN routers cut off every line, Shanxi, Taiyuan, Henan and Beijing still reach
    the national DR centre's router and its business zones' gateways, over their own DR lines, and back."""
    shanxi_agg = _shanxi_agg(lab)
    line = next(i for i in lab.intents[SHANXI2].interfaces if i.link_kind == "dr" and i.peer == ND)
    over_line = line.ipv4.split("/")[0]
    via_ministry = lambda: _best_next_hop(ND, shanxi_agg) not in (None, over_line)  # noqa: E731
    wait_for(via_ministry, 60, what="the national DR centre to reach Shanxi through the ministry first")
    # and Shanxi's second router's default comes from its own site (local-pref 200), not the DR line
    assert _best_next_hop(SHANXI2, "0.0.0.0/0") != next(
        n.address for n in lab.intents[SHANXI2].bgp.neighbors if n.peer == ND and n.afi == "ipv4")
    targets = [getattr(lab.intents[ND], f"loopback_v{af}").split("/")[0] for af in (4, 6)]
    targets += [getattr(itf, f"ipv{af}").split("/")[0] for itf in lab.intents[ND_FW].interfaces
                if itf.kind == "lan" and itf.link_kind in ("production", "exchange") for af in (4, 6)]
    assert len(targets) == 6
    ministry_lo = lab.intents[MINISTRY].loopback_v4.split("/")[0]
    with sites_cut_off(lab, MINISTRY, MINISTRY2):
        wait_for(lambda: _best_next_hop(ND, shanxi_agg) == over_line, 30, what="failover to Shanxi's DR line")
        assert not ping(SHANXI, ministry_lo, wait=0.5)  # the ministry really is gone
        for src in PROVINCE_ROUTERS:
            for dst in targets:
                assert wait_for(lambda src=src, dst=dst: ping(src, dst), 15, what=f"{src} -> {dst}"), (src, dst)
        # and back: the national DR centre's firewall reaches each province's router
        for h in (SHANXI, TAIYUAN, "JB-410000-DC-WR01", "JB-110000-DC-WR01"):
            assert ping(ND_FW, lab.intents[h].loopback_v4.split("/")[0]), h
    wait_for(via_ministry, RECOVERY_S, what="back through the ministry")
    planned = {n.address for n in lab.intents[ND].bgp.neighbors}
    wait_for(lambda: all(established(ND).get(a) == "Established" for a in planned), RECOVERY_S,
             what="the national DR centre's sessions back")
    _all_established(lab)
