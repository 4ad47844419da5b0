"""The IP plan: hierarchy, stability, decommissioning, reservations, checks and exports."""

from __future__ import annotations

import csv
import io
import ipaddress
import json
from pathlib import Path

import pytest
import yaml

from ipplan.check import check_registry
from ipplan.registry import load_registry
from ipplan.service import allocate_and_save, check, open_plan
from tests.conftest import INVENTORY, jinbao


def _net(reg, key):
    return ipaddress.ip_network(reg.get(key).prefix)


def _edit(path: Path, change) -> None:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")


@pytest.fixture(scope="module")
def committed():
    """The committed registry, checked against the committed inventory."""
    return open_plan(INVENTORY)


def test_committed_registry_is_complete_and_consistent(committed) -> None:
    assert check(committed) == []


def test_hierarchy_is_summarisable(committed) -> None:
    reg = committed.registry
    for af in (4, 6):
        nation = _net(reg, f"business/{af}/100000-DC")
        prov = _net(reg, f"business/{af}/140000-DC")
        city = _net(reg, f"business/{af}/140100-DC")
        access = _net(reg, f"business/{af}/140100-AS001")
        prod = _net(reg, f"business/{af}/140100-DC/production")
        assert prov.subnet_of(nation) and city.subnet_of(prov) and access.subnet_of(city) and prod.subnet_of(city)
        assert _net(reg, f"business/{af}/140000-DR").subnet_of(prov)
        assert _net(reg, f"loopback/{af}/140100-DC/JB-140100-DC-WR01").subnet_of(_net(reg, f"loopback/{af}/140000-DC"))
        assert _net(reg, f"office/{af}/140100-DC/decision").subnet_of(_net(reg, f"office/{af}/140000-DC"))
    # every record except the national pools sits inside the record it names as parent
    for rec in reg.records.values():
        if rec.parent:
            parent = reg.get(rec.parent)
            assert parent.start <= rec.start and rec.end <= parent.end, rec.key
    # ipv6 aggregates are nibble aligned
    assert _net(reg, "business/6/140000-DC").prefixlen % 4 == 0
    assert _net(reg, "business/4/140100-DC/production").prefixlen == 24


def test_rerun_changes_not_one_byte(inv_dir: Path) -> None:
    path = inv_dir / "ip-registry.tsv"
    before = path.read_bytes()
    _, report, *_ = allocate_and_save(open_plan(inv_dir))
    assert not report.changed and path.read_bytes() == before


def test_empty_registry_allocates_the_committed_plan(empty_inv_dir: Path) -> None:
    """Allocation from scratch is deterministic: it reproduces the committed record exactly."""
    allocate_and_save(open_plan(empty_inv_dir))
    assert (empty_inv_dir / "ip-registry.tsv").read_bytes() == (INVENTORY / "ip-registry.tsv").read_bytes()


def test_adding_a_city_site_and_device_only_adds(inv_dir: Path) -> None:
    before = load_registry(inv_dir / "ip-registry.tsv")
    old_lines = set((inv_dir / "ip-registry.tsv").read_text(encoding="utf-8").splitlines())

    def change(doc: dict) -> None:
        doc["regions"]["extra"] = [{"code": "141200", "name_zh": "新城市", "name_en": "Xincheng",
                                    "level": "city", "province": "140000"}]
        doc["sites"] = [{"id": "140100-AS120", "parent": "140100-DC", "name_zh": "太原市新经办机构",
                         "name_en": "Taiyuan new agency"}]
        doc["devices"] = [{"hostname": "JB-140100-DC-DB02"}]
    _edit(inv_dir / "jinbao.yaml", change)

    old_ports = set((inv_dir / "port-registry.tsv").read_text(encoding="utf-8").splitlines())
    state = open_plan(inv_dir)
    after, report, ports, port_report = allocate_and_save(state)
    assert report.added and not report.decommissioned and not report.reactivated
    # no cable moves either: every recorded port stays, the new links get new ports
    assert port_report.added and not port_report.decommissioned
    assert old_ports <= set((inv_dir / "port-registry.tsv").read_text(encoding="utf-8").splitlines())
    for key, rec in before.records.items():
        new = after.get(key)
        assert (new.prefix, new.status, new.parent) == (rec.prefix, rec.status, rec.parent), key
    new_lines = set((inv_dir / "ip-registry.tsv").read_text(encoding="utf-8").splitlines())
    assert old_lines <= new_lines  # only additions, line for line
    assert after.get("business/4/141200-DC") and after.get("business/4/140100-AS120")
    assert after.get("management/4/140100-DC/oob/JB-140100-DC-DB02")
    assert _net(after, "business/4/141200-DC").subnet_of(_net(after, "business/4/140000-DC"))
    assert check(state, after, ports) == []


def test_removed_site_is_decommissioned_not_reused(inv_dir: Path) -> None:
    def drop(doc: dict) -> None:
        doc["provinces"]["140000"]["excluded_city_centres"] = ["141100"]
    _edit(inv_dir / "jinbao.yaml", drop)
    reg, report, *_ = allocate_and_save(open_plan(inv_dir))
    gone = reg.get("business/4/141100-DC")
    assert gone.status == "decommissioned" and "business/4/141100-DC" in report.decommissioned
    assert not report.added

    # a new city now must not land on the decommissioned space
    def add(doc: dict) -> None:
        doc["regions"]["extra"] = [{"code": "141200", "name_zh": "新城市", "name_en": "Xincheng",
                                    "level": "city", "province": "140000"}]
    _edit(inv_dir / "jinbao.yaml", add)
    reg2, _, *_ = allocate_and_save(open_plan(inv_dir))
    assert not _net(reg2, "business/4/141200-DC").overlaps(_net(reg2, "business/4/141100-DC"))

    # bringing the city back re-activates the very same prefixes
    def restore(doc: dict) -> None:
        doc["provinces"]["140000"]["excluded_city_centres"] = []
    _edit(inv_dir / "jinbao.yaml", restore)
    reg3, report3, *_ = allocate_and_save(open_plan(inv_dir))
    assert reg3.get("business/4/141100-DC").prefix == gone.prefix
    assert reg3.get("business/4/141100-DC").status == "active"
    assert "business/4/141100-DC" in report3.reactivated


def test_reservation_is_avoided(empty_inv_dir: Path) -> None:
    # without a reservation the first province block starts at 10.0.0.0: reserve it
    def reserve(doc: dict) -> None:
        doc["reservations"] = [{"prefix": "10.0.0.0/16", "pool": "business", "note": "legacy"}]
    _edit(empty_inv_dir / "ipplan.yaml", reserve)
    reg, _, *_ = allocate_and_save(open_plan(empty_inv_dir))
    hole = ipaddress.ip_network("10.0.0.0/16")
    assert reg.get("reserved/business/10.0.0.0/16").status == "reserved"
    for rec in reg.records.values():
        if rec.pool == "business" and rec.af == 4 and rec.parent and not rec.purpose.endswith("pool"):
            assert not ipaddress.ip_network(rec.prefix).overlaps(hole), rec.key
    assert check(open_plan(empty_inv_dir)) == []


def test_check_finds_an_overlap(committed) -> None:
    reg = load_registry(INVENTORY / "ip-registry.tsv")
    a = reg.get("business/4/140100-DC/production")
    b = reg.get("business/4/140100-DC/exchange")
    b.start = a.start  # two zones on one subnet
    findings = check_registry(reg, committed.plan)
    assert any(f.rule == "overlap" and "140100-DC" in f.subject for f in findings)
    c = reg.get("business/4/140200-DC/production")
    c.start = reg.get("business/4/410000-DC").start  # a Datong zone inside Henan's aggregate
    assert any(f.subject == c.key for f in check_registry(reg, committed.plan))


def test_check_cli_reports_missing_allocations(empty_inv_dir: Path) -> None:
    r = jinbao("--inventory", str(empty_inv_dir), "ipplan", "check", "--json")
    assert r.returncode == 1
    data = json.loads(r.stdout)
    assert not data["ok"] and {f["rule"] for f in data["findings"]} == {"unallocated"}


def test_exports(tmp_path: Path) -> None:
    r = jinbao("ipplan", "export", "--format", "json", "--out", str(tmp_path / "a.json"))
    assert r.returncode == 0, r.stderr
    rows = json.loads((tmp_path / "a.json").read_text(encoding="utf-8"))["allocations"]
    row = next(x for x in rows if x["key"] == "business/4/140100-DC/production")
    assert {"prefix", "pool", "site", "purpose", "status"} <= row.keys()
    assert (row["pool"], row["site"], row["purpose"], row["status"]) == (
        "business", "140100-DC", "production zone", "active")
    r = jinbao("ipplan", "export", "--format", "netbox-csv", "--out", str(tmp_path / "netbox"))
    assert r.returncode == 0, r.stderr  # six files in import order (tests/test_netbox_export.py)
    reader = list(csv.DictReader(io.StringIO((tmp_path / "netbox" / "5-prefixes.csv").read_text(encoding="utf-8"))))
    assert reader[0].keys() >= {"prefix", "status", "vrf", "role", "description"}
    assert {x["status"] for x in reader} <= {"container", "active", "reserved", "deprecated"}
    assert next(x for x in reader if x["prefix"] == "10.0.0.0/8")["status"] == "container"
    r = jinbao("ipplan", "export", "--format", "markdown")
    assert r.returncode == 0 and "| 10.0.0.0/8 | business |" in r.stdout
    r = jinbao("ipplan", "export", "--format", "xml", "--out", str(tmp_path / "x"))
    assert r.returncode != 0 and not (tmp_path / "x").exists()
