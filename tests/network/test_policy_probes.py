"""The traffic check's plan: which probes, and what the policy expects of each (no lab needed)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from checks.isolation import LISTENER, Probe, ZoneHost, plan_probes, report, run_probes

HOSTS = [ZoneHost("JB-140100-DC-DB01", "140100-DC", "production", "10.26.0.2"),
         ZoneHost("JB-140100-DC-EX01", "140100-DC", "exchange", "10.26.1.2"),
         ZoneHost("JB-140100-DC-DS01", "140100-DC", "decision", "172.19.64.2"),
         ZoneHost("JB-140000-DC-EX01", "140000-DC", "exchange", "10.26.181.2")]


def _expect(probes, src, dst, proto, port):
    [p] = [p for p in probes if (p.src_zone, p.dst_zone, p.proto, p.port) == (src, dst, proto, port)]
    return p.expected


def test_expectations_follow_the_policy(world):
    planned = plan_probes(world, HOSTS)
    probes = [p for p in planned if p.purpose == "policy"]
    assert _expect(probes, "140100-DC production", "140100-DC exchange", "tcp", 5432) == "open"
    assert _expect(probes, "140100-DC production", "140100-DC exchange", "tcp", 8080) == "closed"  # canary
    assert _expect(probes, "140100-DC exchange", "140100-DC production", "tcp", 5432) == "closed"  # one way
    assert _expect(probes, "140100-DC exchange", "140000-DC exchange", "tcp", 8444) == "open"  # upload
    assert _expect(probes, "140000-DC exchange", "140100-DC exchange", "tcp", 8444) == "closed"  # data goes up
    # business <-> office: every protocol, both directions, all closed
    office = [p for p in probes if "decision" in p.src_zone + p.dst_zone]
    assert {p.proto for p in office} == {"tcp", "udp", "icmp"} and {p.expected for p in office} == {"closed"}
    assert not [p for p in probes if "decision" not in p.src_zone + p.dst_zone and p.proto != "tcp"]
    # the policy allows the decision server nothing, and it has no gateway here: its liveness is a link check
    # (every other host has an expected-open probe, which shows it live)
    [live] = [p for p in planned if p.purpose == "liveness"]
    assert (live.src, live.proto, live.dst_ip, live.expected) == ("JB-140100-DC-DS01", "link", "172.19.64.2", "open")


def test_results_are_matched_to_their_probes(world):
    hosts = HOSTS[:2]
    probes = plan_probes(world, hosts, canaries=(8080,))
    calls = []

    def run(host, argv, stdin):
        calls.append((host, argv[0]))
        if argv[:2] == ["python3", "-c"]:  # the prober: everything "connects"
            return 0, json.dumps([True] * len(json.loads(stdin)))
        if argv[0] == "sh" and argv[2].startswith("log="):  # a listener started: its PID and log file
            return 0, "4242 /tmp/jinbao-listener.x"
        return 0, ""  # ready at once, kill, rm

    run_probes(hosts, probes, run)
    rep = report(probes, hosts)
    # everything open: exactly the probes the policy wants closed are mismatches
    assert rep["mismatches"] == sum(p.expected == "closed" for p in probes) > 0
    assert ("JB-140100-DC-DB01", "kill") in calls  # the listeners it started are stopped, by PID


# -- the listeners' readiness handshake, with real listeners and a real prober on this host's loopback --------
def _local(slow_start: float = 0.0, log: list | None = None):
    """An Exec running the check's commands here (python3 is this interpreter); `slow_start` makes each listener
    take that long before it binds, as on a loaded host."""

    def run(host, argv, stdin):
        argv = [sys.executable if a == "python3" else a for a in argv]
        if argv[0] == "sh" and argv[2].startswith("log="):
            argv[2] = argv[2].replace("python3", sys.executable)
            if slow_start:
                argv[3] = f"import time; time.sleep({slow_start})\n" + LISTENER
        if log is not None:
            log.append((host, argv[0]))
        r = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=60)
        return r.returncode, r.stdout + (r.stderr if r.returncode else "")

    return run


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _loopback_probe(port: int) -> tuple[list[ZoneHost], list[Probe]]:
    hosts = [ZoneHost("JB-A", "X", "production", "127.0.0.1"), ZoneHost("JB-B", "X", "exchange", "127.0.0.1")]
    return hosts, [Probe("JB-A", "JB-B", "X production", "X exchange", "127.0.0.1", "tcp", port, "open")]


def _listener_gone(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def test_probes_wait_for_a_slow_listener_and_stop_it():
    port = _free_port()
    hosts, probes = _loopback_probe(port)
    calls: list = []
    # each listener needs 1.5 s to bind: a probe sent before it is ready would read "closed"
    run_probes(hosts[1:], probes, _local(slow_start=1.5, log=calls))
    assert [p.observed for p in probes] == ["open"]
    assert ("JB-B", "kill") in calls and ("JB-B", "rm") in calls and _listener_gone(port)


def test_a_listener_that_cannot_bind_is_an_error_naming_its_host():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        hosts, probes = _loopback_probe(taken.getsockname()[1])
        with pytest.raises(RuntimeError, match=r"^JB-B: the probe listener exited before listening: .*in use"):
            run_probes(hosts[1:], probes, _local())
    assert probes[0].observed == ""  # no probe ran


def test_a_listener_not_ready_in_time_is_an_error_naming_its_host():
    port = _free_port()
    hosts, probes = _loopback_probe(port)
    calls: list = []
    with pytest.raises(RuntimeError, match=r"^JB-B: the probe listener is not listening after 0.5 s$"):
        run_probes(hosts[1:], probes, _local(slow_start=5, log=calls), ready_timeout=0.5)
    assert ("JB-B", "kill") in calls  # stopped all the same


# -- the WAN-side zones' probe hosts (lab/zoneprobe.py): placed and addressed from the plan, probed as policy says --
@pytest.fixture(scope="module")
def minimal_plan():
    from lab.slice import build_lab
    from tests.conftest import INVENTORY

    return build_lab(INVENTORY, "minimal", "jbzp", "100.126.211.0/24")


def test_probe_hosts_sit_on_the_wan_side_with_recorded_addresses(minimal_plan, world):
    import ipaddress

    from ipplan.addr import fmt
    from lab import zoneprobe

    hosts = {(h.site, h.zone): h for h in zoneprobe.plan(minimal_plan, world)}
    # every lab data centre's WAN-side zone that has a block in the record: a DR centre has no DMZ, only
    # Taiyuan has a partner access site
    assert set(hosts) == {(s, z) for s in ("100000-DC", "140000-DC", "140100-DC") for z in ("dmz", "management")} | {
        ("100000-DR", "management"), ("140100-DC", "partners")}
    for (site, zone), h in hosts.items():
        block = ipaddress.ip_network(fmt(*next(b for b in world.blocks[(site, zone)] if b[0] == 4)))
        me, gw = ipaddress.ip_interface(h.address), ipaddress.ip_interface(h.gateway)
        assert me.network == gw.network == block and gw.ip == next(block.hosts()) and me.ip != gw.ip
        # the router the firewall's rendered default route points at
        fw = next(i for n, i in minimal_plan.intents.items() if i.role == "FW" and i.site == site)
        nh = next(s.next_hop for s in fw.static_routes if s.prefix == "0.0.0.0/0")
        assert any(i.ipv4 and i.ipv4.split("/")[0] == nh for i in minimal_plan.intents[h.router].interfaces)
    # the management probe is the site's management server, at its recorded address
    assert hosts[("140100-DC", "management")].address == "100.65.160.7/27"  # JB-140100-DC-NM01
    assert hosts[("140100-DC", "partners")].gateway == "10.26.4.129/27"  # the access router's planned LAN address
    assert len({zoneprobe.netns("jbzp", h) for h in hosts.values()}) == len(hosts)
    assert all(zoneprobe.netns("jbzp", h).startswith("jb-jbzp-zp-") for h in hosts.values())  # `lab down` finds them


def test_wan_side_zones_are_probed_as_the_policy_says(minimal_plan, world):
    from lab import zoneprobe

    probes_of = {(h.site, h.zone): h for h in zoneprobe.plan(minimal_plan, world)}
    hosts = [*HOSTS[:3], *(ZoneHost(h.hostname, h.site, h.zone, h.ip, h) for (s, _z), h in probes_of.items()
                          if s == "140100-DC")]
    probes = plan_probes(world, hosts)
    t = "140100-DC "
    assert _expect(probes, t + "dmz", t + "exchange", "tcp", 8443) == "open"  # public-service-api
    assert _expect(probes, t + "dmz", t + "exchange", "tcp", 9443) == "closed"
    assert _expect(probes, t + "dmz", t + "production", "tcp", 8443) == "closed"  # the DMZ never reaches production
    assert _expect(probes, t + "partners", t + "exchange", "tcp", 9443) == "open"  # partner-settlement
    assert _expect(probes, t + "partners", t + "exchange", "tcp", 8443) == "closed"
    assert _expect(probes, t + "management", t + "production", "tcp", 22) == "open"  # management-access
    assert _expect(probes, t + "management", t + "exchange", "udp", 161) == "open"
    assert _expect(probes, t + "management", t + "production", "udp", 123) == "closed"  # NTP goes the other way
    assert _expect(probes, t + "production", t + "management", "udp", 123) == "open"  # management-services
    assert _expect(probes, t + "exchange", t + "management", "udp", 514) == "open"
    assert _expect(probes, t + "production", t + "management", "udp", 161) == "closed"
    assert _expect(probes, t + "production", t + "management", "tcp", 22) == "closed"
    assert _expect(probes, t + "partners", t + "decision", "icmp", None) == "closed"  # business <-> office
    # two WAN-side zones meet without crossing the site firewall: not probed; nor the DMZ and the office
    pairs = {(p.src_zone, p.dst_zone) for p in probes}
    assert (t + "management", t + "dmz") not in pairs and (t + "dmz", t + "partners") not in pairs
    assert (t + "dmz", t + "decision") not in pairs
    # UDP only where a flow is UDP or the networks are apart
    assert not [p for p in probes if p.proto == "udp" and "decision" not in p.src_zone + p.dst_zone
                and "management" not in p.src_zone + p.dst_zone]


def test_probe_hosts_are_run_in_their_namespace(minimal_plan, world, monkeypatch):
    from checks import isolation
    from lab import zoneprobe

    h = next(p for p in zoneprobe.plan(minimal_plan, world) if (p.site, p.zone) == ("140100-DC", "dmz"))
    seen = []
    monkeypatch.setattr(zoneprobe, "run_in", lambda lab, p, argv, stdin: seen.append((lab, p, argv)) or
                        subprocess.CompletedProcess(argv, 0, "ok", ""))
    run = isolation.lab_exec("jbzp", [ZoneHost(h.hostname, h.site, h.zone, h.ip, h)])
    assert run(h.hostname, ["true"], None) == (0, "ok") and seen == [("jbzp", h, ["true"])]
    assert zoneprobe.exec_argv("jbzp", h) == ["ip", "netns", "exec", "jb-jbzp-zp-140100-dc-dmz"]


def test_probe_namespaces_are_removed_by_exact_name_never_by_prefix(tmp_path, monkeypatch):
    """`jb-<lab>-zp-` also starts the namespace of a node named `zp-…` and every namespace of a lab named
    `<lab>-zp`: removal (before a check, after it, at `lab down`) touches only the names a check recorded before
    creating them (a killed check's too) and those of its hosts; nothing is signalled or deleted elsewhere."""
    from lab import links, names, zoneprobe
    from lab.zoneprobe import ProbeHost

    monkeypatch.setattr(names, "STATE_ROOT", tmp_path)
    dmz = ProbeHost("probe-140100-DC-dmz", "140100-DC", "dmz", "10.1.0.2/29", "10.1.0.1/29", "JB-140100-DC-WR01")
    mgmt = ProbeHost("probe-140100-DC-management", "140100-DC", "management", "10.2.0.2/29", "10.2.0.1/29",
                     "JB-140100-DC-WR01")
    killed = "jb-x-zp-140000-dc-dmz"  # a killed check's, recorded by it
    others = ["jb-x-zp-r1", "jb-x-zp-140100-dc-dmz-old", "jb-x-r1", "jb-y-zp-140100-dc-dmz"]  # never ours
    existing = {killed, *others}
    touched, added = [], []

    def run(argv, check=True):
        touched.append(argv[-1])
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr(zoneprobe, "run", run)
    monkeypatch.setattr(links, "list_netns", lambda: sorted(existing))
    monkeypatch.setattr(links, "delete_link", lambda ifname, ns: touched.append(ns))
    monkeypatch.setattr(links, "delete_netns", lambda ns: existing.discard(ns))

    def add(lab, h):
        assert zoneprobe.netns(lab, h) in zoneprobe.recorded(lab)  # recorded before it exists
        existing.add(zoneprobe.netns(lab, h))
        added.append(zoneprobe.netns(lab, h))

    monkeypatch.setattr(zoneprobe, "_add", add)
    assert zoneprobe.remove("x") == []  # nothing recorded: nothing removed, whatever starts with the prefix
    assert touched == [] and existing == {killed, *others}
    zoneprobe.record_path("x").parent.mkdir(parents=True)
    zoneprobe.record_path("x").write_text(f"{killed}\n")
    with zoneprobe.attached("x", [dmz, mgmt]):
        assert sorted(added) == ["jb-x-zp-140100-dc-dmz", "jb-x-zp-140100-dc-management"]
        assert existing == {*others, *added}  # the killed check's gone before
    assert existing == set(others) and not zoneprobe.record_path("x").exists()
    assert set(touched) == {killed, *added}  # signalled and unplumbed: the check's own namespaces only
    # a check killed between recording and creating: the next removal finds what exists of the record
    zoneprobe.record_path("x").write_text("jb-x-zp-140100-dc-dmz\njb-x-r1\n")  # a stray line not of a probe: ignored
    existing.add("jb-x-zp-140100-dc-dmz")
    assert zoneprobe.remove("x") == ["jb-x-zp-140100-dc-dmz"] and existing == set(others)
