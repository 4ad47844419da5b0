"""Auditing a real device (`jinbao policy verify --config`, issue 11): the whole running configuration goes
in (what the documented extraction gives), only the plan's ACLs and zone policy are judged, and what the
plan renders but the device lacks (`absent`), or an ACL applied to no interface (`unbound`), is a finding."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import JinbaoError
from network.policy.generate import render_site
from network.policy.service import verify_texts
from tests.conftest import jinbao

SITE = "140100-DC"
ACL_PLATFORMS = ("cisco", "huawei", "h3c")

# the filter bindings of each platform, on the transit port (inbound)
BIND = {
    "cisco": ("interface GigabitEthernet0/1\n description transit\n ip address 192.0.2.1 255.255.255.0\n"
              " ip access-group JB-ZONE-POLICY in\n ipv6 traffic-filter JB-ZONE-POLICY6 in\n!\n"),
    "huawei": ("interface GigabitEthernet1/0/1\n ip address 192.0.2.1 255.255.255.0\n"
               " traffic-filter inbound acl name JB-ZONE-POLICY\n"
               " traffic-filter inbound ipv6 acl name JB-ZONE-POLICY6\n#\n"),
    "h3c": ("interface GigabitEthernet1/0/1\n ip address 192.0.2.1 255.255.255.0\n"
            " packet-filter name JB-ZONE-POLICY inbound\n packet-filter ipv6 name JB-ZONE-POLICY6 inbound\n#\n"),
}
# what else a running configuration holds: a management ACL (not the zone filter: never judged) bound to the
# VTY lines, routing, the device's name
HEAD = {
    "cisco": "hostname JB-140100-DC-FW01\n!\nip access-list standard MGMT\n permit 10.0.0.0 0.0.0.255\n!\n",
    "huawei": "#\nsysname JB-140100-DC-FW01\n#\nacl number 2000\n rule 5 permit source 10.0.0.0 0.0.0.255\n#\n"
              # the device's built-in zones, unused by the policy (no interface: not a finding)
              "firewall zone local\n set priority 100\n#\nfirewall zone trust\n set priority 85\n#\n",
    "h3c": "#\n sysname JB-140100-DC-FW01\n#\nacl basic 2000\n rule 5 permit source 10.0.0.0 0.0.0.255\n#\n"
           "security-zone name Local\n#\nsecurity-zone name Trust\n#\nsecurity-zone name Management\n#\n",
}
TAIL = {
    "cisco": "ip route 0.0.0.0 0.0.0.0 192.0.2.254\n!\nline vty 0 4\n access-class MGMT in\n!\nend\n",
    "huawei": "ip route-static 0.0.0.0 0.0.0.0 192.0.2.254\n#\nuser-interface vty 0 4\n acl 2000 inbound\n#\nreturn\n",
    "h3c": "ip route-static 0.0.0.0 0 192.0.2.254\n#\nline vty 0 63\n acl 2000 inbound\n#\nreturn\n",
}


@pytest.fixture(scope="module")
def texts(world, defs) -> dict[str, str]:
    return render_site(world, defs, SITE)


def running(texts: dict[str, str], platform: str, bind: str | None = None, body: str | None = None) -> str:
    """A device's `show running-config` / `display current-configuration` holding the rendered filter."""
    body = body if body is not None else texts[platform]
    body = "\n".join(ln for ln in body.splitlines() if not ln.startswith("no "))  # the push's own `no …`
    # Comware (and VRP) print global commands indented after a `#`: not part of the ACL before them
    body = body.replace("\n#\nacl ipv6", "\n#\n ip ttl-expires enable\n#\nacl ipv6", 1)
    return HEAD[platform] + body + "\n" + (BIND[platform] if bind is None else bind) + TAIL[platform]


def acl_only(text: str) -> str:
    """The ACLs alone: what `display current-configuration configuration acl` gives (no zone policy)."""
    return text.split("#\nfirewall zone", 1)[0].split("#\nsecurity-zone", 1)[0]


def kinds(rep) -> list[tuple[str, str]]:
    return [(f.rule, f.message) for f in rep.findings]


@pytest.mark.parametrize("platform", ACL_PLATFORMS)
def test_a_whole_running_configuration_audits_clean(world, texts, platform):
    rep = verify_texts(world, SITE, {platform: running(texts, platform)}, device=True)
    assert kinds(rep) == []
    assert rep.lines[platform] == verify_texts(world, SITE, {platform: texts[platform]}).lines[platform]  # all read


@pytest.mark.parametrize("platform", ACL_PLATFORMS)
def test_an_acl_bound_to_no_interface_is_unbound(world, texts, platform):
    rep = verify_texts(world, SITE, {platform: running(texts, platform, bind="")}, device=True)
    assert sorted(kinds(rep)) == [
        ("unbound", "ACL JB-ZONE-POLICY (IPv4) is bound inbound on no interface: it filters nothing"),
        ("unbound", "ACL JB-ZONE-POLICY6 (IPv6) is bound inbound on no interface: it filters nothing")]


@pytest.mark.parametrize("platform", ACL_PLATFORMS)
def test_an_outbound_only_or_one_family_binding_is_unbound(world, texts, platform):
    v4, v6 = [ln for ln in BIND[platform].splitlines() if "JB-ZONE-POLICY" in ln]
    out = v4.replace(" in", " out").replace("inbound", "outbound")
    bind = BIND[platform].replace(v4, out).replace(v6 + "\n", "")
    rep = verify_texts(world, SITE, {platform: running(texts, platform, bind=bind)}, device=True)
    assert [k for k, _ in kinds(rep)] == ["unbound", "unbound"]
    assert "(only outbound on GigabitEthernet" in rep.findings[0].message
    assert "JB-ZONE-POLICY6 (IPv6)" in rep.findings[1].message


@pytest.mark.parametrize("platform", ("huawei", "h3c"))
def test_a_configuration_without_the_zone_policy_is_a_finding(world, texts, platform):
    rep = verify_texts(world, SITE, {platform: running(texts, platform, body=acl_only(texts[platform]))}, device=True)
    [(kind, msg)] = kinds(rep)
    assert kind == "absent" and msg.startswith("the zone policy (") and "is not in the configuration" in msg


@pytest.mark.parametrize("platform", ACL_PLATFORMS)
def test_a_configuration_without_the_ipv6_acl_is_a_finding(world, texts, platform):
    head = {"cisco": "ipv6 access-list JB-ZONE-POLICY6", "huawei": "acl ipv6 name JB-ZONE-POLICY6 advance",
            "h3c": "acl ipv6 advanced name JB-ZONE-POLICY6"}[platform]
    rep = verify_texts(world, SITE, {platform: running(texts, platform).replace(head, "ipv6 old-filter")},
                       device=True)
    assert ("absent", "ACL JB-ZONE-POLICY6 (IPv6) is not in the configuration") in kinds(rep)


def test_a_plan_acl_in_a_form_the_parser_does_not_read_is_an_error(world, texts):
    bad = running(texts, "huawei").replace("acl name JB-ZONE-POLICY advance", "acl name JB-ZONE-POLICY basic")
    with pytest.raises(JinbaoError, match="cannot read the ACL header"):
        verify_texts(world, SITE, {"huawei": bad}, device=True)


def test_vrp_shows_a_named_acl_with_its_assigned_number(world, texts):
    """VRP often displays `acl name N 3999` (the number it assigned the named ACL): the plan's ACL, read whole."""
    text = running(texts, "huawei").replace("acl name JB-ZONE-POLICY advance", "acl name JB-ZONE-POLICY 3999")
    text = text.replace("acl ipv6 name JB-ZONE-POLICY6 advance", "acl ipv6 name JB-ZONE-POLICY6 3998")
    assert "JB-ZONE-POLICY 3999" in text and "JB-ZONE-POLICY6 3998" in text
    rep = verify_texts(world, SITE, {"huawei": text}, device=True)
    assert kinds(rep) == []
    assert rep.lines["huawei"] == verify_texts(world, SITE, {"huawei": texts["huawei"]}).lines["huawei"]


@pytest.mark.parametrize(("platform", "bind"), [
    # Comware: trailing options on the binding
    ("h3c", "interface GigabitEthernet1/0/1\n ip address 192.0.2.1 255.255.255.0\n"
            " packet-filter name JB-ZONE-POLICY inbound hardware-count\n"
            " packet-filter ipv6 name JB-ZONE-POLICY6 inbound hardware-count\n#\n"),
    # VRP V8's order of the v6 binding
    ("huawei", "interface GigabitEthernet1/0/1\n ip address 192.0.2.1 255.255.255.0\n"
               " traffic-filter inbound acl name JB-ZONE-POLICY\n"
               " traffic-filter ipv6 inbound acl name JB-ZONE-POLICY6\n#\n"),
    # an indented `#` inside the interface does not end it
    ("huawei", "interface GigabitEthernet1/0/1\n ip address 192.0.2.1 255.255.255.0\n #\n"
               " traffic-filter inbound acl name JB-ZONE-POLICY\n"
               " traffic-filter inbound ipv6 acl name JB-ZONE-POLICY6\n#\n"),
    ("h3c", "interface GigabitEthernet1/0/1\n ip address 192.0.2.1 255.255.255.0\n #\n"
            " packet-filter name JB-ZONE-POLICY inbound\n packet-filter ipv6 name JB-ZONE-POLICY6 inbound\n#\n"),
])
def test_the_binding_forms_devices_print_count(world, texts, platform, bind):
    rep = verify_texts(world, SITE, {platform: running(texts, platform, bind=bind)}, device=True)
    assert kinds(rep) == []


def test_an_unrelated_cisco_acl_mentioning_the_plan_name_is_not_judged(world, texts):
    """A numbered ACL's remark (or another ACL whose name starts the same) is not the plan's ACL: no error."""
    other = ("access-list 10 remark management hosts, see JB-ZONE-POLICY\naccess-list 10 permit 10.0.0.0 0.0.0.255\n"
             "!\nip access-list extended JB-ZONE-POLICY-OLD\n permit ip any any\n!\n")
    mgmt = "ip access-list standard MGMT"
    text = running(texts, "cisco").replace(f"!\n{mgmt}", f"!\n{other}{mgmt}")
    assert other in text
    assert kinds(verify_texts(world, SITE, {"cisco": text}, device=True)) == []


@pytest.mark.parametrize("platform", ACL_PLATFORMS)
def test_a_binding_on_a_shut_down_interface_filters_nothing(world, texts, platform):
    bind = BIND[platform].replace(" ip address 192.0.2.1 255.255.255.0\n",
                                  " ip address 192.0.2.1 255.255.255.0\n shutdown\n")
    rep = verify_texts(world, SITE, {platform: running(texts, platform, bind=bind)}, device=True)
    port = BIND[platform].split("\n", 1)[0].split()[1]
    assert sorted(kinds(rep)) == [
        ("unbound", f"ACL JB-ZONE-POLICY (IPv4) is bound inbound on no interface (inbound only on {port}, shut "
                    "down): it filters nothing"),
        ("unbound", f"ACL JB-ZONE-POLICY6 (IPv6) is bound inbound on no interface (inbound only on {port}, shut "
                    "down): it filters nothing")]
    up = BIND[platform].replace(" ip address 192.0.2.1 255.255.255.0\n",
                                " ip address 192.0.2.1 255.255.255.0\n undo shutdown\n" if platform != "cisco"
                                else " ip address 192.0.2.1 255.255.255.0\n no shutdown\n")
    assert kinds(verify_texts(world, SITE, {platform: running(texts, platform, bind=up)}, device=True)) == []


def test_cli_audit_of_acl_only_vrp_text_fails_with_named_findings(tmp_path: Path, texts):
    """The reviewer's case: ACL-only text (the old documented extraction) used to report `ok` and exit 0."""
    f = tmp_path / "running.vrp"
    f.write_text(acl_only(texts["huawei"]))
    r = jinbao("policy", "verify", "--scope", SITE, "--platform", "huawei_vrp", "--config", str(f), "--json")
    assert r.returncode == 1, r.stdout + r.stderr
    assert sorted(x["kind"] for x in json.loads(r.stdout)["findings"]) == ["absent", "unbound", "unbound"]
    f.write_text(running(texts, "huawei"))
    r = jinbao("policy", "verify", "--scope", SITE, "--platform", "huawei_vrp", "--config", str(f))
    assert r.returncode == 0 and "ok" in r.stdout, r.stdout + r.stderr


def test_cli_audit_of_a_whole_comware_configuration_parses(tmp_path: Path, texts):
    """The old documented Comware extraction (`include ^acl|^ rule`) also caught object-policy rules and
    stopped at one; the whole configuration is read section by section."""
    f = tmp_path / "running.comware"
    f.write_text(running(texts, "h3c"))
    r = jinbao("policy", "verify", "--scope", SITE, "--platform", "h3c_comware", "--config", str(f))
    assert r.returncode == 0 and "ok" in r.stdout, r.stdout + r.stderr
