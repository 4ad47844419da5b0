"""Issue 10: the registration record can be trusted. Each test reproduces one finding of the issue as a new
user met it (on a copy of the inventory) and asserts the fixed behaviour."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from core.errors import JinbaoError
from core.records import RecordFormat, read_rows, render_rows
from tests.conftest import ROOT

RECORDS = ("ip-registry.tsv", "port-registry.tsv")


def run(inv: Path | None, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    pre = ("--inventory", str(inv)) if inv is not None else ()
    return subprocess.run([sys.executable, "-m", "jinbao.cli", *pre, *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=300, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def one_line_error(r: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Exit 2, one line on stderr starting with `error:`, no traceback, every needle in it."""
    err = r.stderr.strip()
    assert r.returncode == 2, (r.returncode, r.stdout[-500:], r.stderr[-2000:])
    assert "Traceback" not in r.stderr and "\n" not in err and err.startswith("error: "), r.stderr[-2000:]
    for n in needles:
        assert n in err, (n, err)
    return err


def edit(path: Path, change) -> None:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")


def digests(inv: Path) -> dict[str, str]:
    return {n: hashlib.sha256((inv / n).read_bytes()).hexdigest() for n in RECORDS if (inv / n).exists()}


# -- 1, 2: control characters and trailing newlines never reach a record ---------------------------------
@pytest.mark.parametrize("note", ["line one\nline two", "a\ttab", "trailing newline\n", "bell\a", "esc\x1b[31m"])
def test_reservation_note_with_control_characters_is_refused(inv_dir: Path, note: str) -> None:
    before = digests(inv_dir)
    edit(inv_dir / "ipplan.yaml", lambda d: d.update(
        reservations=[{"prefix": "10.255.0.0/24", "pool": "business", "note": note}]))
    one_line_error(run(inv_dir, "ipplan", "allocate"), "ipplan.yaml", "reservations.0.note", "control character")
    assert digests(inv_dir) == before  # nothing written


@pytest.mark.parametrize(("change", "entry"), [
    (lambda d: d.update(devices=[{"hostname": "JB-140100-DC-DB02\n", "platform": "linux"}]), "devices.0"),
    (lambda d: d.update(sites=[{"id": "140100-AS120\n", "parent": "140100-DC", "name_zh": "x", "name_en": "x"}]),
     "sites.0"),
    (lambda d: d.update(sites=[{"id": "140100-AS120", "parent": "140100-DC", "name_zh": "x",
                                "name_en": "Agency\n120"}]), "sites.0.name_en"),
    (lambda d: d["network"]["ministry"].update(name_en="Ministry\x1b]0;pwned\x07"), "network.ministry.name_en"),
    (lambda d: d["access_sites"]["kinds"]["agency"].update(name_zh="经办\r机构"), "access_sites.kinds.agency"),
])
def test_trailing_newline_and_control_characters_in_the_inventory(inv_dir: Path, change, entry: str) -> None:
    before = digests(inv_dir)
    edit(inv_dir / "jinbao.yaml", change)
    one_line_error(run(inv_dir, "ipplan", "allocate"), "jinbao.yaml", entry)
    assert digests(inv_dir) == before


def test_hostname_and_site_rules_are_full_matches() -> None:
    from inventory.naming import HOSTNAME_RE, REGION_CODE_RE, SITE_ID_RE, parse_hostname

    for rx, good in ((HOSTNAME_RE, "JB-140100-DC-DB02"), (SITE_ID_RE, "140100-AS120"), (REGION_CODE_RE, "140100")):
        assert rx.fullmatch(good)
        assert not rx.fullmatch(good + "\n")
    with pytest.raises(ValueError):
        parse_hostname("JB-140100-DC-DB02\n")


def test_a_record_field_with_a_control_character_is_refused_on_write_and_read(tmp_path: Path) -> None:
    fmt = RecordFormat("x.tsv", "# test\n", ("a", "b"))
    with pytest.raises(JinbaoError, match="control character"):
        render_rows(fmt, [("ok", "two\nlines")])
    p = tmp_path / "x.tsv"
    p.write_text("# test\na\tb\nok\tfine\nbad\tcar\rriage\n", encoding="utf-8")
    with pytest.raises(JinbaoError, match=r"x.tsv: line 4: b contains a control character"):
        list(read_rows(p, fmt) or [])


def test_regions_table_names_obey_the_text_rule(inv_dir: Path) -> None:
    p = inv_dir / "regions.csv"
    lines = p.read_text(encoding="utf-8").splitlines(keepends=True)
    code, zh, en, *rest = lines[5].rstrip("\n").split(",")
    lines[5] = ",".join([code, zh, f'"{en}\x1b[2J"', *rest]) + "\n"
    p.write_text("".join(lines), encoding="utf-8")
    one_line_error(run(inv_dir, "inventory", "validate"), "regions.csv", "line 6", "control character")


# -- 5: tracebacks become one-line errors ------------------------------------------------------------------
def test_gbk_byte_in_regions_csv(inv_dir: Path) -> None:
    p = inv_dir / "regions.csv"
    lines = p.read_bytes().split(b"\n")
    lines[9] = lines[9].replace("市".encode(), "市".encode("gbk"), 1)
    p.write_bytes(b"\n".join(lines))
    one_line_error(run(inv_dir, "inventory", "validate"), "regions.csv", "line 10", "not UTF-8")


@pytest.mark.parametrize("name", RECORDS)
def test_non_utf8_byte_in_a_record(inv_dir: Path, name: str) -> None:
    p = inv_dir / name
    lines = p.read_bytes().split(b"\n")
    lines[20] = lines[20] + b"\xff"
    p.write_bytes(b"\n".join(lines))
    one_line_error(run(inv_dir, "ipplan", "check"), name, "line 21", "not UTF-8")


def test_inventory_option_pointing_at_a_file(inv_dir: Path) -> None:
    one_line_error(run(inv_dir / "jinbao.yaml", "inventory", "validate"), "jinbao.yaml", "--inventory",
                   "is a file")
    one_line_error(run(inv_dir / "nosuch", "inventory", "validate"), "nosuch", "no such directory")


def test_jinbao_yaml_is_a_directory(inv_dir: Path) -> None:
    (inv_dir / "jinbao.yaml").unlink()
    (inv_dir / "jinbao.yaml").mkdir()
    one_line_error(run(inv_dir, "inventory", "validate"), "jinbao.yaml", "is a directory")


def test_a_record_that_is_a_directory(inv_dir: Path) -> None:
    (inv_dir / "port-registry.tsv").unlink()
    (inv_dir / "port-registry.tsv").mkdir()
    one_line_error(run(inv_dir, "ipplan", "check"), "port-registry.tsv", "is a directory")


def test_site_names_are_printed_literally_never_as_markup(inv_dir: Path) -> None:
    edit(inv_dir / "jinbao.yaml", lambda d: d.update(sites=[
        {"id": "140100-AS120", "parent": "140100-DC", "name_zh": "[red]经办[/red]", "name_en": "Agency [/b] 120"}]))
    r = run(inv_dir, "inventory", "show", "--scope", "140100-AS120")
    assert r.returncode == 0, r.stderr
    assert "Agency [/b] 120" in r.stdout and "[red]经办[/red]" in r.stdout


# -- 6: validation gaps -------------------------------------------------------------------------------------
def test_reservation_outside_its_pool(inv_dir: Path) -> None:
    before = digests(inv_dir)
    edit(inv_dir / "ipplan.yaml", lambda d: d.update(
        reservations=[{"prefix": "192.168.0.0/24", "pool": "business", "note": "x"}]))
    one_line_error(run(inv_dir, "ipplan", "allocate"), "ipplan.yaml", "reservations.0", "outside pool business")
    assert digests(inv_dir) == before


def test_check_reports_a_recorded_reservation_outside_its_pool(inv_dir: Path) -> None:
    p = inv_dir / "ip-registry.tsv"
    with p.open("a", encoding="utf-8") as fh:
        fh.write("192.168.0.0/24\tbusiness\t\treserved: x\treserved\treserved/business/192.168.0.0/24\t\n")
    r = run(inv_dir, "ipplan", "check", "--json")
    assert r.returncode == 1
    assert '"reservation-outside-pool"' in r.stdout


def test_duplicate_reservation(inv_dir: Path) -> None:
    edit(inv_dir / "ipplan.yaml", lambda d: d.update(reservations=[
        {"prefix": "10.255.0.0/24", "pool": "business", "note": "first"},
        {"prefix": "10.255.0.0/24", "pool": "business", "note": "second"}]))
    one_line_error(run(inv_dir, "ipplan", "allocate"), "ipplan.yaml", "reservations.1", "reservations.0")


def test_negative_access_site_count(inv_dir: Path) -> None:
    edit(inv_dir / "jinbao.yaml", lambda d: d["access_sites"]["per_city"].update(agency=-3))
    one_line_error(run(inv_dir, "inventory", "validate"), "jinbao.yaml", "access_sites.per_city.agency")
    edit(inv_dir / "jinbao.yaml", lambda d: (d["access_sites"]["per_city"].update(agency=3),
                                             d.update(site_overrides={"140100-DC": {"devices": {"WR": -1}}})))
    one_line_error(run(inv_dir, "inventory", "validate"), "jinbao.yaml", "site_overrides.140100-DC.devices.WR")


def test_override_for_an_unknown_city(inv_dir: Path) -> None:
    edit(inv_dir / "jinbao.yaml", lambda d: d["access_sites"]["overrides"].update(
        {"140199": {"agency": 1, "community": 0, "township": 0, "partner": 0}}))
    one_line_error(run(inv_dir, "inventory", "validate"), "access_sites.overrides.140199", "unknown city")


def test_allocate_refuses_a_record_that_fails_its_check(inv_dir: Path) -> None:
    p = inv_dir / "ip-registry.tsv"
    text = p.read_text(encoding="utf-8")
    # a LAN whose recorded parent does not exist: an orphan `check` reports
    m = re.search(r"^(.*\tbusiness/4/140100-AS001/lan\t)(business/4/140100-AS001)$", text, re.M)
    assert m
    text = text.replace(m.group(), m.group(1) + "business/4/nosuch", 1)
    edit(inv_dir / "jinbao.yaml", lambda d: d["access_sites"]["overrides"].update(
        {"140100": {"agency": 4, "community": 2, "township": 2, "partner": 1}}))
    p.write_text(text, encoding="utf-8")
    before = digests(inv_dir)
    assert run(inv_dir, "ipplan", "check").returncode == 1
    one_line_error(run(inv_dir, "ipplan", "allocate"), "ip-registry.tsv", "fails its check", "nothing allocated")
    assert digests(inv_dir) == before


@pytest.mark.parametrize(("change", "entry"), [
    (lambda d: d.update(devices=[{"hostname": "JB-140100-DC-WR02", "platform": "linux"}]), "devices.0.platform"),
    (lambda d: d["platforms"]["devices"].update({"JB-140100-DC-WR01": "linux"}),
     "platforms.devices.JB-140100-DC-WR01"),
    (lambda d: d["platforms"]["default"].update(WR="linux"), "platforms.default.WR"),
])
def test_wan_router_on_a_server_platform_is_refused(inv_dir: Path, change, entry: str) -> None:
    edit(inv_dir / "jinbao.yaml", change)
    one_line_error(run(inv_dir, "inventory", "validate"), "jinbao.yaml", entry, "not a router platform")


def test_shipped_inventory_unchanged_by_these_rules(tmp_path: Path) -> None:
    """The committed inventory passes every new rule and its records reload byte-identically."""
    from ipplan.ports import load_ports
    from ipplan.registry import load_registry

    inv = ROOT / "inventory"
    assert load_registry(inv / RECORDS[0]).render() == (inv / RECORDS[0]).read_text(encoding="utf-8")
    assert load_ports(inv / RECORDS[1]).render() == (inv / RECORDS[1]).read_text(encoding="utf-8")
    shutil.copytree(inv, tmp_path / "inv", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    r = run(tmp_path / "inv", "ipplan", "check")
    assert r.returncode == 0, r.stderr


# -- 3: a second WAN router at a city moves no cable and renumbers no line ------------------------------------
def test_second_wan_router_moves_no_cable(inv_dir: Path) -> None:
    from ipplan.service import allocate_and_save, open_plan
    from network.service import open_network

    old = {n: (inv_dir / n).read_text(encoding="utf-8").splitlines() for n in RECORDS}
    edit(inv_dir / "jinbao.yaml", lambda d: d.update(site_overrides={"140100-DC": {"devices": {"WR": 2}}}))
    _, report, _, port_report = allocate_and_save(open_plan(inv_dir))
    assert not report.decommissioned and not port_report.decommissioned
    for n in RECORDS:  # every existing line stays byte for byte; the new router only adds lines
        new = (inv_dir / n).read_text(encoding="utf-8").splitlines()
        assert set(old[n]) <= set(new), (n, sorted(set(old[n]) - set(new))[:5])
    reg = (inv_dir / "ip-registry.tsv").read_text(encoding="utf-8")
    assert ("100.100.104.2/31\tp2p\t140100-DC\tp2p link (backup)\tactive\t"
            "p2p/4/140100-DC/backup:JB-140100-DC-WR01") in reg
    ports = (inv_dir / "port-registry.tsv").read_text(encoding="utf-8")
    assert "JB-140000-DC-WR02\t5\tbackup:JB-140100-DC-WR01\tactive\n" in ports  # the province's Gi0/0/5
    inv = open_network(inv_dir).inv
    city = [lk for lk in inv.links if lk.kind == "access" and lk.a_site == "140100-DC"]
    assert len(city) == 8 and {lk.a for lk in city} == {"JB-140100-DC-WR01"}  # access circuits stay on WR01
    backup = next(lk for lk in inv.links if lk.kind == "backup" and lk.b_site == "140100-DC")
    assert (backup.a, backup.b) == ("JB-140000-DC-WR02", "JB-140100-DC-WR01")
    assert any(lk.kind == "internal" and lk.b == "JB-140100-DC-WR02" for lk in inv.links)  # the new line
    # a new access site afterwards is a new line: it may go to the new router, and nothing else moves
    edit(inv_dir / "jinbao.yaml", lambda d: d["access_sites"]["overrides"].update(
        {"140100": {"agency": 4, "community": 2, "township": 2, "partner": 1}}))
    _, report, _, port_report = allocate_and_save(open_plan(inv_dir))
    assert not report.decommissioned and not port_report.decommissioned
    new_line = next(lk for lk in open_network(inv_dir).inv.links if lk.b_site == "140100-AS004")
    assert new_line.a == "JB-140100-DC-WR02"


# -- 7: usability ---------------------------------------------------------------------------------------------
def test_piped_output_does_not_wrap(inv_dir: Path) -> None:
    r = run(inv_dir, "inventory", "validate")
    assert r.returncode == 0 and r.stdout.count("\n") == 1, r.stdout  # one line, however long
    assert r.stdout.startswith("valid: ") and r.stdout.rstrip().endswith("city)")
    edit(inv_dir / "jinbao.yaml", lambda d: d.update(sites=[{"id": "140100-AS120", "parent": "140100-DC",
                                                            "name_zh": "x", "name_en": "y" * 150}]))
    r = run(inv_dir, "ipplan", "check")  # 100+ character findings, one per line
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert lines and all(ln.startswith(("unallocated ", "… and")) for ln in lines), lines[:3]


def test_inventory_show_lists_sites_devices_with_management_addresses_and_links() -> None:
    r = run(None, "inventory", "show", "--scope", "140100-AS001")
    assert r.returncode == 0, r.stderr
    for needle in ("140100-AS001", "JB-140100-AS001-AR01", "access:JB-140100-AS001-AR01", "JB-140100-DC-WR01"):
        assert needle in r.stdout, needle
    from ipplan.inventory_export import mgmt_address
    from ipplan.registry import load_registry

    mgmt = mgmt_address(load_registry(ROOT / "inventory" / "ip-registry.tsv"), "140100-AS001",
                        "JB-140100-AS001-AR01")
    assert mgmt and mgmt in r.stdout


def test_render_removes_its_own_stale_configs_and_reports_foreign_files(tmp_path: Path) -> None:
    from network.plan import build_intents
    from network.render import render_many
    from network.render.engine import previous_files, remove_stale
    from network.secrets import LabTestSecrets
    from network.service import open_network

    hosts = ["JB-140100-AS001-AR01", "JB-140100-AS002-AR01"]
    intents = build_intents(open_network(ROOT / "inventory"), set(hosts))
    out = tmp_path / "configs"

    def render(batch: list[str]) -> tuple[list[str], list[str]]:  # what `jinbao render --out` does
        previous = previous_files(out)
        return remove_stale(out, previous, render_many([intents[h] for h in batch], LabTestSecrets(), out,
                                                       workers=1))

    assert render(hosts) == ([], [])
    (out / "notes.cfg").write_text("mine\n", encoding="utf-8")
    removed, foreign = render(hosts[:1])
    assert removed == [f"{hosts[1]}.cfg"] and not (out / f"{hosts[1]}.cfg").exists()
    assert foreign == ["notes.cfg"] and (out / "notes.cfg").exists()  # not ours: left, reported
    assert sorted(p.name for p in out.glob("*.cfg")) == [f"{hosts[0]}.cfg", "notes.cfg"]


def test_allocate_refuses_to_write_into_the_installed_package(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import inventory.load as load_mod
    from ipplan.service import allocate_and_save, open_plan
    from tests.conftest import copy_inventory

    pkg = copy_inventory(tmp_path / "lib" / "python3.11" / "site-packages" / "inventory", with_registry=False)
    monkeypatch.setattr(load_mod, "PACKAGE_DIR", pkg.resolve())
    monkeypatch.chdir(tmp_path)  # no ./inventory here: the default is the package's own
    assert load_mod.default_inventory_dir() == pkg.resolve()
    with pytest.raises(JinbaoError, match="installed package"):
        allocate_and_save(open_plan(load_mod.default_inventory_dir()))
    assert not (pkg / "ip-registry.tsv").exists() and not (pkg / "port-registry.tsv").exists()


def test_help_has_examples() -> None:
    for args in ((), ("ipplan",), ("inventory",)):
        r = run(None, *args, "--help")
        assert r.returncode == 0 and "Examples:" in r.stdout and "jinbao " in r.stdout.split("Examples:")[1]
