"""Pure tests of the lab spec, names, mirror detection and rendered node files (no root needed)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from lab import base, names, nodefiles
from lab.spec import IfaceSpec, LabSpec, LinkSpec, NodeSpec, SpecError
from tests.conftest import ROOT
from tests.lab.conftest import SNMP, three_node_spec, two_node_spec


def test_spec_round_trips_through_json() -> None:
    spec = three_node_spec("rt", 250)
    again = LabSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec
    assert again.digest() == spec.digest()
    assert LabSpec.from_dict(json.loads(two_node_spec("b", 1).to_json())) == two_node_spec("b", 1)


def test_redacted_dict_hides_snmp_keys_and_repr_too() -> None:
    spec = three_node_spec("rt", 250)
    text = json.dumps(spec.to_dict(redact=True))
    assert SNMP.auth_key not in text and SNMP.priv_key not in text
    assert SNMP.auth_key not in repr(spec)


def test_valid_specs_validate() -> None:
    three_node_spec("jbt1", 251).validate()
    two_node_spec("jbt2", 252).validate()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "toolongname"}, "lab name"),
        ({"mgmt_net": "192.0.2.0/24", "mgmt_host_ip": "192.0.2.1"}, "overlaps the host"),
        ({"mgmt_host_ip": "100.99.0.1"}, "inside mgmt_net"),
        ({"frr_defaults": "fast"}, "frr_defaults"),
    ],
)
def test_bad_lab_fields_are_refused(change: dict[str, str], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        dataclasses.replace(three_node_spec("x", 250), **change).validate()


def test_bad_nodes_links_and_routes_are_refused() -> None:
    spec = three_node_spec("x", 250)
    r1 = spec.nodes[0]
    cases = {
        "must be an address in": dataclasses.replace(r1, mgmt_ip="100.126.9.11/24"),
        "kind": dataclasses.replace(r1, kind="switch"),
        "unknown services": dataclasses.replace(r1, services=("sshd", "telnetd")),
        "host name": dataclasses.replace(r1, hostname="bad_host"),
        "not a valid host name": dataclasses.replace(r1, hostname="a..b"),
    }
    for message, node in cases.items():
        with pytest.raises(SpecError, match=message):
            dataclasses.replace(spec, nodes=(node, *spec.nodes[1:])).validate()
    with pytest.raises(SpecError, match="used twice"):
        dup = dataclasses.replace(spec.nodes[1], mgmt_ip=r1.mgmt_ip)
        dataclasses.replace(spec, nodes=(r1, dup, spec.nodes[2])).validate()
    long_if = LinkSpec("l", IfaceSpec("r1", "a-very-long-ifname"), IfaceSpec("r2", "eth9"))
    with pytest.raises(SpecError, match="max 15"):
        dataclasses.replace(spec, links=(*spec.links, long_if)).validate()
    ghost = LinkSpec("g", IfaceSpec("r1", "eth8"), IfaceSpec("nope", "eth1"))
    with pytest.raises(SpecError, match="unknown node"):
        dataclasses.replace(spec, links=(*spec.links, ghost)).validate()
    clash = LinkSpec("c", IfaceSpec("r1", "eth8", ("192.0.2.5/24",)), IfaceSpec("r2", "eth8"))
    with pytest.raises(SpecError, match="overlaps the host"):
        dataclasses.replace(spec, links=(*spec.links, clash)).validate()
    bad_route = dataclasses.replace(spec.routes[0], via="fd10::1")
    with pytest.raises(SpecError, match="default6"):
        dataclasses.replace(spec, routes=(bad_route,)).validate()
    dataclasses.replace(spec, nodes=(dataclasses.replace(r1, hostname="r1.bj.lab"), *spec.nodes[1:])).validate()
    with pytest.raises(SpecError, match="protocols"):
        dataclasses.replace(spec, snmp_user=dataclasses.replace(SNMP, priv_proto="DES")).validate()
    weak = dataclasses.replace(SNMP, priv_key="short")
    with pytest.raises(SpecError, match="8 characters"):
        dataclasses.replace(spec, snmp_user=weak).validate()


def test_kernel_names_fit_15_characters() -> None:
    for lab in ("a", "abcdefgh"):
        assert len(names.mgmt_bridge(lab)) <= 15
        assert len(names.host_veth(lab, "a-long-node-name-of-forty-characters-xx")) <= 15
    assert names.host_veth("a", "r1") != names.host_veth("a", "r2")
    assert names.node_netns("l", "s-x") != names.segment_netns("l", "x")


def test_mirror_from_deb822_and_one_line_sources(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main\n\nTypes: deb\nURIs: http://mirror.example/security\nSuites: bookworm-security\n"
    )
    (tmp_path / "sources.list.d" / "other.list.disabled").write_text("deb http://wrong/ bookworm main\n")
    assert base.find_mirror(tmp_path) == "http://mirror.example/debian"
    (tmp_path / "sources.list").write_text("# c\ndeb [arch=amd64] http://one.example/debian bookworm main\n")
    assert base.find_mirror(tmp_path) == "http://one.example/debian"


def test_base_key_depends_on_the_package_set_only() -> None:
    assert base.base_key(("a", "b")) == base.base_key(("b", "a", "a"))
    assert base.base_key(("a", "b")) != base.base_key(("a", "b", "c"))


def test_node_files() -> None:
    spec = three_node_spec("x", 250)
    r1 = spec.node("r1")
    files = nodefiles.render(spec, r1, "ssh-ed25519 AAAAtest lab", SNMP)
    snmpd = files[nodefiles.SNMPD_CONF][0]
    assert "agentaddress udp:100.126.250.11:161" in snmpd
    assert "master agentx" in snmpd and f"rouser {SNMP.name} priv" in snmpd
    directives = [line for line in snmpd.splitlines() if not line.startswith("#")]
    assert not [d for d in directives if "community" in d.lower() or d.startswith("com2sec")]
    assert files[nodefiles.SNMPD_CONF][1] == 0o600
    sshd = files["/etc/ssh/sshd_config.d/00-jinbao-lab.conf"][0]
    assert "ListenAddress 100.126.250.11\n" in sshd and "PasswordAuthentication no" in sshd
    assert files["/root/.ssh/authorized_keys"][1] == 0o600
    frr = files["/etc/frr/frr.conf"][0]
    assert frr.splitlines() == [
        "frr defaults traditional",
        "hostname LABT-R1",
        "service integrated-vtysh-config",
        "agentx",
        "!",
    ]
    daemons = files["/etc/frr/daemons"][0]
    assert "bgpd=yes" in daemons and "bfdd=yes" in daemons
    assert '-M snmp"' in daemons.split("zebra_options=")[1].splitlines()[0]
    assert '-M snmp"' in daemons.split("bgpd_options=")[1].splitlines()[0]
    node_cfg = json.loads(files[nodefiles.NODE_CONFIG][0])
    assert node_cfg["forwarding"] is True and node_cfg["services"] == ["sshd", "frr", "snmpd"]
    server = nodefiles.render(spec, spec.node("srv1"), "ssh-ed25519 AAAAtest lab", None)
    assert "/etc/frr/frr.conf" not in server and nodefiles.SNMPD_CONF not in server
    assert json.loads(server[nodefiles.NODE_CONFIG][0])["forwarding"] is False
    with pytest.raises(ValueError, match="SNMPv3"):
        nodefiles.render(spec, r1, "k", None)


def test_node_defaults() -> None:
    node = NodeSpec("n", "N", "role", "server", "100.126.250.5/24")
    assert node.services == ("sshd",)


def test_lab_routers_run_bfd_at_the_lab_interval_unless_asked_for_the_production_timers() -> None:
    """inventory/routing.yaml `bfd.lab_interval_ms`: the lab's routers (CPU on the control host), not the plan's."""
    from lab.slice import build_lab
    from network.routing_config import load_routing

    bfd = load_routing(ROOT / "inventory").bfd
    assert bfd.lab_interval_ms is not None and bfd.lab_interval_ms != bfd.min_tx_ms
    lab = build_lab(ROOT / "inventory", "minimal", "jbtest", "100.126.250.0/24")
    bench = build_lab(ROOT / "inventory", "minimal", "jbtest", "100.126.250.0/24", production_bfd=True)
    for lp, ms in ((lab, bfd.lab_interval_ms), (bench, bfd.min_tx_ms)):
        profiles = {i.bfd_profile for i in lp.intents.values() if i.bfd_profile is not None}
        assert profiles and {(p.min_rx_ms, p.min_tx_ms, p.multiplier) for p in profiles} == {(ms, ms, bfd.multiplier)}
