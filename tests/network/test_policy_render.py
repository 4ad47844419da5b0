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
from network.policy.parse import PARSERS, parse_vendor
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
