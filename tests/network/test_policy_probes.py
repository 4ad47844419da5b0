"""The traffic check's plan: which probes, and what the policy expects of each (no lab needed)."""

from __future__ import annotations

import json

from checks.isolation import ZoneHost, plan_probes, report, run_probes

HOSTS = [ZoneHost("JB-140100-DC-DB01", "140100-DC", "production", "10.26.0.2"),
         ZoneHost("JB-140100-DC-EX01", "140100-DC", "exchange", "10.26.1.2"),
         ZoneHost("JB-140100-DC-DS01", "140100-DC", "decision", "172.19.64.2"),
         ZoneHost("JB-140000-DC-EX01", "140000-DC", "exchange", "10.26.181.2")]


def _expect(probes, src, dst, proto, port):
    [p] = [p for p in probes if (p.src_zone, p.dst_zone, p.proto, p.port) == (src, dst, proto, port)]
    return p.expected


def test_expectations_follow_the_policy(world):
    probes = plan_probes(world, HOSTS)
    assert _expect(probes, "140100-DC production", "140100-DC exchange", "tcp", 5432) == "open"
    assert _expect(probes, "140100-DC production", "140100-DC exchange", "tcp", 8080) == "closed"  # canary
    assert _expect(probes, "140100-DC exchange", "140100-DC production", "tcp", 5432) == "closed"  # one way
    assert _expect(probes, "140100-DC exchange", "140000-DC exchange", "tcp", 8444) == "open"  # upload
    assert _expect(probes, "140000-DC exchange", "140100-DC exchange", "tcp", 8444) == "closed"  # data goes up
    # business <-> office: every protocol, both directions, all closed
    office = [p for p in probes if "decision" in p.src_zone + p.dst_zone]
    assert {p.proto for p in office} == {"tcp", "udp", "icmp"} and {p.expected for p in office} == {"closed"}
    assert not [p for p in probes if "decision" not in p.src_zone + p.dst_zone and p.proto != "tcp"]


def test_results_are_matched_to_their_probes(world):
    hosts = HOSTS[:2]
    probes = plan_probes(world, hosts, canaries=(8080,))
    calls = []

    def run(host, argv, stdin):
        calls.append((host, argv[0]))
        if argv[:2] == ["python3", "-c"]:  # the prober: everything "connects"
            return 0, json.dumps([True] * len(json.loads(stdin)))
        return 0, "4242" if argv[0] == "sh" else ""

    run_probes(hosts, probes, run)
    rep = report(probes)
    # everything open: exactly the probes the policy wants closed are mismatches
    assert rep["mismatches"] == sum(p.expected == "closed" for p in probes) > 0
    assert ("JB-140100-DC-DB01", "kill") in calls  # the listeners it started are stopped, by PID
