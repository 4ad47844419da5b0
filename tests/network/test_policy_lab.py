"""The zone ruleset enforced in the lab (issue 11, items 3, 4 and 7 in part): `jinbao deploy` pushes each
firewall's ruleset (after its routing config) like any device config (dry-run diff, commit-confirm); `jinbao check
isolation` then sees traffic pass only the planned flows (from and to every zone: the DMZ, partners and management
zones by their probe hosts too); the running ruleset audits clean; a rule added by
hand on the device is found both by the traffic probe and by `jinbao policy verify --config`, naming site,
zones and port.

The session's deployed `minimal` slice (tests/conftest.py `minimal_lab`: ministry, national DR, Shanxi,
Taiyuan), its firewalls' rulesets removed first: the state before enforcement."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from lab import runtime
from lab.slice import LabPlan, node_name
from tests.conftest import MINIMAL_LAB, jinbao

pytestmark = [pytest.mark.integration, pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root")]
LAB = MINIMAL_LAB
DB, EX, FW, DS = "JB-140100-DC-DB01", "JB-140100-DC-EX01", "JB-140100-DC-FW01", "JB-140100-DC-DS01"


def sh(host: str, *argv: str, timeout: float = 30, input: str | None = None):
    return runtime.exec(LAB, node_name(host), list(argv), input=input, timeout=timeout)


def addr(lab: LabPlan, host: str) -> str:
    from lab.slice import ZONE_OF_ROLE

    d = next(x for x in lab.plan.inv.devices if x.hostname == host)
    pool, zone = ZONE_OF_ROLE[d.role]
    return lab.plan.addr.lan_host(d.site, pool, zone, 4, host, host).split("/")[0]


def runtime_netns() -> list[str]:
    from lab.links import list_netns

    return list_netns()


def deploy(*args: str) -> dict:
    r = jinbao("deploy", "--lab", LAB, *args, "--json")
    assert r.stdout, r.stderr[-2000:]
    return json.loads(r.stdout) | {"rc": r.returncode, "stderr": r.stderr[-2000:]}


@pytest.fixture(scope="module")
def lab(minimal_lab: LabPlan) -> LabPlan:
    """The shared lab as `deploy --no-rulesets` leaves it, which the first test starts from: routing deployed,
    jinbao's tables gone from every linux_nftables firewall (the first test deploys them again)."""
    firewalls = [n.hostname for n in minimal_lab.spec.nodes if n.kind == "firewall"]
    assert len(firewalls) == 4, firewalls
    for fw in firewalls:
        r = sh(fw, "sh", "-c", "nft delete table ip filtering_policies && nft delete table ip6 filtering_policies")
        assert r.returncode == 0, (fw, r.stderr)
    return minimal_lab


def check() -> tuple[int, dict]:
    r = jinbao("check", "isolation", "--lab", LAB, "--json")
    assert r.stdout, r.stderr[-2000:]
    return r.returncode, json.loads(r.stdout)


def mismatches(rep: dict) -> list[tuple]:
    return sorted((p["src_zone"], p["dst_zone"], p["proto"], p["port"], p["expected"], p["observed"])
                  for p in rep["probes"] if p["expected"] != p["observed"])


def test_rulesets_deploy_and_enforce_the_policy(lab: LabPlan, tmp_path: Path):
    # before: the firewalls forward everything: the probes see unplanned paths (and the check says so)
    rc, rep = check()
    assert rc == 1 and ("140100-DC production", "140100-DC exchange", "tcp", 8080, "closed", "open") in mismatches(rep)
    # the WAN-side zones' probe hosts really reach the zones through the firewall's transit port (so their
    # "closed" below is the ruleset's doing, not a missing route): the DMZ into production, management on telnet
    assert {("140100-DC dmz", "140100-DC production", "tcp", 5432, "closed", "open"),
            ("140000-DC management", "140000-DC exchange", "tcp", 23, "closed", "open"),
            ("140100-DC partners", "140100-DC production", "tcp", 9443, "closed", "open")} <= set(mismatches(rep))
    assert not [ns for ns in runtime_netns() if ns.startswith(f"jb-{LAB}-zp-")]  # gone after every check
    # the office network is unreachable even now, by any protocol, in both directions
    office = [p for p in rep["probes"] if "decision" in p["src_zone"] + p["dst_zone"]]
    assert office and {p["observed"] for p in office} == {"closed"}
    assert {p["proto"] for p in office} == {"tcp", "udp", "icmp"}
    # what decides each probe is read from the plan's forwarding (review finding 8b), and the open firewalls
    # confirm it: every probe the plan routes both ways connects now, none of the others does
    by = {d: {(p["src"], p["dst"], p["proto"], p["port"]) for p in rep["probes"] if p["decided_by"] == d}
          for d in ("ruleset", "routing")}
    assert by["ruleset"] and by["routing"] and rep["decided_by"]["unknown"] == 0
    observed = {(p["src"], p["dst"], p["proto"], p["port"]): p["observed"] for p in rep["probes"]}
    assert sorted(k for k in by["ruleset"] if observed[k] != "open")[:10] == []
    assert sorted(k for k in by["routing"] if observed[k] != "closed")[:10] == []
    assert rep["not_live"] == 0  # every host shown live, the decision servers by their link

    dry = deploy("--scope", "140100-DC", "--dry-run")
    [rs] = [d for d in dry["devices"] if d["hostname"] == f"{FW}:ruleset"]
    assert rs["status"] == "dry-run" and "+table ip filtering_policies" in rs["diff"]
    assert "filtering_policies" not in sh(FW, "nft", "list", "ruleset").stdout  # a dry run changes nothing

    res = deploy("--confirm", "30")  # a normal deploy: routing configs unchanged, then each firewall's ruleset
    assert res["rc"] == 0, res
    rulesets = {d["hostname"]: d["status"] for d in res["devices"] if d["hostname"].endswith(":ruleset")}
    assert len(rulesets) == 4 and set(rulesets.values()) == {"committed"}, rulesets
    assert {d["status"] for d in res["devices"] if not d["hostname"].endswith(":ruleset")} == {"unchanged"}

    # traffic: every probe as the policy says, same site and across tiers (zero mismatches is the pass)
    rc, rep = check()
    assert rc == 0 and rep["mismatches"] == 0, mismatches(rep)[:10]
    assert rep["not_live"] == 0 and {h["proof"] for h in rep["hosts"] if h["zone"] != "decision"} == {"flow"}
    opened = {(p["src_zone"], p["dst_zone"], p["port"]) for p in rep["probes"] if p["observed"] == "open"}
    assert ("140100-DC production", "140100-DC exchange", 5432) in opened
    assert ("140100-DC exchange", "140000-DC exchange", 8444) in opened  # city -> province upload
    assert ("100000-DC production", "100000-DR production", 5432) in opened  # replication to the DR centre
    assert ("140100-DC production", "140000-DC exchange", 8444) not in opened
    # the DMZ, partners and management zones, from and to a host in each (lab/zoneprobe.py), both ways
    probed = {(p["src_zone"], p["dst_zone"], p["proto"], p["port"]): p["observed"] for p in rep["probes"]}
    t = "140100-DC "
    for allowed in ((t + "dmz", t + "exchange", "tcp", 8443), (t + "partners", t + "exchange", "tcp", 9443),
                    (t + "management", t + "production", "tcp", 22), (t + "management", t + "exchange", "udp", 161),
                    (t + "production", t + "management", "udp", 123), (t + "exchange", t + "management", "udp", 514),
                    ("100000-DR management", "100000-DR production", "tcp", 22)):
        assert probed[allowed] == "open", allowed
    for denied in ((t + "dmz", t + "production", "tcp", 8443), (t + "dmz", t + "exchange", "tcp", 9443),
                   (t + "partners", t + "exchange", "tcp", 8443), (t + "management", t + "production", "udp", 123),
                   (t + "production", t + "management", "tcp", 22), ("140000-DC dmz", t + "exchange", "tcp", 8443)):
        assert probed[denied] == "closed", denied
    zones = {p["src_zone"].split()[1] for p in rep["probes"]} | {p["dst_zone"].split()[1] for p in rep["probes"]}
    assert zones == {"production", "exchange", "decision", "dmz", "partners", "management"}

    # the running ruleset, read back from the device, audits clean
    running = tmp_path / "running.nft"
    running.write_text(sh(FW, "nft", "list", "ruleset").stdout)
    r = jinbao("policy", "verify", "--scope", "140100-DC", "--platform", "linux_nftables", "--config", str(running))
    assert r.returncode == 0, r.stdout + r.stderr

    # a rule added by hand on the device: the probe and the audit both report it, naming site, zones, port
    ex = addr(lab, EX)
    chain = "production-to-exchange-production-exchange"
    hand = f"ip saddr {addr(lab, DB)} ip daddr {ex} tcp dport 8080 accept"
    assert sh(FW, "sh", "-c", f"nft add rule ip filtering_policies {chain} {hand}").returncode == 0
    rc, rep = check()
    assert rc == 1
    assert mismatches(rep) == [("140100-DC production", "140100-DC exchange", "tcp", 8080, "closed", "open")]
    running.write_text(sh(FW, "nft", "list", "ruleset").stdout)
    r = jinbao("policy", "verify", "--scope", "140100-DC", "--platform", "nftables", "--config", str(running),
               "--json")
    assert r.returncode == 1
    [f] = json.loads(r.stdout)["findings"]
    assert f["kind"] == "unplanned" and f["site"] == "140100-DC"
    assert (f["example"]["src_zone"], f["example"]["dst_zone"], f["example"]["port"]) == (
        "140100-DC production", "140100-DC exchange", 8080)

    # deploying again repairs the drift
    res = deploy("--scope", "140100-DC", "--confirm", "30")
    assert res["rc"] == 0, res
    rc, rep = check()
    assert rc == 0, mismatches(rep)[:10]


def test_a_stray_link_into_the_office_network_is_found_by_traffic(lab: LabPlan):
    """Issue 11 item 7, the traffic half (the analysis half, a stray link or route in the plan, is
    tests/network/test_policy_separation.py): a cable from the production database to the decision server,
    with a route at each end, joins the business and office networks past the firewall. `jinbao check
    isolation` reports it in both directions, by TCP, UDP and ICMP; once the cable is gone, zero mismatches."""
    from lab import names

    prod, office = addr(lab, DB), addr(lab, DS)
    db_ns, ds_ns = names.node_netns(LAB, node_name(DB)), names.node_netns(LAB, node_name(DS))
    a, b = "jbpo-stray0", "jbpo-stray1"  # the veth pair this test creates (and deletes)

    def ip(*args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True, text=True)

    def isolation() -> tuple[int, dict]:
        r = jinbao("check", "isolation", "--lab", LAB, "--scope", "140100-DC", "--json")
        assert r.stdout, r.stderr[-2000:]
        return r.returncode, json.loads(r.stdout)

    rc, rep = isolation()
    assert rc == 0, mismatches(rep)[:10]
    ip("link", "add", a, "type", "veth", "peer", "name", b)
    try:
        ip("link", "set", a, "netns", db_ns)
        ip("link", "set", b, "netns", ds_ns)
        for host, dev, mine, peer, far in ((DB, a, "169.254.77.1", "169.254.77.2", office),
                                           (DS, b, "169.254.77.2", "169.254.77.1", prod)):
            r = sh(host, "sh", "-c", f"ip addr add {mine}/30 dev {dev} && ip link set {dev} up"
                                     f" && ip route add {far}/32 via {peer}")
            assert r.returncode == 0, r.stderr
        rc, rep = isolation()
        assert rc == 1
        bad = [p for p in rep["probes"] if p["expected"] != p["observed"]]
        # only the two joined hosts, only the office <-> business pair, every protocol both ways, all "open"
        assert {(p["src"], p["dst"]) for p in bad} == {(DB, DS), (DS, DB)}
        assert {p["observed"] for p in bad} == {"open"}
        assert {(p["src_zone"], p["dst_zone"], p["proto"]) for p in bad} == {
            (f"140100-DC {x}", f"140100-DC {y}", proto) for x, y in (("production", "decision"),
                                                                    ("decision", "production"))
            for proto in ("tcp", "udp", "icmp")}
    finally:
        sh(DB, "ip", "link", "del", a)  # deletes both ends
        subprocess.run(["ip", "link", "del", a], capture_output=True)  # if it never left the host
    rc, rep = isolation()
    assert rc == 0, mismatches(rep)[:10]


def test_a_decision_server_with_its_link_down_is_found_not_live(lab: LabPlan):
    """Review finding 8a: every probe from and to a decision server is expected closed, so one whose interface
    is down passed on denies alone. Its liveness probe (the policy allows it nothing, and the lab gives the
    office LAN no router: a link check) now fails the check, naming it; with the link back, it passes."""
    from lab import links, names

    ns = names.node_netns(LAB, node_name(DS))
    [port] = [m for seg in lab.spec.segments for m in seg.members if m.node == node_name(DS)]
    routes = [r for r in lab.spec.routes if r.node == node_name(DS)]
    assert routes  # its default routes and IPv6 address go with the link: put back after, as `lab up` sets them

    def isolation() -> tuple[int, dict]:
        r = jinbao("check", "isolation", "--lab", LAB, "--scope", "140100-DC", "--json")
        assert r.stdout, r.stderr[-2000:]
        return r.returncode, json.loads(r.stdout)

    subprocess.run(["ip", "-n", ns, "link", "set", "dev", port.ifname, "down"], check=True)
    try:
        rc, rep = isolation()
        assert rc == 1 and rep["mismatches"] == 0  # the policy probes alone would have passed
        [f] = rep["findings"]
        assert f["rule"] == "not-live" and f["host"] == DS and f"{addr(lab, DS)} is not on an interface" in f["message"]
        r = jinbao("check", "isolation", "--lab", LAB, "--scope", "140100-DC")
        assert r.returncode == 1 and f"not live {DS}" in r.stdout
    finally:
        links.set_up(port.ifname, ns)
        links.add_addrs(ns, port.ifname, port.addrs)
        for rt in routes:
            links.ensure_route(ns, rt.dst, rt.via)
    rc, rep = isolation()
    assert rc == 0 and rep["not_live"] == 0, rep["findings"]
