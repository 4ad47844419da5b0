"""FRR driver parsers against output captured from real FRR 8.4.4 routers (tests/deploy/data/README.md)."""

from __future__ import annotations

import json
import typing
from pathlib import Path
from typing import Any

import pytest
from napalm.base import models

from network.drivers import frr_parse

DATA = Path(__file__).parent / "data"


def conforms(model: Any, data: dict[str, Any]) -> bool:
    """``data`` has exactly the model's keys, each of the annotated type (napalm's own test_model
    helper cannot check Dict[...] fields: isinstance() refuses subscripted generics)."""
    hints = typing.get_type_hints(model)
    assert set(data) == set(hints), (sorted(data), sorted(hints))
    for key, hint in hints.items():
        expected = typing.get_origin(hint) or hint
        assert isinstance(data[key], expected), (key, hint, data[key])
    return True


def load(name: str) -> Any:
    text = (DATA / name).read_text()
    return json.loads(text) if name.endswith(".json") else text


def test_bgp_established_v4_and_v6() -> None:
    out = frr_parse.parse_bgp_neighbors(load("bgp-summary-up.json"), load("bgp-neighbors-up.json"))
    assert list(out) == ["global"]  # NAPALM's name for the default VRF
    vrf = out["global"]
    assert conforms(models.BGPStateNeighborsPerVRFDict, vrf)
    assert vrf["router_id"] == "10.221.0.1"
    assert sorted(vrf["peers"]) == ["10.220.0.1", "fd20::1"]
    v4, v6 = vrf["peers"]["10.220.0.1"], vrf["peers"]["fd20::1"]
    for peer in (v4, v6):
        assert conforms(models.BGPStateNeighborDict, peer)
        assert peer["is_up"] and peer["is_enabled"]
        assert peer["local_as"] == 4200140100 and peer["remote_as"] == 4200140000
        assert peer["remote_id"] == "10.221.0.2"
        assert peer["uptime"] == 18  # peerUptimeMsec 18000 in the summary
    assert v4["description"] == "JBD-R2 v4"
    assert v4["address_family"] == {"ipv4": {"received_prefixes": 1, "accepted_prefixes": 1, "sent_prefixes": 1}}
    assert v6["address_family"] == {"ipv6": {"received_prefixes": 1, "accepted_prefixes": 1, "sent_prefixes": 1}}
    for af in (*v4["address_family"].values(), *v6["address_family"].values()):
        assert conforms(models.BGPStateAddressFamilyDict, af)


def test_bgp_wrong_as_and_admin_shutdown() -> None:
    out = frr_parse.parse_bgp_neighbors(load("bgp-summary-down.json"), load("bgp-neighbors-down.json"))
    wrong_as, shut = out["global"]["peers"]["10.220.0.1"], out["global"]["peers"]["fd20::1"]
    assert not wrong_as["is_up"] and wrong_as["is_enabled"]
    assert wrong_as["remote_as"] == 4200149999
    assert wrong_as["remote_id"] == "0.0.0.0"  # never heard from that AS
    assert not shut["is_up"] and not shut["is_enabled"]
    assert shut["address_family"]["ipv6"]["accepted_prefixes"] == 0


def test_bgp_without_bgp_is_empty() -> None:
    # FRR with no router bgp prints {} for both commands.
    assert frr_parse.parse_bgp_neighbors({}, {}) == {}


def test_bgp_peer_only_in_neighbors_output() -> None:
    # A peer active in no address family is missing from the summary but is still a configured peer.
    neighbors = load("bgp-neighbors-down.json")
    summary = load("bgp-summary-down.json")
    del summary["default"]["ipv6Unicast"]
    out = frr_parse.parse_bgp_neighbors(summary, neighbors)
    assert "fd20::1" in out["global"]["peers"]
    assert out["global"]["peers"]["fd20::1"]["uptime"] == 3  # lastResetTimerMsecs


def test_interfaces() -> None:
    out = frr_parse.parse_interfaces(load("interface.json"))
    assert sorted(out) == ["eth1", "lo", "mgmt0"]
    for entry in out.values():
        assert conforms(models.InterfaceDict, entry)
    assert out["eth1"] == {
        "is_up": True,
        "is_enabled": True,
        "description": "to JBD-R2 eth1",
        "last_flapped": -1.0,
        "mtu": 1500,
        "speed": 10000.0,
        "mac_address": "c6:f3:cf:92:8d:91",
    }
    assert out["lo"]["mac_address"] == "" and out["lo"]["mtu"] == 65536


def test_interfaces_ip() -> None:
    out = frr_parse.parse_interfaces_ip(load("interface.json"))
    assert out["eth1"]["ipv4"] == {"10.220.0.0": {"prefix_length": 31}}
    assert out["eth1"]["ipv6"]["fd20::"] == {"prefix_length": 127}
    assert out["lo"] == {"ipv4": {"10.221.0.1": {"prefix_length": 32}}, "ipv6": {"fd21::1": {"prefix_length": 128}}}
    assert out["mgmt0"] == {"ipv4": {"100.126.240.11": {"prefix_length": 24}}}


def test_version() -> None:
    assert frr_parse.parse_version(load("show-version.txt")) == ("8.4.4", "JBD-R1")
    with pytest.raises(ValueError):
        frr_parse.parse_version("Cisco IOS Software")


def test_reload_diff_is_compacted_without_losing_lines() -> None:
    raw = load("reload-test.txt")
    assert frr_parse.compact_reload_diff(raw) == (
        "Lines To Delete\n"
        "===============\n"
        "interface eth1\n"
        " no description to JBD-R2 eth1\n"
        "router bgp 4200140100\n"
        " no neighbor 10.220.0.1 remote-as 4200140000\n"
        " no neighbor fd20::1 remote-as 4200140000\n"
        "\n"
        "Lines To Add\n"
        "============\n"
        "interface eth1\n"
        " description to R2\n"
        "router bgp 4200140100\n"
        " neighbor 10.220.0.1 remote-as 4200140001\n"
        " neighbor fd20::1 remote-as 4200140001\n"
        "no ip prefix-list PL-R1-OUT seq 10 permit 10.221.0.1/32\n"
    )
    # every non-context line of the raw output is still there
    compact = frr_parse.compact_reload_diff(raw).splitlines()
    assert {ln.rstrip() for ln in raw.splitlines() if ln.strip()} <= set(compact)
    assert frr_parse.compact_reload_diff("") == ""
    assert frr_parse.compact_reload_diff("\n") == ""


def test_reload_diff_nested_contexts() -> None:
    raw = (
        "\nLines To Add\n============\n"
        "router bgp 1\n"
        "router bgp 1\n address-family ipv4 unicast\n"
        "router bgp 1\n address-family ipv4 unicast\n  network 10.0.0.0/8 \n"
        "router bgp 1\n address-family ipv6 unicast\n  network fd00::/8\n"
        "router bgp 1\n address-family ipv4 unicast\n  network 11.0.0.0/8\n"
    )
    assert frr_parse.compact_reload_diff(raw).splitlines() == [
        "Lines To Add",
        "============",
        "router bgp 1",
        " address-family ipv4 unicast",
        "  network 10.0.0.0/8",
        " address-family ipv6 unicast",
        "  network fd00::/8",
        " address-family ipv4 unicast",  # re-opened: the order of changes is kept
        "  network 11.0.0.0/8",
    ]


def test_strip_running_header() -> None:
    text = "Building configuration...\n\nCurrent configuration:\n!\nfrr version 8.4.4\nhostname r1\n!\nend\n"
    assert frr_parse.strip_running_header(text) == "!\nfrr version 8.4.4\nhostname r1\n!\n"
    assert frr_parse.strip_running_header("hostname r1\n") == "hostname r1\n"


def test_ping_replies() -> None:
    out = frr_parse.parse_ping(load("ping-ok.txt"), 0)
    assert conforms(models.PingDict, out["success"])
    assert out["success"]["probes_sent"] == 2 and out["success"]["packet_loss"] == 0
    assert out["success"]["rtt_max"] == 0.069
    assert [r["ip_address"] for r in out["success"]["results"]] == ["10.220.0.1", "10.220.0.1"]


def test_ping_no_reply_is_total_loss_and_no_route_is_error() -> None:
    lost = frr_parse.parse_ping(load("ping-no-reply.txt"), 1)
    assert lost["success"]["packet_loss"] == 2 and lost["success"]["results"] == []
    err = frr_parse.parse_ping(load("ping-unreachable-route.txt"), 2)
    assert "Network is unreachable" in err["error"]


def test_sanitize() -> None:
    cfg = "router bgp 1\n neighbor 10.0.0.1 password s3cret\n neighbor 10.0.0.1 remote-as 2\n"
    clean = frr_parse.sanitize(cfg)
    assert "s3cret" not in clean
    assert " neighbor 10.0.0.1 password <removed>" in clean
    assert " neighbor 10.0.0.1 remote-as 2" in clean
