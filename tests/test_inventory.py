"""The embedded national inventory: sites, devices, links and the naming rule."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from inventory.load import load
from inventory.naming import HOSTNAME_RE, SITE_ID_RE, parse_hostname
from tests.conftest import INVENTORY, jinbao


@pytest.fixture(scope="module")
def inv():
    return load(INVENTORY).inventory


def test_national_sites(inv) -> None:
    tiers = Counter(s.tier for s in inv.sites if s.kind == "dc")
    assert tiers["ministry"] == 1
    assert tiers["province"] == 27  # 31 provincial-level divisions minus 4 municipalities
    assert tiers["municipality"] == 4
    # 333 prefecture-level divisions, minus Heilongjiang's 13 (centralised), plus Jiyuan
    assert tiers["city"] == 333 - 13 + 1
    assert inv.site("100000-DC").parent is None
    assert inv.site("100000-DR").parent == "100000-DC"
    for m in ("110000", "120000", "310000", "500000"):
        assert inv.site(f"{m}-DC").parent == "100000-DC"
        assert inv.site(f"{m}-DC").tier == "municipality"


def test_local_variants(inv) -> None:
    henan = [s for s in inv.sites if s.tier == "city" and s.province == "410000"]
    assert len(henan) == 18 and "419001-DC" in {s.id for s in henan}
    assert not [s for s in inv.sites if s.tier == "city" and s.province == "230000"]
    hlj_access = [s for s in inv.sites if s.kind == "access" and s.province == "230000"]
    assert hlj_access and {s.parent for s in hlj_access} == {"230000-DC"}
    assert {s.code for s in hlj_access} >= {"230100", "232700"}  # cities served from the province
    dr = inv.site("140000-DR")
    assert (dr.parent, dr.city, dr.kind) == ("140000-DC", "140200", "dr")
    assert inv.site("410000-DR").city != inv.site("410000-DC").city


def test_region_names(inv) -> None:
    assert inv.site("610000-DC").name_en.startswith("Shaanxi")
    assert inv.site("140000-DC").name_en.startswith("Shanxi")
    assert inv.site("150100-DC").name_en.startswith("Hohhot")
    assert inv.site("140100-DC").name_zh == "太原市数据中心"


def test_hostnames_follow_rule(inv) -> None:
    sites = {s.id for s in inv.sites}
    hosts = [d.hostname for d in inv.devices]
    assert len(hosts) == len(set(hosts))
    for d in inv.devices:
        assert HOSTNAME_RE.match(d.hostname), d.hostname
        assert parse_hostname(d.hostname) == (d.site, d.role, d.index)
        assert d.site in sites
    for s in inv.sites:
        assert SITE_ID_RE.match(s.id), s.id
    assert "JB-140100-DC-WR01" in hosts and "JB-140000-DR-DB01" in hosts


def test_device_roles_and_platforms(inv) -> None:
    by_site = inv.devices_of()
    wr = lambda sid: [d for d in by_site[sid] if d.role == "WR"]  # noqa: E731
    assert len(wr("100000-DC")) == 2 and len(wr("140000-DC")) == 2 and len(wr("140100-DC")) == 1
    for s in inv.sites:
        roles = {d.role for d in by_site[s.id]}
        assert roles == ({"AR"} if s.kind == "access" else {"WR", "FW", "DB", "EX", "DS", "NM"}), s.id
    assert {d.platform for d in inv.devices if d.role in ("WR", "AR")} == {"huawei_vrp"}


def test_links(inv) -> None:
    kinds: dict[str, Counter] = {}
    for link in inv.links:
        kinds.setdefault(link.b_site, Counter())[link.kind] += 1
    for s in inv.sites:
        if s.parent is None:
            continue
        # a DR centre has a line of its own too (issue 9 item 1), and so has every provincial-level data centre,
        # to the national DR centre (Shanghai's is the national DR centre's own line, filed under it)
        national_line = s.kind == "dc" and s.parent == "100000-DC" and s.id != "310000-DC"
        expect = ({"access": 1} if s.kind == "access" else {"primary": 1, "backup": 1, "dr": 1}
                  if s.kind == "dr" or national_line else {"primary": 1, "backup": 1})
        got = {k: v for k, v in kinds.get(s.id, Counter()).items() if k != "internal"}
        assert got == expect, s.id
    prov = [link for link in inv.links if link.b_site == "140000-DC" and link.a_site != link.b_site]
    assert {(link.a, link.b, link.kind) for link in prov} == {
        ("JB-100000-DC-WR01", "JB-140000-DC-WR01", "primary"),
        ("JB-100000-DC-WR02", "JB-140000-DC-WR02", "backup"),
        ("JB-100000-DR-WR01", "JB-140000-DC-WR02", "dr"),  # its last-resort line to the national DR centre
    }
    assert {(lk.a, lk.b) for lk in inv.links if lk.kind == "internal" and lk.a_site == "140000-DC"} == {
        ("JB-140000-DC-WR01", "JB-140000-DC-WR02")}
    # star topology: links stay inside a province, except the ministry's own links to its children, the
    # DR centres' own lines, which never end in the data centre they back up, and the provinces' lines to the
    # national DR centre (a second, last-resort hub)
    for link in inv.links:
        a, b = inv.site(link.a_site), inv.site(link.b_site)
        if link.kind == "dr" and a.kind == "dr":  # a province's line to the national DR centre
            assert a.parent == "100000-DC" and b.kind == "dc" and b.parent == "100000-DC", link
            assert link.b.endswith("-DC-WR02"), link
        elif link.kind == "dr":
            assert b.kind == "dr" and a.kind == "dc" and a.id != b.parent, link
        elif a.tier == "ministry":
            assert b.tier in ("ministry", "province", "municipality"), link
        else:
            assert a.province == b.province, link


def test_show_json_contract(tmp_path: Path) -> None:
    r = jinbao("inventory", "show", "--json", "--scope", "1401")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    site = next(s for s in data["sites"] if s["id"] == "140100-DC")
    assert {"id", "code", "tier", "kind", "parent", "name_zh", "name_en"} <= site.keys()
    assert (site["tier"], site["kind"], site["parent"]) == ("city", "dc", "140000-DC")
    dev = next(d for d in data["devices"] if d["hostname"] == "JB-140100-DC-WR01")
    assert {"hostname", "site", "role", "platform", "mgmt_ip"} <= dev.keys()
    assert dev["mgmt_ip"] and dev["mgmt_ip"].startswith("100.")
    link = next(lk for lk in data["links"] if lk["b"] == "JB-140100-DC-WR01" and lk["kind"] == "primary")
    assert link["a"] == "JB-140000-DC-WR01"


def test_validate_cli() -> None:
    r = jinbao("inventory", "validate", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["sites"] > 3000
