"""Bad input: a one-line error naming file and entry, a non-zero exit, and the registry untouched."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.conftest import jinbao


def _yaml(path: Path, change: Callable[[dict], None]) -> None:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _extra_region(doc: dict) -> None:
    doc["regions"]["extra"] = [{"code": "140100", "name_zh": "重复", "name_en": "Dup", "level": "city",
                                "province": "140000"}]


def _dup_site(doc: dict) -> None:
    site = {"id": "140100-AS150", "parent": "140100-DC", "name_zh": "甲", "name_en": "A"}
    doc["sites"] = [site, dict(site)]


def _unknown_parent(doc: dict) -> None:
    doc["sites"] = [{"id": "140100-AS150", "parent": "149900-DC", "name_zh": "甲", "name_en": "A"}]


def _dr_same_city(doc: dict) -> None:
    doc["provinces"]["140000"]["dr_city"] = "140100"


def _bad_hostname(doc: dict) -> None:
    doc["devices"] = [{"hostname": "JB-140100-DC-XX01"}]


def _unknown_platform(doc: dict) -> None:
    doc["platforms"]["sites"] = {"140100-DC": "junos"}


CASES = {
    "duplicate region code": ("jinbao.yaml", _extra_region, ["regions.extra.0", "duplicate region code 140100"]),
    "duplicate site id": ("jinbao.yaml", _dup_site, ["sites.1", "duplicate site id 140100-AS150"]),
    "unknown parent": ("jinbao.yaml", _unknown_parent, ["sites.0", "unknown parent 149900-DC"]),
    "DR in the primary's city": ("jinbao.yaml", _dr_same_city, ["provinces.140000.dr_city", "same city"]),
    "hostname breaks the rule": ("jinbao.yaml", _bad_hostname, ["devices.0", "JB-140100-DC-XX01"]),
    "unknown platform": ("jinbao.yaml", _unknown_platform, ["unknown platform 'junos'"]),
    # 150 more agencies do not fit Taiyuan's city aggregate (its headroom is for doubling, not 20x)
    "exhausted pool": ("jinbao.yaml",
                       lambda d: d["access_sites"]["overrides"].update({"140100": {"agency": 150}}),
                       ["ipplan.yaml: 140100-AS026: no free /25", "pool exhausted", "140100-DC"]),
    "reservation overlaps allocation": (
        "ipplan.yaml",
        lambda d: d.update(reservations=[{"prefix": "100.96.0.0/24", "pool": "loopback", "note": "x"}]),
        ["reservations.0", "overlaps allocation"]),
    "changed pool": ("ipplan.yaml", lambda d: d["pools"]["business"].update(ipv4="10.0.0.0/9"),
                     ["pools.business.ipv4", "manual renumbering"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_rejected_cleanly(inv_dir: Path, case: str) -> None:
    file, change, needles = CASES[case]
    # a pool too small is the IP plan's rules' fault, not the inventory's
    error_file = "ipplan.yaml" if case == "exhausted pool" else file
    _yaml(inv_dir / file, change)
    registry = inv_dir / "ip-registry.tsv"
    before = registry.read_bytes()
    r = jinbao("--inventory", str(inv_dir), "ipplan", "allocate")
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(f"error: {inv_dir / error_file}: "), lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert registry.read_bytes() == before
    assert not [p for p in inv_dir.iterdir() if p.name.endswith(".tmp")]


def test_malformed_yaml(inv_dir: Path) -> None:
    path = inv_dir / "jinbao.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "\nbroken: [unclosed\n", encoding="utf-8")
    r = jinbao("--inventory", str(inv_dir), "inventory", "validate")
    assert r.returncode != 0
    line = r.stderr.strip()
    assert "\n" not in line and "malformed YAML" in line and str(path) in line and "line " in line


def test_duplicate_yaml_key(inv_dir: Path) -> None:
    path = inv_dir / "jinbao.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "\nsites: []\n", encoding="utf-8")
    r = jinbao("--inventory", str(inv_dir), "inventory", "validate")
    assert r.returncode != 0 and "duplicate key 'sites'" in r.stderr


def test_duplicate_region_in_table(inv_dir: Path) -> None:
    path = inv_dir / "regions.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([*lines, lines[5]]) + "\n", encoding="utf-8")
    r = jinbao("--inventory", str(inv_dir), "inventory", "validate")
    assert r.returncode != 0
    assert f"{path}: line {len(lines) + 1}: duplicate region code" in r.stderr


def test_schema_error_names_entry(inv_dir: Path) -> None:
    _yaml(inv_dir / "jinbao.yaml", lambda d: d["device_roles"]["city"].update(WR="two"))
    r = jinbao("--inventory", str(inv_dir), "inventory", "validate")
    assert r.returncode != 0 and "device_roles.city.WR" in r.stderr


def test_corrupt_registry(inv_dir: Path) -> None:
    path = inv_dir / "ip-registry.tsv"
    with path.open("a", encoding="utf-8") as fh:
        fh.write("10.0.0.1/8\tbusiness\tx\ty\tactive\tk\t\n")
    before = path.read_bytes()
    r = jinbao("--inventory", str(inv_dir), "ipplan", "allocate")
    assert r.returncode != 0 and "bad prefix '10.0.0.1/8'" in r.stderr and str(path) in r.stderr
    assert path.read_bytes() == before


@pytest.mark.parametrize(("file", "change", "entry", "message"), [
    ("ipplan.yaml", lambda d: d["pools"].update(extra=d["pools"].pop("dmz")), "pools",
     "pools must be exactly business, office, management, loopback, p2p, dmz, service (missing ['dmz'], "
     "unknown ['extra'])"),
    ("routing.yaml", lambda d: d["bgp"]["communities"].pop("dr"), "bgp.communities",
     "communities must name exactly the tiers ministry, province, municipality, city, dr, access (missing ['dr'], "
     "unknown none)"),
])
def test_exactly_these_keys(inv_dir: Path, file: str, change: Callable[[dict], None], entry: str,
                            message: str) -> None:
    """The plan's pools and the routing policy's communities: one rule (core.yamlio.require_exactly), one line
    naming file, entry and what is missing or unknown."""
    from core.errors import JinbaoError
    from ipplan.config import load_plan
    from network.routing_config import load_routing

    _yaml(inv_dir / file, change)
    with pytest.raises(JinbaoError) as e:
        (load_plan if file == "ipplan.yaml" else load_routing)(inv_dir)
    assert str(e.value) == f"{inv_dir / file}: {entry}: Value error, {message}"
