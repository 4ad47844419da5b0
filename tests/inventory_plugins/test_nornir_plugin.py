"""The Nornir inventory plugin: the same hosts, groups and data as the Ansible plugin; the deploy engine's
Nornir is built by it."""

from __future__ import annotations

import importlib
import json
import tomllib
from pathlib import Path

from nornir import InitNornir
from nornir.core.filter import F

from network.deploy import DeployTarget
from network.deploy.runner import build_nornir
from plugins.nornir_inventory import JinbaoInventory, register
from tests.conftest import ROOT
from tests.inventory_plugins.test_ansible_plugin import ansible_inventory


def nornir_for(**options):  # type: ignore[no-untyped-def]
    register()
    return InitNornir(inventory={"plugin": "JinbaoInventory", "options": options}, logging={"enabled": False})


def test_same_hosts_groups_and_data_as_ansible(tmp_path: Path) -> None:
    cfg = tmp_path / "city.yml"
    cfg.write_text(f"plugin: jinbao\ninventory_dir: {ROOT / 'inventory'}\nscope: '140100'\n")
    r = ansible_inventory("-i", str(cfg), "--list")
    assert r.returncode == 0, r.stderr
    ans = json.loads(r.stdout)
    nr = nornir_for(inventory_dir=str(ROOT / "inventory"), scope="140100")
    hosts = nr.inventory.hosts
    assert set(hosts) == set(ans["_meta"]["hostvars"])
    for name, hv in ans["_meta"]["hostvars"].items():
        h = hosts[name]
        assert h.hostname == hv["ansible_host"]
        assert h.data == {k: v for k, v in hv.items() if k.startswith("jinbao_")}
    ans_groups = {g: set(v.get("hosts", [])) for g, v in ans.items() if g not in ("_meta", "all", "ungrouped")}
    nr_groups = {g: {h.name for h in hosts.values() if g in [x.name for x in h.groups]} for g in nr.inventory.groups}
    assert nr_groups == ans_groups
    prod = nr.filter(F(groups__contains="zone_production"))
    assert set(prod.inventory.hosts) == {"JB-140100-DC-DB01"}
    db = hosts["JB-140100-DC-DB01"]
    assert db.platform == "linux" and db["jinbao_dr_partner"] == "JB-140000-DR-DB01"
    assert hosts["JB-140100-DC-WR01"].platform == "huawei_vrp"


def test_entry_point_is_declared_like_nornir_netbox() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    eps = meta["project"]["entry-points"]["nornir.plugins.inventory"]
    module, _, attr = eps["JinbaoInventory"].partition(":")
    assert getattr(importlib.import_module(module), attr) is JinbaoInventory


def test_deploy_engine_nornir_comes_from_the_plugin() -> None:
    def target(hostname: str) -> DeployTarget:
        return DeployTarget(hostname=hostname, platform="frr", host="100.126.240.11", username="root",
                            key_file="/k", config_text="", known_hosts="/kh")

    nr = build_nornir([target("JB-140100-DC-WR01"), target("JB-149900-DC-WR01")], workers=2, connect_timeout=3,
                      inventory_dir=ROOT / "inventory")
    known, unknown = nr.inventory.hosts["JB-140100-DC-WR01"], nr.inventory.hosts["JB-149900-DC-WR01"]
    assert known.hostname == "100.126.240.11" and known.platform == "frr"  # the target's way in wins
    assert {"site_140100_dc", "role_wr", "tier_city"} <= {g.name for g in known.groups}
    assert known["jinbao_asn"] == 4200140100 and known["jinbao_platform"] == "frr"
    assert list(unknown.groups) == [] and unknown.hostname == "100.126.240.11"
    assert known.connection_options["napalm"].extras["optional_args"]["key_file"] == "/k"  # type: ignore[index]


def test_lab_option_gives_the_lab_slice_with_its_key() -> None:
    import shutil

    from lab import names
    from lab.fleet import record_lab

    lab = "vsnor"
    try:
        record_lab(lab, "minimal", ROOT / "inventory", "100.126.8.0/24")
        nr = nornir_for(lab=lab)
        hosts = nr.inventory.hosts
        assert "JB-140100-DC-DB01" in hosts and not any("-NM" in h for h in hosts)
        db = hosts["JB-140100-DC-DB01"]
        # servers: the deploy account (as the Ansible plugin); routers: root, as the deploy engine reaches them
        assert db.hostname.startswith("100.126.8.") and db.username == "jbadmin"
        assert hosts["JB-100000-DC-WR01"].username == "root"
        assert db.connection_options["netmiko"].extras["key_file"].endswith("id_ed25519")  # type: ignore[index]
        assert hosts["JB-100000-DC-WR01"].platform == "frr"
        assert set(nr.filter(F(groups__contains="lab")).inventory.hosts) == set(hosts)
    finally:
        shutil.rmtree(names.lab_dir(lab), ignore_errors=True)
