"""The placement plan (pure): which VMs the inventory wants, where, how big; wanted versus existing."""

from __future__ import annotations

import pytest

from core.errors import JinbaoError
from plugins.hostvars import load_view
from tests.conftest import ROOT
from vsphere.config import Placement, VsphereConfig
from vsphere.plan import VmState, compare, differences, wanted_vms


@pytest.fixture(scope="module")
def taiyuan():  # type: ignore[no-untyped-def]
    return load_view(ROOT / "inventory", scope="140100").hosts


def test_defaults_place_each_server_by_site_and_zone(taiyuan) -> None:  # type: ignore[no-untyped-def]
    vms = {v.name: v for v in wanted_vms(taiyuan, VsphereConfig())}
    assert set(vms) == {"JB-140100-DC-DB01", "JB-140100-DC-EX01", "JB-140100-DC-DS01", "JB-140100-DC-NM01"}
    db = vms["JB-140100-DC-DB01"]
    assert (db.datacenter, db.cluster, db.folder, db.port_group) == (
        "JB-140000", "140100-DC", "jinbao/140100-DC", "140100-DC-production")
    assert (db.ip, db.gateway, db.netmask) == ("10.26.0.2/24", "10.26.0.1", "255.255.255.0")
    assert vms["JB-140100-DC-NM01"].port_group == "140100-DC-management"


def test_overrides_per_zone_and_site(taiyuan) -> None:  # type: ignore[no-untyped-def]
    cfg = VsphereConfig(port_groups={"decision": "OFFICE-{city}"},
                        sites={"140100-DC": Placement(cluster="TY-CL1", template="tpl-{role}")})
    vms = {v.name: v for v in wanted_vms(taiyuan, cfg)}
    assert vms["JB-140100-DC-DS01"].port_group == "OFFICE-140100"
    assert vms["JB-140100-DC-EX01"].port_group == "140100-DC-exchange"
    assert vms["JB-140100-DC-DB01"].cluster == "TY-CL1" and vms["JB-140100-DC-DB01"].template == "tpl-DB"


def test_bad_placeholder_and_missing_size(taiyuan) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(JinbaoError, match=r"folder 'x/\{rack\}': unknown placeholder 'rack'"):
        wanted_vms(taiyuan, VsphereConfig(folder="x/{rack}"))
    with pytest.raises(JinbaoError, match=r"vsphere\.yaml: sizes: no size for role EX"):
        wanted_vms(taiyuan, VsphereConfig(sizes={"DB": {"cpu": 1, "memory_mb": 1024, "disk_gb": 10}}))


def test_differences_and_compare(taiyuan) -> None:  # type: ignore[no-untyped-def]
    want = {v.name: v for v in wanted_vms(taiyuan, VsphereConfig())}
    db = want["JB-140100-DC-DB01"]
    same = VmState(db.name, db.datacenter, db.folder, db.cluster, [db.port_group], db.cpu, db.memory_mb, db.disk_gb,
                   "poweredOn", db.address, managed=True)
    assert differences(db, same) == []
    off = VmState(**{**same.__dict__, "power": "poweredOff", "memory_mb": 4096, "port_groups": []})
    assert differences(db, off) == ["memory 4096 MB (want 32768)", "port group none (want 140100-DC-production)",
                                    "power poweredOff (want poweredOn)"]
    stray = VmState(**{**same.__dict__, "name": "JB-140100-DC-DB07"})
    mine_elsewhere = VmState(**{**same.__dict__, "name": "OLD-1", "folder": "jinbao/140200-DC"})
    foreign = VmState(**{**same.__dict__, "name": "someone-elses", "managed": False})
    c = compare(list(want.values()), {"JB-140100-DC-DB01": off, "JB-140100-DC-DB07": stray, "OLD-1": mine_elsewhere,
                                      "someone-elses": foreign}, {"jinbao/140100-DC"})
    assert c.missing == ["JB-140100-DC-EX01", "JB-140100-DC-DS01", "JB-140100-DC-NM01"]
    assert list(c.differing) == ["JB-140100-DC-DB01"] and c.extra == ["JB-140100-DC-DB07"]
    assert compare([], {"OLD-1": mine_elsewhere, "someone-elses": foreign}).extra == ["OLD-1"]


@pytest.mark.parametrize(("host", "allowed"), [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                               ("vcenter.example.gov.cn", False), ("10.1.2.3", False)])
def test_plain_http_only_to_the_local_simulator(host: str, allowed: bool) -> None:
    from vsphere.client import Endpoint

    env = {"JINBAO_VCENTER_HOST": host, "JINBAO_VCENTER_USER": "u", "JINBAO_VCENTER_PASSWORD": "p",
           "JINBAO_VCENTER_PROTOCOL": "http"}
    if allowed:
        assert Endpoint.from_env(env).protocol == "http"
    else:
        with pytest.raises(JinbaoError, match="only https is allowed beyond loopback"):
            Endpoint.from_env(env)
    assert Endpoint.from_env({**env, "JINBAO_VCENTER_PROTOCOL": "https"}).protocol == "https"
