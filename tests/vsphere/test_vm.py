"""`jinbao vm` against VMware's vSphere simulator (govmomi's, built from Debian's sources)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyVmomi import vim

from tests.vsphere.conftest import session, vm_cli
from vsphere.client import MANAGED_MARK, read_vms
from vsphere.provision import wait_task

pytestmark = pytest.mark.integration


def test_provision_city_then_nothing_to_do(sim) -> None:
    r = vm_cli(sim, "provision", "--scope", "140100", "--json", "--wait", "20")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["changed"] == 4 and data["summary"] == {"created": 4}
    with session(sim) as si:
        vms = read_vms(si)
    db = vms["JB-140100-DC-DB01"]
    assert (db.datacenter, db.cluster, db.folder) == ("JB-140000", "140100-DC", "jinbao/140100-DC")
    assert db.port_groups == ["140100-DC-production"]
    assert (db.cpu, db.memory_mb, db.disk_gb) == (8, 32768, 500)
    assert db.power == "poweredOn" and db.ip == "10.26.0.2" and db.managed
    assert vms["JB-140100-DC-DS01"].port_groups == ["140100-DC-decision"]
    assert vms["JB-140100-DC-NM01"].ip == "100.65.160.7"
    assert (vms["JB-140100-DC-EX01"].cpu, vms["JB-140100-DC-EX01"].disk_gb) == (4, 200)
    # second run: nothing changes, and it says so
    again = vm_cli(sim, "provision", "--scope", "140100")
    assert again.returncode == 0, again.stderr
    assert "4 unchanged - nothing changed" in again.stdout
    with session(sim) as si:
        assert len(read_vms(si)) == len(vms)


def test_list_reports_missing_extra_differing(sim) -> None:
    assert vm_cli(sim, "provision", "--scope", "140100", "--wait", "20").returncode == 0
    with session(sim) as si:
        by_name = {v.name: v for v in si.content.viewManager.CreateContainerView(
            si.content.rootFolder, [vim.VirtualMachine], True).view}
        wait_task(by_name["JB-140100-DC-EX01"].ReconfigVM_Task(vim.vm.ConfigSpec(numCPUs=2)), "shrink")
        ds = by_name["JB-140100-DC-DS01"]
        wait_task(ds.PowerOffVM_Task(), "off")
        wait_task(ds.Destroy_Task(), "destroy")
        db = by_name["JB-140100-DC-DB01"]
        clone = wait_task(db.CloneVM_Task(folder=db.parent, name="JB-140100-DC-DB09", spec=vim.vm.CloneSpec(
            location=vim.vm.RelocateSpec(pool=db.resourcePool))), "clone")
        wait_task(clone.ReconfigVM_Task(vim.vm.ConfigSpec(annotation=MANAGED_MARK)), "mark")
    r = vm_cli(sim, "list", "--scope", "140100", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["missing"] == ["JB-140100-DC-DS01"]
    assert data["extra"] == ["JB-140100-DC-DB09"]
    assert list(data["differing"]) == ["JB-140100-DC-EX01"]
    assert data["differing"]["JB-140100-DC-EX01"] == ["cpu 2 (want 4)"]
    assert sorted(data["matching"]) == ["JB-140100-DC-DB01", "JB-140100-DC-NM01"]
    # provision creates only the missing VM and leaves the differing one as it is
    r = vm_cli(sim, "provision", "--scope", "140100", "--json", "--wait", "20")
    data = json.loads(r.stdout)
    acts = {v["name"]: v["action"] for v in data["vms"]}
    assert acts == {"JB-140100-DC-DB01": "unchanged", "JB-140100-DC-EX01": "differs",
                    "JB-140100-DC-DS01": "created", "JB-140100-DC-NM01": "unchanged"}


def test_dry_run_creates_nothing(sim) -> None:
    r = vm_cli(sim, "provision", "--scope", "140200", "--dry-run", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["summary"] == {"would-create": 4} and data["changed"] == 0
    with session(sim) as si:
        assert not [n for n in read_vms(si) if n.startswith("JB-140200-")]


@pytest.mark.parametrize(("setting", "message"), [
    ("template: nope-template", "JB-140300-DC-DB01: template 'nope-template' not found in vCenter"),
    ('cluster: "C-{site}"', "JB-140300-DC-DB01: cluster 'C-140300-DC' not found in datacenter 'JB-140000'"),
    ("port_groups: {production: PG-MISSING}", "JB-140300-DC-DB01: port_group 'PG-MISSING' not found in datacenter"),
    ('datacenter: "DC-{city}"', "JB-140300-DC-DB01: datacenter 'DC-140300' not found"),
])
def test_bad_placement_is_one_line_and_creates_nothing(sim, tmp_path: Path, setting: str, message: str) -> None:
    cfg = tmp_path / "vsphere.yaml"
    cfg.write_text(setting + "\n")
    r = vm_cli(sim, "provision", "--scope", "140300", "--config", str(cfg))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.stderr
    assert r.stdout == ""
    with session(sim) as si:
        assert not [n for n in read_vms(si) if n.startswith("JB-140300-")]


def test_bad_credentials_and_unreachable(sim) -> None:
    r = vm_cli(sim, "list", env={"JINBAO_VCENTER_PASSWORD": "wrong"})
    assert r.returncode == 2 and "bad credentials for user 'jinbao'" in r.stderr and r.stdout == ""
    r = vm_cli(sim, "provision", "--scope", "140100", env={"JINBAO_VCENTER_PORT": "1"})
    assert r.returncode == 2 and "vCenter 127.0.0.1:1: unreachable" in r.stderr
    r = vm_cli(None, "list", env={"JINBAO_VCENTER_HOST": "", "JINBAO_VCENTER_USER": ""})
    assert r.returncode == 2 and "set JINBAO_VCENTER_HOST, JINBAO_VCENTER_USER" in r.stderr


def test_failure_after_clone_leaves_no_half_built_vm(sim, tmp_path: Path) -> None:
    """A template with two network adapters: guest customisation (one adapter) fails after the clone."""
    with session(sim) as si:
        tpl = next(v for v in si.content.viewManager.CreateContainerView(
            si.content.rootFolder, [vim.VirtualMachine], True).view if v.name == "debian-12-jinbao")
        pool = next(c for c in si.content.viewManager.CreateContainerView(
            si.content.rootFolder, [vim.ClusterComputeResource], True).view if c.name == "140400-DC").resourcePool
        two = wait_task(tpl.CloneVM_Task(folder=tpl.parent, name="tpl-two-nics", spec=vim.vm.CloneSpec(
            location=vim.vm.RelocateSpec(pool=pool))), "clone template")
        nic = vim.vm.device.VirtualVmxnet3(backing=vim.vm.device.VirtualEthernetCard.NetworkBackingInfo(
            deviceName="VM Network"))
        wait_task(two.ReconfigVM_Task(vim.vm.ConfigSpec(deviceChange=[vim.vm.device.VirtualDeviceSpec(
            operation=vim.vm.device.VirtualDeviceSpec.Operation.add, device=nic)])), "add nic")
        two.MarkAsTemplate()
    cfg = tmp_path / "vsphere.yaml"
    cfg.write_text("template: tpl-two-nics\n")
    r = vm_cli(sim, "provision", "--scope", "140400", "--config", str(cfg), "--json", "--wait", "5")
    assert r.returncode == 1, r.stderr
    data = json.loads(r.stdout)
    assert data["summary"] == {"failed": 4}
    for v in data["vms"]:
        assert "guest customisation: NicSettingMismatch" in v["error"] and "half-built VM was removed" in v["error"]
    with session(sim) as si:
        assert not [n for n in read_vms(si) if n.startswith("JB-140400-")]
