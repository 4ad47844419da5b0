"""The Ansible inventory plugin, run by the real ansible-inventory from the repository root."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

ANSIBLE_INVENTORY = str(Path(sys.executable).with_name("ansible-inventory"))


def ansible_inventory(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ANSIBLE_INVENTORY, *args], capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), **(env or {})})


def listed(config: Path, env: dict[str, str] | None = None) -> dict:
    r = ansible_inventory("-i", str(config), "--list", env=env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def members(data: dict, group: str) -> set[str]:
    return set(data.get(group, {}).get("hosts", []))


@pytest.fixture
def shanxi_config(tmp_path: Path) -> Path:
    cfg = tmp_path / "shanxi.yml"
    cfg.write_text(f"""plugin: jinbao
inventory_dir: {ROOT / 'inventory'}
scope: "140000"
compose:
  backup_target: jinbao_dr_partner
  zone_cidr: jinbao_zone_ipv4
keyed_groups:
  - key: jinbao_dr_site
    prefix: dr
groups:
  primary_dbs: jinbao_role == 'DB' and jinbao_dr_site is not none
""")
    return cfg


def test_graph_from_repo_root_covers_the_nation() -> None:
    r = ansible_inventory("-i", "inventory/jinbao.yml", "--graph")
    assert r.returncode == 0, r.stderr
    assert "[WARNING]" not in r.stderr, r.stderr
    for group in ("@tier_ministry:", "@province_140000:", "@site_140100_dc:", "@role_db:", "@zone_production:",
                  "@zone_decision:", "@servers:", "@network:"):
        assert group in r.stdout
    from inventory.load import load

    hosts = {line.split("--")[-1].strip() for line in r.stdout.splitlines() if "JB-" in line}
    assert hosts == {d.hostname for d in load(ROOT / "inventory").inventory.devices}


def test_host_vars_groups_and_constructed(shanxi_config: Path) -> None:
    data = listed(shanxi_config)
    hv = data["_meta"]["hostvars"]
    db = hv["JB-140100-DC-DB01"]
    assert db["ansible_host"] == "100.65.160.4"  # the management record of the IP registry
    assert db["jinbao_zone"] == "production" and db["jinbao_platform"] == "linux"
    assert db["jinbao_site"] == "140100-DC" and db["jinbao_region_code"] == "140100"
    assert db["jinbao_dr_partner"] == "JB-140000-DR-DB01"
    assert db["jinbao_zone_ipv4"] == "10.26.0.2/24" and db["jinbao_zone_gateway_ipv4"] == "10.26.0.1"
    assert "ansible_network_os" not in db
    wr = hv["JB-140100-DC-WR01"]
    assert wr["ansible_network_os"] == "community.network.ce" and wr["jinbao_asn"] == 4200140100
    # constructed: compose, groups, keyed_groups
    assert db["backup_target"] == "JB-140000-DR-DB01" and db["zone_cidr"] == "10.26.0.2/24"
    assert "JB-140100-DC-DB01" in members(data, "primary_dbs")
    assert not {"JB-140100-DC-EX01", "JB-140000-DR-DB01"} & members(data, "primary_dbs")
    assert "JB-140100-DC-DS01" in members(data, "dr_140000_DR")
    # Datong hosts Shanxi's DR centre: its replica goes to the national one (the replication plan's rule)
    assert "JB-140200-DC-DS01" in members(data, "dr_100000_DR")
    # scope: Shanxi only; groups by tier, site, role, zone
    assert all(h.startswith("JB-14") for h in hv)
    assert members(data, "zone_exchange") == {h for h in hv if "-EX" in h}
    assert "JB-140000-DC-WR02" in members(data, "tier_province")
    assert members(data, "site_140200_dc") == {h for h in hv if h.startswith("JB-140200-DC-")}


def test_bad_scope_is_one_line_error(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yml"
    cfg.write_text(f"plugin: jinbao\ninventory_dir: {ROOT / 'inventory'}\nscope: '999999'\n")
    r = ansible_inventory("-i", str(cfg), "--list", env={"ANSIBLE_INVENTORY_UNPARSED_FAILED": "true"})
    assert r.returncode != 0
    assert "--scope '999999': no site id or region code" in r.stderr


def test_lab_option_gives_the_lab_slice(tmp_path: Path) -> None:
    """A lab recorded by `jinbao lab up` (only its metadata is needed to compute the slice)."""
    from lab import names
    from lab.fleet import LAB_META, record_lab

    lab = "vsinv"
    try:
        record_lab(lab, "minimal", ROOT / "inventory", "100.126.9.0/24")
        # inventory/group_vars/ (next to jinbao.yml) holds the vault: the lab's LAB-ONLY password opens it
        data = listed(ROOT / "inventory" / "jinbao.yml", env={
            "JINBAO_LAB": lab, "ANSIBLE_VAULT_PASSWORD_FILE": str(ROOT / "inventory" / "vault-password.LAB-ONLY")})
        hv = data["_meta"]["hostvars"]
        assert set(hv) >= {"JB-100000-DC-WR01", "JB-140100-DC-DB01"}
        assert not any("-NM" in h or "-AS" in h for h in hv)  # the lab builds neither
        db = hv["JB-140100-DC-DB01"]
        # servers: the deploy account, as on a real network; routers: root (the deploy engine's FRR access)
        assert db["ansible_host"].startswith("100.126.9.") and db["ansible_user"] == "jbadmin"
        assert hv["JB-100000-DC-WR01"]["ansible_user"] == "root"
        assert db["ansible_ssh_private_key_file"].endswith(f"{lab}/ssh/id_ed25519") or lab in \
            db["ansible_ssh_private_key_file"]
        assert hv["JB-100000-DC-WR01"]["jinbao_platform"] == "frr"
        assert set(members(data, "lab")) == set(hv)
    finally:
        (names.lab_dir(lab) / LAB_META).unlink(missing_ok=True)
        shutil.rmtree(names.lab_dir(lab), ignore_errors=True)


def test_scope_limit_names_the_plugins_site_groups(shanxi_config: Path) -> None:
    """`jinbao servers build --scope` limits to the groups the plugin makes: one lower-case form."""
    from inventory.load import load
    from inventory.scope import sites_in_scope
    from jinbao.provision import limit_for_sites

    data = listed(shanxi_config)
    sites = sites_in_scope(load(ROOT / "inventory").inventory, "140000")
    limit = limit_for_sites(sites)
    assert "site_140100_dc" in limit.split(":") and limit == limit.lower()
    assert set(limit.split(":")) <= set(data), sorted(set(limit.split(":")) - set(data))
    assert not any(g.startswith("site_") and g != g.lower() for g in data)
