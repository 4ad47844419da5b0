"""Review finding 8 of issue 11 (no lab needed): every zone host must be shown live, or a host whose plumbing is
broken would pass the isolation check on denies alone (a); and each probe says whether the firewall ruleset or
routing alone decides it, from the lab's own forwarding (b)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from checks.isolation import PROBER, Probe, ZoneHost, plan_probes, report, zone_hosts
from checks.isolation_paths import Paths

T = "140100-DC"


@pytest.fixture(scope="module")
def lab_plan():
    from lab.slice import build_lab
    from tests.conftest import INVENTORY

    return build_lab(INVENTORY, "minimal", "jbzl", "100.126.213.0/24")


@pytest.fixture(scope="module")
def paths(lab_plan, world) -> Paths:
    return Paths.of_lab(lab_plan, world)


@pytest.fixture(scope="module")
def hosts(lab_plan, world, paths) -> dict[str, ZoneHost]:
    return {h.hostname: h for h in zone_hosts(lab_plan, world, None, paths)}


def _observe(probes: list[Probe], broken: set[str] = frozenset(), down: set[str] = frozenset()) -> None:
    """What a sound lab observes (each probe as the policy expects, every liveness probe answered), except that
    the hosts in `broken` reach nothing and nothing reaches them, and the liveness probes of `down` fail."""
    for p in probes:
        if p.src in broken or p.dst in broken or (p.purpose == "liveness" and p.src in down):
            p.observed = "closed"
        else:
            p.observed = p.expected


# -- (b) what decides a probe: the plan's forwarding -----------------------------------------------------------
def test_gateways_are_the_devices_that_hold_each_hosts_subnet(hosts):
    assert (hosts["JB-140100-DC-DB01"].gateway_device, hosts["JB-140100-DC-DB01"].gateway) == (
        "JB-140100-DC-FW01", "10.26.0.1")  # its zone port on the firewall
    dmz = hosts[f"probe-{T}-dmz"]
    assert (dmz.gateway_device, dmz.gateway) == ("JB-140100-DC-WR01", "100.104.208.1")  # the lab stand-in
    # the office LAN has no router in the plan (and none in the lab)
    assert hosts["JB-140100-DC-DS01"].gateway is None and hosts["JB-140100-DC-DS01"].gateway_device is None


def test_paths_follow_the_plans_routes(hosts, paths):
    ip = {h: x.address for h, x in hosts.items()}
    # same site, through the firewall both ways: the ruleset decides
    assert paths.gap(ip[f"probe-{T}-dmz"], ip["JB-140100-DC-EX01"]) is None
    assert paths.gap(ip["JB-140100-DC-EX01"], ip["JB-140000-DC-EX01"]) is None  # the upload, across tiers
    # another site's DMZ: the request reaches the ministry, but no router carries the reply to Shanxi's DMZ block
    assert paths.gap(ip["probe-140000-DC-dmz"], ip["JB-100000-DC-EX01"]) == (
        "return: no route to 100.104.213.130 at JB-100000-DC-WR01")
    # the ministry's own DMZ is reached through every site's default route (to the ministry): the ruleset decides
    assert paths.gap(ip[f"probe-{T}-partners"], ip["JB-100000-DC-EX01"]) is None
    assert paths.gap(ip["JB-100000-DC-DB01"], ip["JB-140100-DC-DS01"]) == (
        "forward: no route to 172.19.64.2 at JB-100000-DC-WR01")
    assert paths.gap(ip["JB-140100-DC-DS01"], ip["JB-140100-DC-DB01"]).startswith(
        "forward: 172.19.64.2 is on no subnet")


def test_a_missing_route_in_the_plan_changes_the_answer(lab_plan, world, hosts):
    """The answer is read from the intents, not assumed: without Taiyuan's firewall default route, its zones
    reach no other site."""
    intents = dict(lab_plan.intents)
    fw = intents["JB-140100-DC-FW01"]
    intents[fw.hostname] = fw.model_copy(update={"static_routes": tuple(
        r for r in fw.static_routes if r.prefix != "0.0.0.0/0")})
    from lab import zoneprobe

    cut = Paths(intents, zoneprobe.plan(lab_plan, world))
    ex, up = hosts["JB-140100-DC-EX01"].address, hosts["JB-140000-DC-EX01"].address
    assert cut.gap(ex, up) == f"forward: no route to {up} at JB-140100-DC-FW01"
    assert Paths(lab_plan.intents).gateway(hosts[f"probe-{T}-dmz"].address) is None  # no stand-in, no first hop


def test_each_probe_says_what_decides_it(world, hosts, paths):
    probes = [p for p in plan_probes(world, list(hosts.values()), paths=paths) if p.purpose == "policy"]
    by = {(p.src, p.dst): p for p in probes}
    assert {p.decided_by for p in probes} == {"ruleset", "routing"}
    same = by[(f"probe-{T}-dmz", "JB-140100-DC-EX01")]
    assert (same.decided_by, same.route_gap) == ("ruleset", None)
    far = by[("probe-140000-DC-dmz", "JB-100000-DC-EX01")]
    assert far.decided_by == "routing" and "no route to 100.104.213.130" in far.route_gap
    # business <-> office: no path at all, by design (separation, not the ruleset)
    assert {p.decided_by for p in probes if "decision" in p.src_zone + p.dst_zone} == {"routing"}
    # every allowed flow the check probes is routed both ways (else it could never connect)
    assert {p.decided_by for p in probes if p.expected == "open"} == {"ruleset"}
    _observe(probes)
    rep = report(probes, list(hosts.values()))
    assert rep["decided_by"] == {"ruleset": sum(p.decided_by == "ruleset" for p in probes),
                                 "routing": sum(p.decided_by == "routing" for p in probes), "unknown": 0}
    assert rep["decided_by"]["routing"] > 0


# -- (a) every host shown live ---------------------------------------------------------------------------------
def test_a_sound_lab_shows_every_host_live(world, hosts, paths):
    hs = list(hosts.values())
    probes = plan_probes(world, hs, paths=paths)
    _observe(probes)
    rep = report(probes, hs)
    assert rep["ok"] and rep["not_live"] == 0 and rep["findings"] == []
    proof = {h["host"]: h["proof"] for h in rep["hosts"]}
    # the decision servers: the policy allows them nothing and the lab gives them no gateway, so a local link
    # check, said as much; everyone else by an allowed flow that connected
    assert {h for h, p in proof.items() if p == "link"} == {h for h in hosts if h.endswith("-DS01")}
    assert {p for h, p in proof.items() if not h.endswith("-DS01")} == {"flow"}
    ds = next(h for h in rep["hosts"] if h["host"] == "JB-140100-DC-DS01")
    assert ds["open_expected"] == 0 and "allows it no flow" in ds["detail"] and "not traffic" in ds["detail"]


def test_a_probe_host_with_broken_plumbing_fails_the_check(world, hosts, paths):
    """The DMZ probe host reaches nothing and nothing reaches it (interface down, wrong address, no route): its
    denied probes all "pass", its allowed ones fail, and the report names it."""
    hs = list(hosts.values())
    probes = plan_probes(world, hs, paths=paths)
    _observe(probes, broken={f"probe-{T}-dmz"})
    rep = report(probes, hs)
    assert not rep["ok"] and rep["not_live"] == 1
    [f] = rep["findings"]
    assert f["rule"] == "not-live" and f["host"] == f"probe-{T}-dmz"
    assert f["message"].startswith(f"probe-{T}-dmz ({T} dmz, 100.104.208.2) is not shown live: none of its")
    [h] = [h for h in rep["hosts"] if not h["live"]]
    assert h["open_expected"] > 0 and h["open_observed"] == 0


def test_a_host_the_policy_allows_nothing_fails_when_its_liveness_probe_does(world, hosts, paths):
    """The decision server: every probe from or to it is expected closed and is closed, so before finding 8 a
    decision server with its interface down passed. Its liveness probe fails now, and so does the check."""
    hs = list(hosts.values())
    probes = plan_probes(world, hs, paths=paths)
    _observe(probes, down={"JB-140100-DC-DS01"})
    rep = report(probes, hs)
    assert rep["mismatches"] == 0  # the policy probes alone would have passed
    assert not rep["ok"] and [f["host"] for f in rep["findings"]] == ["JB-140100-DC-DS01"]
    assert "172.19.64.2 is not on an interface that is up" in rep["findings"][0]["message"]
    [lp] = [p for p in rep["liveness_probes"] if p["src"] == "JB-140100-DC-DS01"]
    assert (lp["proto"], lp["expected"], lp["observed"]) == ("link", "open", "closed")


def test_with_a_gateway_in_the_lab_the_liveness_probe_is_icmp_to_it(world, hosts, paths):
    """The DMZ and production alone: the policy allows neither anything towards the other, so each is shown live
    by its own gateway (the firewall's zone port, the router's stand-in end), and fails without it."""
    hs = [hosts[f"probe-{T}-dmz"], hosts["JB-140100-DC-DB01"]]
    probes = plan_probes(world, hs, paths=paths)
    live = {p.src: p for p in probes if p.purpose == "liveness"}
    assert {(h, p.proto, p.dst, p.dst_ip) for h, p in live.items()} == {
        (f"probe-{T}-dmz", "icmp", "JB-140100-DC-WR01", "100.104.208.1"),
        ("JB-140100-DC-DB01", "icmp", "JB-140100-DC-FW01", "10.26.0.1")}
    _observe(probes)
    assert report(probes, hs)["ok"]
    _observe(probes, down={"JB-140100-DC-DB01"})
    rep = report(probes, hs)
    assert not rep["ok"] and [f["host"] for f in rep["findings"]] == ["JB-140100-DC-DB01"]
    assert "its gateway 10.26.0.1 (JB-140100-DC-FW01) does not answer ICMP" in rep["findings"][0]["message"]


def test_a_host_no_probe_involves_is_not_live():
    h = ZoneHost("JB-X", "X", "production", "10.0.0.2")
    rep = report([], [h])
    assert not rep["ok"] and rep["findings"][0]["host"] == "JB-X" and rep["hosts"][0]["proof"] == "none"


def test_the_json_shape_only_grows(world, hosts, paths):
    """`{"probes": [{"src", "dst", "port", "expected", "observed", ...}]}` as before; fields and keys added."""
    hs = list(hosts.values())
    probes = plan_probes(world, hs, paths=paths)
    _observe(probes)
    rep = json.loads(json.dumps(report(probes, hs)))
    assert {"ok", "probes_run", "mismatches", "probes"} <= set(rep)
    assert rep["probes_run"] == len(rep["probes"]) and all(p["proto"] != "link" for p in rep["probes"])
    assert {"src", "dst", "src_zone", "dst_zone", "proto", "port", "expected", "observed", "decided_by",
            "route_gap"} <= set(rep["probes"][0])
    assert {p["purpose"] for p in rep["probes"]} == {"policy"}


def test_the_text_report_names_the_dead_host_and_what_proved_what(world, hosts, paths):
    from jinbao.commands.check import isolation_text

    hs = list(hosts.values())
    probes = plan_probes(world, hs, paths=paths)
    _observe(probes, broken={f"probe-{T}-partners"})
    text = "\n".join(isolation_text(report(probes, hs)))
    assert f"[red]not live[/] probe-{T}-partners ({T} partners, 10.26.4.130) is not shown live" in text
    assert "hosts not shown live" in text and "closed by routing alone" in text
    assert "by their interface only (no flow allowed, no gateway in the lab: JB-100000-DC-DS01" in text


# -- the prober's link check, for real on this host -------------------------------------------------------------
def _prober(probes: list[dict]) -> list[bool]:
    r = subprocess.run([sys.executable, "-c", PROBER, "4"], input=json.dumps(probes), capture_output=True,
                       text=True, timeout=60, check=True)
    return json.loads(r.stdout)


def test_the_link_check_sees_an_up_interface_and_not_a_foreign_address():
    links = json.loads(subprocess.run(["ip", "-j", "addr", "show"], capture_output=True, text=True,
                                      check=True).stdout)
    up = [a["local"] for i in links if i.get("operstate") == "UP" and "LOWER_UP" in i.get("flags", ())
          for a in i.get("addr_info", ()) if a.get("family") == "inet"]
    assert up, "this host has an interface up with an IPv4 address"
    # loopback's state is UNKNOWN, not UP; 198.51.100.77 (TEST-NET-2) is on no interface here
    assert _prober([{"dst": up[0], "proto": "link", "port": None},
                    {"dst": "127.0.0.1", "proto": "link", "port": None},
                    {"dst": "198.51.100.77", "proto": "link", "port": None}]) == [True, False, False]
