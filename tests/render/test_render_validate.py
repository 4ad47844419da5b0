"""Rendered configs pass their platform's checks, and the checks really catch what they claim to."""

from __future__ import annotations

from pathlib import Path

import pytest

from network.render import render_device
from network.secrets import LabTestSecrets
from network.validate import validate_config, validate_frr, validate_ios_like

from .conftest import needs_vtysh
from .fixtures import PLATFORMS, ROLES

IOS_LIKE = [p for p in PLATFORMS if p != "frr"]


@needs_vtysh
@pytest.mark.parametrize("role", sorted(ROLES))
def test_every_frr_render_passes_vtysh_dryrun(role: str) -> None:
    text = render_device(ROLES[role]("frr"), LabTestSecrets())
    assert validate_frr(text) == []


@needs_vtysh
def test_broken_frr_config_fails_vtysh_dryrun() -> None:
    text = render_device(ROLES["WR"]("frr"), LabTestSecrets())
    broken = text.replace(" neighbor 10.0.14.0 maximum-prefix 100 80", " neighbour 10.0.14.0 maximum-prefix 100 80")
    broken = broken.replace("ip prefix-list PL4-DEFAULT seq 10 permit 0.0.0.0/0",
                            "ip prefix-list PL4-DEFAULT seq 10 permit 0.0.0.0/33")
    findings = validate_frr(broken)
    details = " | ".join(f.message for f in findings)
    assert {f.rule for f in findings} == {"frr-syntax"}
    assert "neighbour 10.0.14.0" in details
    assert "0.0.0.0/33" in details
    assert len(findings) == 2


@needs_vtysh
def test_validate_frr_accepts_a_path(tmp_path: Path) -> None:
    good = tmp_path / "frr.conf"
    good.write_text(render_device(ROLES["AR"]("frr"), LabTestSecrets()))
    assert validate_frr(good) == []
    assert validate_frr(str(good)) == []
    bad = tmp_path / "bad.conf"
    bad.write_text("router bgp 65001\n neighbor 10.0.0.1 remote-az 65002\n")
    assert [f.rule for f in validate_frr(bad)] == ["frr-syntax"]


@needs_vtysh
def test_frr_command_in_wrong_node_fails() -> None:
    # A BGP neighbour line outside `router bgp` is the kind of template bug dry-run must catch.
    assert validate_frr("hostname x\nneighbor 10.0.0.1 remote-as 65001\n") != []


@pytest.mark.parametrize("role", sorted(ROLES))
@pytest.mark.parametrize("platform", IOS_LIKE)
def test_good_renders_are_structurally_clean(platform: str, role: str) -> None:
    text = render_device(ROLES[role](platform), LabTestSecrets())
    assert validate_ios_like(text, platform) == []
    assert validate_config(text, platform) == []


# (platform, text to remove or replace, replacement, expected rule, expected words in the detail)
MUTATIONS = [
    ("cisco_ios", "  neighbor 10.14.0.1 route-map RM4-DOWN-140100-IN in\n", "", "bgp-inbound-filter", "10.14.0.1"),
    ("huawei_vrp", "  peer 10.14.0.1 route-policy RM4-DOWN-140100-IN import\n", "", "bgp-inbound-filter", "10.14.0.1"),
    ("h3c_comware", "  peer 10.14.0.1 route-policy RM4-DOWN-140100-IN import\n", "", "bgp-inbound-filter",
     "10.14.0.1"),
    ("cisco_ios", " transport input ssh\n", " transport input telnet ssh\n", "no-telnet", "telnet"),
    ("huawei_vrp", "undo telnet server enable\n", "telnet server enable\n", "no-telnet", "telnet"),
    ("h3c_comware", " protocol inbound ssh\n", " protocol inbound all\n", "no-telnet", "all"),
    ("cisco_ios", "snmp-server location", "snmp-server community s3cret RO\nsnmp-server location", "snmp-v3-only",
     "community"),
    ("huawei_vrp", "snmp-agent trap enable", "snmp-agent community read s3cret\nsnmp-agent trap enable",
     "snmp-v3-only", "community"),
    ("h3c_comware", "snmp-agent trap enable", "snmp-agent community read s3cret\nsnmp-agent trap enable",
     "snmp-v3-only", "community"),
    ("huawei_vrp", "snmp-agent sys-info version v3", "snmp-agent sys-info version v2c v3", "snmp-v3-only", "v2c"),
    ("cisco_ios", " neighbor 10.14.0.3 fall-over bfd\n", "", "bgp-bfd", "10.14.0.3"),
    ("huawei_vrp", " peer 10.14.0.3 bfd enable\n", "", "bgp-bfd", "10.14.0.3"),
    ("h3c_comware", " peer 10.14.0.3 bfd\n", "", "bgp-bfd", "10.14.0.3"),
    ("cisco_ios", "  neighbor 10.0.14.2 maximum-prefix 100 80 restart 5\n", "", "bgp-max-prefix", "10.0.14.2"),
    ("huawei_vrp", "  peer 10.0.14.2 route-limit 100 80 idle-timeout 5\n", "", "bgp-max-prefix", "10.0.14.2"),
    ("h3c_comware", "  peer 10.0.14.2 route-limit 100 reconnect 300 80\n", "", "bgp-max-prefix", "10.0.14.2"),
]


@pytest.mark.parametrize(("platform", "old", "new", "rule", "word"), MUTATIONS)
def test_structural_checks_flag_violations(platform: str, old: str, new: str, rule: str, word: str) -> None:
    text = render_device(ROLES["WR"](platform), LabTestSecrets())
    assert old in text, f"mutation target not in the {platform} render: {old!r}"
    findings = validate_ios_like(text.replace(old, new, 1), platform)
    hits = [f for f in findings if f.rule == rule]
    assert hits, findings
    assert any(word in f.message for f in hits), hits
    # A finding must never echo a community string.
    assert all("s3cret" not in f.message for f in findings)


def test_ios_bfd_needs_interface_timers() -> None:
    text = render_device(ROLES["WR"]("cisco_ios"), LabTestSecrets())
    block = "interface GigabitEthernet0/0/3\n"
    head, tail = text.split(block, 1)
    tail = tail.replace(" bfd interval 100 min_rx 100 multiplier 3\n", "", 1)
    findings = validate_ios_like(head + block + tail, "cisco_ios")
    assert any(f.rule == "bgp-bfd" and "GigabitEthernet0/0/3" in f.message for f in findings)


def test_banner_text_is_not_parsed_as_config() -> None:
    text = render_device(ROLES["AR"]("cisco_ios"), LabTestSecrets())
    text = text.replace("All sessions are logged.", "transport input telnet\nsnmp-server community x RO")
    assert validate_ios_like(text, "cisco_ios") == []


def _without_inbound_filter(platform: str) -> object:
    intent = ROLES["WR"](platform)
    assert intent.bgp is not None
    first = intent.bgp.neighbors[0].model_copy(update={"route_map_in": None})
    bgp = intent.bgp.model_copy(update={"neighbors": (first, *intent.bgp.neighbors[1:])})
    return intent.model_copy(update={"bgp": bgp})


@pytest.mark.parametrize("platform", IOS_LIKE)
def test_render_many_refuses_to_write_a_set_that_fails_validation(platform: str, tmp_path: Path) -> None:
    from network.render import RenderError, render_many

    good = ROLES["AR"](platform)
    bad = _without_inbound_filter(platform)
    out = tmp_path / "out"
    with pytest.raises(RenderError, match=r"fails validation: bgp-inbound-filter.*nothing written") as e:
        render_many([good, bad], LabTestSecrets(), out)  # type: ignore[list-item]
    assert "\n" not in str(e.value) and e.value.field == "validation"
    assert not out.exists() or not any(out.iterdir())
    manifest = render_many([good], LabTestSecrets(), out)
    assert manifest["devices"][0]["validator"] == "ios_like"


@needs_vtysh
def test_many_frr_configs_checked_in_one_run_keep_their_own_line_numbers() -> None:
    from network.validate import validate_frr_many

    good = render_device(ROLES["AR"]("frr"), LabTestSecrets())
    broken = good.replace(" neighbor ", " neighbour ", 1)
    line = broken.splitlines().index(next(ln for ln in broken.splitlines() if ln.startswith(" neighbour "))) + 1
    found = validate_frr_many([good, broken, good, "hostname x\n neighbor 10.0.0.1 remote-as 1\n"])
    assert found[0] == [] and found[2] == []
    assert [f.message.split(":")[0] for f in found[1]] == [f"line {line}"]
    assert [f.message.split(":")[0] for f in found[3]] == ["line 2"]  # an `end` separates configs


# Issue 9 fixes, each held by a structural rule: (platform, role, line pattern to drop / (old, new), rule).
HARDENING = [
    *[(p, "WR", r" (?:peer|neighbor) 10\.0\.14\.0 password .*\n", "bgp-session-key") for p in PLATFORMS],
    *[(p, "WR", r" (?:peer|neighbor) 10\.0\.14\.0 (?:valid-ttl-hops|ttl-security hops) 1\n", "bgp-gtsm")
      for p in PLATFORMS],
    *[(p, "AR", r"( (?:route-limit|maximum-prefix) 10)(?: reconnect \d+)?( 80)(?: idle-timeout \d+| restart \d+)?",
       "bgp-max-prefix-restart") for p in PLATFORMS],
    *[(p, "AR", r"(\n  network 10\.14\.17\.0[^\n]*)", "bgp-duplicate-network") for p in PLATFORMS],
    ("huawei_vrp", "AR", r" acl ipv6 2001 inbound\n", "mgmt-acl-v6"),
    ("huawei_vrp", "AR", r"ssh ipv6 server acl 2001\n", "mgmt-acl-v6"),
    ("h3c_comware", "AR", r"ssh server ipv6 acl ipv6 2001\n", "mgmt-acl-v6"),
    ("cisco_ios", "AR", r" ipv6 access-class JB-MGMT-V6 in\n", "mgmt-acl-v6"),
    ("frr", "AR", r" ipv6 access-class JB-MGMT-V6\n", "mgmt-acl-v6"),
    ("huawei_vrp", "AR", ("service-type terminal ssh", "service-type ssh"), "console-login"),
    ("h3c_comware", "AR", ("service-type ssh terminal", "service-type ssh"), "console-login"),
    ("huawei_vrp", "WR", r" cmd recording-scheme JB-REC\n", "command-accounting"),
    ("h3c_comware", "WR", r" command accounting\n", "command-accounting"),
    ("cisco_ios", "WR", r"aaa accounting commands 15 [^\n]*\n", "command-accounting"),
    ("huawei_vrp", "AR", r" undo ipv6 nd ra halt\n", "ipv6-ra"),
    ("h3c_comware", "AR", r" undo ipv6 nd ra halt\n", "ipv6-ra"),
    ("frr", "AR", r" no ipv6 nd suppress-ra\n", "ipv6-ra"),
    ("cisco_ios", "WR", r"(interface GigabitEthernet0/0/1\n(?: [^\n]*\n)*?) ipv6 nd ra suppress all\n", "ipv6-ra"),
    ("huawei_vrp", "AR", r" ipv6-family\n  route-distinguisher [^\n]*\n", "vrp-vpn-instance"),
    ("huawei_vrp", "AR", ("# JB-", "!JB-"), "vrp-comment"),
    ("cisco_ios", "AR", ("vrf forwarding Mgmt-intf", "vrf forwarding MGMT"), "ios-mgmt-vrf"),
    ("cisco_ios", "AR", r"crypto key generate rsa [^\n]*\n", "ios-ssh-key"),
    ("cisco_ios", "AR", r" path bootflash:jinbao-archive\n", "ios-archive"),
    ("cisco_ios", "WR", (" key 6 ", " key 7 "), "ios-type6"),
    ("cisco_ios", "AR", ("banner login %", "banner login ^C"), "ios-banner-delimiter"),
    ("cisco_ios", "AR", (" access ipv6 JB-MGMT-V6 JB-MGMT\nsnmp-server location",
                         ":AB access ipv6 JB-MGMT-V6 JB-MGMT\nsnmp-server location"), "ios-snmp-aes-key"),
]


@pytest.mark.parametrize(("platform", "role", "change", "rule"), HARDENING)
def test_hardening_rules_flag_each_regression(platform: str, role: str, change: str | tuple[str, str],
                                              rule: str) -> None:
    import re

    text = render_device(ROLES[role](platform), LabTestSecrets())
    assert not [f for f in validate_ios_like(text, platform) if f.rule == rule]
    if isinstance(change, tuple):
        assert change[0] in text, change
        broken = text.replace(change[0], change[1], 1)
    elif rule in ("bgp-max-prefix-restart",):
        broken, n = re.subn(change, r"\1\2", text)
        assert n and broken != text
    elif rule == "bgp-duplicate-network":
        broken, n = re.subn(change, r"\1\1", text, count=1)
        assert n
    elif rule == "ipv6-ra" and platform == "cisco_ios":
        broken, n = re.subn(change, r"\1", text, count=1)
        assert n
    else:
        broken, n = re.subn(change, "", text, count=1)
        assert n, f"pattern not in the {platform} {role} render: {change!r}"
    found = [f for f in validate_ios_like(broken, platform) if f.rule == rule]
    assert found, validate_ios_like(broken, platform)
