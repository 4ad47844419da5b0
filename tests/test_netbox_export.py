"""Issue 10 item 4: the NetBox export imports into a default NetBox 4.4.

NetBox itself is not run here; these are its bulk-import rules for the six object types, as its import forms
(`ipam/forms/bulk_import.py`, `dcim/forms/bulk_import.py`, `tenancy/forms/bulk_import.py`) and models define
them in 4.4: the columns each form accepts, the required ones, choice values, references resolved by name
(to objects an earlier file creates), slugs, field lengths, and uniqueness (a VRF with enforce_unique and the
global table refuse a second identical prefix; names and slugs are unique). An import is all or nothing, so
one broken row is a failed import: every row is checked.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ipplan.netbox import FILES, netbox_files, read_site_ids
from tests.conftest import ROOT

SLUG_RE = re.compile(r"[-a-zA-Z0-9_]+")
BOOL = {"true", "false"}
# form fields per object type (NetBox 4.4), required ones, choice fields
RULES: dict[str, dict] = {
    "tenants": {"columns": {"name", "slug", "group", "description", "comments", "tags"},
                "required": {"name", "slug"}},
    "sites": {"columns": {"name", "slug", "status", "region", "group", "tenant", "facility", "time_zone",
                          "description", "physical_address", "shipping_address", "latitude", "longitude",
                          "comments", "tags", "asns"},
              "required": {"name", "slug", "status"},
              "choices": {"status": {"planned", "staging", "active", "decommissioning", "retired"}},
              "refs": {"tenant": "tenants"}},
    "vrfs": {"columns": {"name", "rd", "tenant", "enforce_unique", "description", "import_targets",
                         "export_targets", "comments", "tags"},
             "required": {"name"}, "bools": {"enforce_unique"}},
    "roles": {"columns": {"name", "slug", "weight", "description", "tags"}, "required": {"name", "slug"}},
    "prefixes": {"columns": {"prefix", "vrf", "tenant", "vlan_group", "vlan_site", "vlan", "status", "role",
                             "scope_type", "scope_id", "is_pool", "mark_utilized", "description", "comments",
                             "tags"},
                 "required": {"prefix", "status"},
                 "choices": {"status": {"container", "active", "reserved", "deprecated"},
                             "scope_type": {"", "dcim.region", "dcim.sitegroup", "dcim.site", "dcim.location"}},
                 "refs": {"vrf": "vrfs", "tenant": "tenants", "role": "roles"},
                 "bools": {"is_pool", "mark_utilized"}},
    "ip-addresses": {"columns": {"address", "vrf", "tenant", "status", "role", "device", "virtual_machine",
                                 "interface", "fhrp_group", "is_primary", "is_oob", "dns_name", "description",
                                 "comments", "tags"},
                     "required": {"address", "status"},
                     "choices": {"status": {"active", "reserved", "deprecated", "dhcp", "slaac"},
                                 "role": {"", "loopback", "secondary", "anycast", "vip", "vrrp", "hsrp", "glbp",
                                          "carp"}},
                     "refs": {"vrf": "vrfs", "tenant": "tenants"}},
}


def parse(files: dict[str, str]) -> dict[str, list[dict[str, str]]]:
    """Check every file against NetBox's rules, in import order; return the parsed rows per object type."""
    assert list(files) == list(FILES)
    seen: dict[str, list[dict[str, str]]] = {}
    for name in FILES:
        kind = name.split("-", 1)[1].removesuffix(".csv")
        rules = RULES[kind]
        reader = csv.DictReader(io.StringIO(files[name]))
        header = set(reader.fieldnames or ())
        assert header <= rules["columns"], (name, header - rules["columns"])
        assert rules["required"] <= header, (name, rules["required"] - header)
        rows = list(reader)
        assert rows, name
        known = {target: {r["name"] for r in seen[target]} for target in rules.get("refs", {}).values()}
        for i, row in enumerate(rows, start=2):
            where = f"{name} line {i}"
            for col in rules["required"]:
                assert row[col], (where, col)
            for col, allowed in rules.get("choices", {}).items():
                if col in row:
                    assert row[col] in allowed, (where, col, row[col])
            for col in rules.get("bools", ()):
                assert row[col] in BOOL, (where, col, row[col])
            for col, target in rules.get("refs", {}).items():  # resolved by name among earlier imports
                if row.get(col):
                    assert row[col] in known[target] or _fail(where, col, row[col])
            if "slug" in row:
                assert SLUG_RE.fullmatch(row["slug"]) and len(row["slug"]) <= 100, (where, row["slug"])
            if "name" in row:
                assert 0 < len(row["name"]) <= 100, where
            assert len(row.get("description", "")) <= 200, where
        for col in ("name", "slug"):
            if col in header:
                values = [r[col] for r in rows]
                assert len(values) == len(set(values)), (name, col, "not unique")
        seen[kind] = rows
    return seen


def _fail(where: str, col: str, value: str) -> bool:
    raise AssertionError(f"{where}: {col} {value!r} is not created by an earlier file (NetBox: object not found)")


def check_prefixes_and_addresses(seen: dict[str, list[dict[str, str]]]) -> None:
    n_sites = len(seen["sites"])
    enforce = {r["name"]: r["enforce_unique"] == "true" for r in seen["vrfs"]}
    keys: set[tuple[str, str]] = set()
    for i, row in enumerate(seen["prefixes"], start=2):
        net = ipaddress.ip_network(row["prefix"], strict=True)  # NetBox stores the network, not a host
        key = (row["vrf"], str(net))
        if enforce.get(row["vrf"], True):  # a VRF with enforce_unique, and the global table since v3.6.6
            assert key not in keys, f"5-prefixes.csv line {i}: duplicate prefix {net} in VRF {row['vrf']}"
        keys.add(key)
        if row["scope_type"]:
            assert 1 <= int(row["scope_id"]) <= n_sites, (i, row["scope_id"])
        else:
            assert not row["scope_id"]
    hosts: set[tuple[str, str]] = set()
    for i, row in enumerate(seen["ip-addresses"], start=2):
        itf = ipaddress.ip_interface(row["address"])
        key = (row["vrf"], str(itf.ip))
        assert key not in hosts, f"6-ip-addresses.csv line {i}: duplicate address {itf.ip}"
        hosts.add(key)


@pytest.fixture(scope="module")
def national() -> dict[str, list[dict[str, str]]]:
    from inventory.load import load
    from ipplan.registry import load_registry

    inv = load(ROOT / "inventory").inventory
    reg = load_registry(ROOT / "inventory" / "ip-registry.tsv")
    return parse(netbox_files(reg, inv))


def test_national_export_passes_netbox_import_rules(national: dict[str, list[dict[str, str]]]) -> None:
    check_prefixes_and_addresses(national)
    prefixes = {(r["vrf"], r["prefix"]): r for r in national["prefixes"]}
    assert prefixes[("business", "10.0.0.0/8")]["status"] == "container"
    lan = prefixes[("business", "10.26.2.0/25")]  # Taiyuan's first agency: its aggregate is its only LAN
    assert lan["role"] == "access LAN" and lan["status"] == "active" and "access site aggregate" in lan["description"]
    site = national["sites"][int(lan["scope_id"]) - 1]
    assert site["name"] == "140100-AS001" and lan["tenant"] == "140000 山西省" == site["tenant"]
    assert prefixes[("management", "100.64.0.0/11")]["vrf"] == "management"
    roles = {r["name"] for r in national["roles"]}
    assert "access LAN" in roles and "national-pool" not in roles
    loopbacks = [r for r in national["ip-addresses"] if r["role"] == "loopback"]
    assert loopbacks and all(r["address"].endswith(("/32", "/128")) for r in loopbacks)
    hosts = [r for r in national["prefixes"] if ipaddress.ip_network(r["prefix"]).num_addresses == 1]
    assert not hosts, hosts[:3]  # host allocations are IP addresses in NetBox
    mgmt = next(r for r in national["ip-addresses"] if r["description"].endswith("JB-140100-DC-WR01")
                and r["vrf"] == "management" and ":" not in r["address"])
    assert not mgmt["address"].endswith("/32")  # a host in its LAN carries the LAN's length


def test_reservations_are_role_reserved_with_the_note_in_the_description(inv_dir: Path, tmp_path: Path) -> None:
    import yaml

    from inventory.load import load
    from ipplan.service import allocate_and_save, open_plan

    plan = yaml.safe_load((inv_dir / "ipplan.yaml").read_text(encoding="utf-8"))
    plan["reservations"] = [{"prefix": "10.255.0.0/24", "pool": "business", "note": "future: ferry, zone B"},
                            {"prefix": "172.31.255.0/24", "pool": "office", "note": "lab"}]
    (inv_dir / "ipplan.yaml").write_text(yaml.safe_dump(plan, allow_unicode=True), encoding="utf-8")
    # a site removed: its prefixes stay in the record (deprecated), its site is retired
    doc = yaml.safe_load((inv_dir / "jinbao.yaml").read_text(encoding="utf-8"))
    doc["access_sites"]["overrides"]["140100"] = {"agency": 2, "community": 2, "township": 2, "partner": 1}
    (inv_dir / "jinbao.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    reg, *_ = allocate_and_save(open_plan(inv_dir))
    seen = parse(netbox_files(reg, load(inv_dir).inventory))
    check_prefixes_and_addresses(seen)
    rows = [r for r in seen["prefixes"] if r["role"] == "reserved"]
    assert {r["prefix"] for r in rows} == {"10.255.0.0/24", "172.31.255.0/24"}
    assert any("future: ferry, zone B" in r["description"] for r in rows)
    assert not any("ferry" in r["name"] for r in seen["roles"])
    retired = next(r for r in seen["sites"] if r["name"] == "140100-AS003")
    assert retired["status"] == "retired"
    gone = [r for r in seen["prefixes"] if r["description"].startswith("140100-AS003 ")]
    assert gone and {r["status"] for r in gone} == {"deprecated"}


def test_site_ids_from_the_netbox_at_hand() -> None:
    ids = read_site_ids('"ID","Name","Status"\n"17","100000-DC","Active"\n', "sites.csv")
    assert ids == {"100000-DC": 17}


def test_cli_writes_the_six_files_in_order_and_documents_the_procedure(tmp_path: Path) -> None:
    out = tmp_path / "netbox"
    r = subprocess.run([sys.executable, "-m", "jinbao.cli", "ipplan", "export", "--format", "netbox-csv", "--out",
                        str(out)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == list(FILES)
    r = subprocess.run([sys.executable, "-m", "jinbao.cli", "ipplan", "export", "--format", "netbox-csv"],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 2 and "--out DIR" in r.stderr
    doc = (ROOT / "docs" / "ipplan.md").read_text(encoding="utf-8")
    assert all(name in doc for name in FILES) and "--netbox-sites" in doc
