"""Compilation: one policy drives four generators (Aerleon's nftables and Cisco, the project's VRP and
Comware plugin); goldens for one site; nftables checked by the real `nft -c`, VRP/Comware by parsing back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from core.errors import JinbaoError
from network.policy.compile import PLATFORMS, SUFFIX, site_rules
from network.policy.generate import render_site
from network.policy.parse import PARSERS, parse_vendor, parse_zone_policy, zone_policy_problems
from tests.conftest import ROOT, jinbao

GOLDEN = Path(__file__).parent / "policy_golden"
SITE = "140100-DC"


@pytest.fixture(scope="module")
def texts(world, defs) -> dict[str, str]:
    return render_site(world, defs, SITE)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_golden(texts, platform):
    """After an intended change: `jinbao policy render --site 140100-DC --out tests/network/policy_golden`."""
    assert texts[platform] == (GOLDEN / SITE / f"{SITE}{SUFFIX[platform]}").read_text(encoding="utf-8")


def test_cli_render_out_writes_the_goldens(tmp_path: Path):
    r = jinbao("policy", "render", "--site", SITE, "--out", str(tmp_path), "--json")
    assert r.returncode == 0, r.stderr
    files = json.loads(r.stdout)["files"]
    assert {f["platform"] for f in files} == set(PLATFORMS)
    for f in files:
        assert (tmp_path / f["file"]).read_text() == (GOLDEN / f["file"]).read_text()


def test_cli_render_one_platform_by_device_platform_name():
    r = jinbao("policy", "render", "--site", SITE, "--platform", "huawei_vrp")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("#\nacl name JB-ZONE-POLICY advance")


@pytest.mark.parametrize(("args", "message"), [
    (("--site", "140100-AS001"), "'140100-AS001' is not a site with a firewall"),
    (("--site", "999999-DC"), "'999999-DC' is not a site with a firewall"),
    (("--site", SITE, "--platform", "junos"), "--platform: unknown platform 'junos'"),
])
def test_cli_render_bad_input(args, message):
    r = jinbao("policy", "render", *args)
    assert r.returncode == 2 and message in r.stderr and r.stderr.count("\n") == 1


def test_every_flow_instance_has_its_term(texts, world):
    """Same terms on every platform: the nftables chains, Cisco remarks and VRP/Comware rule names agree."""
    names = {r.name for r in site_rules(world, SITE)}
    for platform in PLATFORMS:
        rs = PARSERS[platform](texts[platform])
        for af in (4, 6):
            assert {ln.name for ln in rs.lines[af]} == names, (platform, af)
    # cross-tier flows appear at this site: upload to its province, replication to its DR centre
    assert {"exchange-upload-to-140000-dc", "dr-replication-to-140000-dr"} <= names


def test_province_sees_uploads_from_every_city_and_the_ministry_every_province(world):
    prov = {r.name for r in site_rules(world, "140000-DC")}
    cities = {s for s, p in world.parent.items() if p == "140000-DC"}
    assert {f"exchange-upload-from-{c.lower()}" for c in cities} <= prov
    assert "exchange-upload-to-100000-dc" in prov
    dr = {r.name for r in site_rules(world, "140000-DR")}
    assert {f"dr-replication-from-{c.lower()}" for c in world.protects["140000-DR"]} <= dr


@pytest.mark.parametrize("platform", ["huawei", "h3c"])
def test_vendor_output_is_structurally_sound(texts, platform):
    text = texts[platform]
    head = {"huawei": ("acl name JB-ZONE-POLICY advance", "acl ipv6 name JB-ZONE-POLICY6 advance"),
            "h3c": ("acl advanced name JB-ZONE-POLICY", "acl ipv6 advanced name JB-ZONE-POLICY6")}[platform]
    assert [ln for ln in text.splitlines() if ln.startswith("acl ")] == list(head)
    rs = parse_vendor(text)  # refuses any line it cannot read, and rule numbers that do not ascend
    cisco = PARSERS["cisco"](texts["cisco"])
    for af in (4, 6):
        assert [(ln.action, ln.boxes) for ln in rs.lines[af]] == [(ln.action, ln.boxes) for ln in cisco.lines[af]]
        assert rs.lines[af][-1].name == "default-deny" and rs.lines[af][-1].action == "deny"


@pytest.mark.parametrize("platform", ["huawei", "h3c"])
def test_vendor_zone_policy_means_the_acl(texts, platform):
    """Zone objects and zone-pair policies beside the ACL: zones bound to the firewall's ports, one rule per ACL
    term by source and destination zone, the default deny last; read back, they mean the ACL rule for rule."""
    text = texts[platform]
    zp = parse_zone_policy(text)
    assert zp is not None
    untrust = {"huawei": "untrust", "h3c": "Untrust"}[platform]
    assert zp.zones == {"production": ["GigabitEthernet1/0/2"], "exchange": ["GigabitEthernet1/0/3"],
                        untrust: ["GigabitEthernet1/0/1"]}
    assert zone_policy_problems(zp, parse_vendor(text)) == []
    pair = {(r.name, r.src_zone, r.dst_zone) for r in zp.rules}
    assert ("production-to-exchange-production-exchange", "production", "exchange") in pair
    assert ("exchange-upload-to-140000-dc", "exchange", untrust) in pair
    assert ("partner-settlement-partners-exchange", untrust, "exchange") in pair
    if platform == "huawei":
        assert "security-policy" in text.splitlines() and " set priority 60" in text
        assert (zp.rules[-1].name, zp.rules[-1].src_zone, zp.rules[-1].action) == ("default-deny", None, "deny")
    else:
        assert {(a, b) for _, a, b, _ in zp.pairs} >= {("production", "exchange"), ("Untrust", "exchange")}
        assert all(set(ap) == {4, 6} for _, _, _, ap in zp.pairs)
        for pol in {r.policy for r in zp.rules}:
            assert [r for r in zp.rules if r.policy == pol][-1].name == "default-deny"


@pytest.mark.parametrize(("platform", "old", "new", "problem"), [
    # a zone rule opening another port than the ACL term of the same name
    ("huawei", "  service protocol tcp destination-port 5432\n", "  service protocol tcp destination-port 5433\n",
     "rule production-to-exchange-production-exchange: matches other IPv4 packets"),
    ("h3c", " service tcp destination eq 8444", " service tcp destination eq 8080",
     "rule exchange-upload-to-140000-dc: matches other IPv4 packets"),
    # a zone with no interface, an interface in two zones
    ("huawei", " add interface GigabitEthernet1/0/3\n", "", "zone exchange has no interface"),
    ("h3c", " import interface GigabitEthernet1/0/3\n", " import interface GigabitEthernet1/0/2\n",
     "interface GigabitEthernet1/0/2 is in zones production and exchange"),
    # an action flipped, the default deny gone
    ("huawei", "  action permit\n", "  action deny\n", "rule production-to-exchange-production-exchange: deny here"),
    ("huawei", " rule name default-deny\n  action deny\n", "", "ACL term default-deny has no rule in the zone policy"),
    ("h3c", " rule 10 drop\n", " rule 10 pass\n", "rule default-deny: accept here, deny in the ACL"),
    # a zone pair naming an undeclared zone, a policy applied nowhere
    ("h3c", "zone-pair security source production destination exchange",
     "zone-pair security source production destination exchnge", "zone exchnge is not declared"),
    ("h3c", " object-policy apply ip JB-production-exchange\n", "",
     "object-policy JB-production-exchange is not applied"),
])
def test_zone_policy_problems_are_found(texts, platform, old, new, problem):
    text = texts[platform]
    assert old in text
    bad = text.replace(old, new, 1)
    found = [msg for _, msg in zone_policy_problems(parse_zone_policy(bad), parse_vendor(bad))]
    assert any(problem in msg for msg in found), found


def test_zone_policy_problems_are_verify_findings(world, texts):
    from network.policy.service import verify_texts

    bad = texts["huawei"].replace("  service protocol tcp destination-port 8444\n",
                                  "  service protocol tcp destination-port 8445\n", 1)
    rep = verify_texts(world, SITE, {"huawei": bad})
    assert [(f.rule, f.detail["platform"]) for f in rep.findings] == [("zone-policy", "huawei")] * 2  # IPv4 and IPv6
    assert rep.findings[0].detail["line"] is not None and "exchange-upload-to-140000-dc" in rep.findings[0].message
    assert verify_texts(world, SITE, {"huawei": texts["huawei"], "h3c": texts["h3c"]}).findings == []


def test_vendor_parser_refuses_what_it_cannot_read(texts):
    bad = texts["huawei"].replace("rule 10 permit", "rule 10 permitt", 1)
    with pytest.raises(JinbaoError, match="line 6: cannot read ACL rule"):
        parse_vendor(bad)
    swapped = texts["huawei"].replace("rule 10 permit", "rule 3 permit", 1)
    with pytest.raises(JinbaoError, match="rule 3 out of order"):
        parse_vendor(swapped)


def test_the_plugin_is_found_through_the_aerleon_entry_point(tmp_path: Path):
    """Aerleon discovers the generators through the entry point pyproject.toml declares (installed here as
    a throwaway distribution, as `pip install` would register it), without the project's fallback."""
    line = next(ln for ln in (ROOT / "pyproject.toml").read_text().splitlines() if ln.startswith("jinbao = \"network"))
    dist = tmp_path / "jinbao_plugin_probe-0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: jinbao-plugin-probe\nVersion: 0\n")
    entry = line.replace('"', "")
    (dist / "entry_points.txt").write_text(f"[aerleon.plugin]\n{entry}\n")
    code = ("from aerleon.lib.plugin_supervisor import PluginSupervisor as P; P.Start(); "
            "print(P.generators['huawei'].__module__, P.generators['h3c'].__name__)")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}:{ROOT}"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["network.policy.vendor", "H3CComware"]


@pytest.mark.integration
def test_nftables_output_passes_nft_check_in_a_throwaway_namespace(texts, tmp_path: Path):
    """`nft -c` parses and validates against the kernel without loading; inside a namespace of our own all
    the same, so nothing can ever touch the host's ruleset. A broken file must fail the same check."""
    ns = f"jbpo-nftc-{uuid.uuid4().hex[:6]}"
    good, bad = tmp_path / "good.nft", tmp_path / "bad.nft"
    good.write_text("flush ruleset\n" + texts["nftables"])
    bad.write_text(texts["nftables"].replace("tcp dport 5432", "tcp dport 99999", 1))
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        ok = subprocess.run(["ip", "netns", "exec", ns, "nft", "-c", "-f", str(good)], capture_output=True, text=True)
        ko = subprocess.run(["ip", "netns", "exec", ns, "nft", "-c", "-f", str(bad)], capture_output=True, text=True)
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=True)
    assert ok.returncode == 0, ok.stderr
    assert ko.returncode != 0 and "99999" in ko.stderr
    assert ns not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


def test_zone_policy_parser_refuses_what_it_cannot_read(texts):
    bad = texts["huawei"].replace("  action permit", "  action allow", 1)
    with pytest.raises(JinbaoError, match=r"line \d+: cannot read zone policy line"):
        parse_zone_policy(bad)
    bad = texts["h3c"].replace("S140100_DC_EXCHANGE service TCP-5432", "S140100_DC_EXCHANGE service TCP-5999", 1)
    with pytest.raises(JinbaoError, match="undefined object-group 'TCP-5999'"):
        parse_zone_policy(bad)


def test_dr_relation_is_the_replication_plans_for_every_site(world):
    """The zone policy's `to_site: dr` goes where replication runs: for every site of the national inventory
    the world's DR centre is inventory/drpolicy.py's replica_site (dr.yaml overrides included) and the
    replication plan's pair, e.g. a provincial centre to the national DR centre, Shanghai to Henan's."""
    from dr.plan import replication_plan
    from inventory.drpolicy import load_dr_config, replica_site
    from tests.conftest import INVENTORY

    doc = load_dr_config(INVENTORY)[0]
    want = {s.id: replica_site(world.inv, doc, s) for s in world.inv.sites}
    assert world.dr == {k: v for k, v in want.items() if v is not None}
    assert world.dr == {p.primary_site: p.replica_site for p in replication_plan(world.inv, doc)}
    assert world.dr["140000-DC"] == "100000-DR" and world.dr["310000-DC"] == "410000-DR"
    assert world.dr["140100-DC"] == "140000-DR" and world.dr["140200-DC"] == "100000-DR"  # Datong hosts 140000-DR
    assert {s for s, d in world.dr.items() if d == "140000-DR"} == set(world.protects["140000-DR"])
    names = {r.name for r in site_rules(world, "140000-DC")}
    assert "dr-replication-to-100000-dr" in names and "dr-replication-to-140000-dr" not in names
