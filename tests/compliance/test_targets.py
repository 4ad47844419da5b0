"""Expectations come from the plan: planned interfaces and descriptions, IPv4 peers polled, IPv6 peers named."""

from __future__ import annotations

from checks.targets import expectation
from network.plan import build_intents
from network.service import open_network
from tests.conftest import INVENTORY

HOST = "JB-140100-DC-WR01"


def test_expectation_of_a_router_per_platform() -> None:
    p = open_network(INVENTORY)
    for platform, has_mgmt in (("frr", False), ("huawei_vrp", True)):
        intent = build_intents(p, {HOST}, platform=platform)[HOST]
        e = expectation(HOST, "100.65.160.2", "WR", "太原市数据中心 / Taiyuan data centre", intent)
        mgmt = [i.name for i in intent.interfaces if i.kind == "mgmt"]
        # FRR's management port is the Linux host's (not in frr.conf, no description): not a planned ifAlias
        assert (mgmt[0] in e.interfaces) is has_mgmt
        wan = next(i for i in intent.interfaces if i.kind == "wan")
        assert e.interfaces[wan.name] == wan.description
        assert e.bgp_peers_v4 and all(":" not in a for a in e.bgp_peers_v4)
        assert e.bgp_peers_v6 and all(":" in a for a in e.bgp_peers_v6)
        assert len(e.bgp_peers_v4) + len(e.bgp_peers_v6) == len(intent.bgp.neighbors)  # type: ignore[union-attr]


def test_expectation_of_a_server_has_no_interfaces_or_peers() -> None:
    e = expectation("JB-140100-DC-DB01", "100.65.160.9", "DB", "x", None)
    assert e.interfaces == {} and e.bgp_peers_v4 == () and e.bgp_peers_v6 == ()
