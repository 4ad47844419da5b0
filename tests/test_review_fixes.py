"""Regression tests for the review's findings: rules files validated, cycles, scopes, output boundaries, the
pipeline's out/ and the ASN range."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from core.errors import JinbaoError
from inventory.load import load
from inventory.schema import NetworkDoc
from ipplan.check import check_registry
from ipplan.config import PLAN_FILE, REGISTRY_FILE, load_plan
from ipplan.inventory_export import inventory_dict
from ipplan.registry import Record, Registry, load_registry
from tests.conftest import INVENTORY, ROOT, jinbao


@pytest.fixture
def net_inv_dir(inv_dir: Path) -> Path:
    """The inventory copy with the routing policy too (planning reads it)."""
    if not (inv_dir / "routing.yaml").exists():
        shutil.copy2(INVENTORY / "routing.yaml", inv_dir / "routing.yaml")
    return inv_dir


def _yaml(path: Path, change) -> None:  # type: ignore[no-untyped-def]
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _one_line_error(r: subprocess.CompletedProcess[str], file: Path, *needles: str) -> str:
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(f"error: {file}: "), lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# -- 1. ipplan.yaml: pools, roles and tiers must be known ------------------------------------------------
PLAN_CASES = {
    "subnet pool typo": (lambda d: d["subnets"]["dc"][4].update(pool="dmzz"),
                         ["subnets.dc.4.pool", "unknown pool 'dmzz'"]),
    "access subnet pool typo": (lambda d: d["subnets"]["access"]["agency"][0].update(pool="busines"),
                                ["subnets.access.agency.0.pool", "unknown pool 'busines'"]),
    "reservation pool typo": (
        lambda d: d.update(reservations=[{"prefix": "10.255.0.0/24", "pool": "busines", "note": "x"}]),
        ["reservations.0.pool", "unknown pool 'busines'"]),
    "unknown host role": (lambda d: d["subnets"]["dc"][0].update(hosts=["DB", "XX"]),
                          ["subnets.dc.0.hosts", "unknown role 'XX'"]),
    "unknown headroom tier": (lambda d: d["headroom"].update(provnce=2), ["headroom", "unknown tier 'provnce'"]),
}


@pytest.mark.parametrize("case", list(PLAN_CASES))
def test_plan_rules_name_known_pools_roles_tiers(inv_dir: Path, case: str) -> None:
    change, needles = PLAN_CASES[case]
    _yaml(inv_dir / PLAN_FILE, change)
    registry = inv_dir / REGISTRY_FILE
    before = registry.read_bytes()
    r = jinbao("--inventory", str(inv_dir), "ipplan", "allocate")
    _one_line_error(r, inv_dir / PLAN_FILE, *needles)
    assert registry.read_bytes() == before  # in particular: not one DMZ allocation decommissioned


def test_shipped_plan_rules_still_load() -> None:
    plan = load_plan(INVENTORY)
    assert {s.pool for s in plan.subnets.dc} == {"business", "office", "dmz"}


# -- 2. routing.yaml: announced pools and communities ------------------------------------------------------
ROUTING_CASES = {
    "announced pool typo": (lambda d: d["bgp"].update(announced_pools=["business", "loopbak", "p2p"]),
                            ["bgp.announced_pools", "unknown pool 'loopbak'"]),
    "community tier missing": (lambda d: d["bgp"]["communities"].pop("dr"), ["bgp.communities", "missing ['dr']"]),
    "community tier unknown": (lambda d: d["bgp"]["communities"].update(provnce="65100:9"),
                               ["bgp.communities", "unknown ['provnce']"]),
    "community out of range": (lambda d: d["bgp"]["communities"].update(city="65100:70000"),
                               ["bgp.communities", "city: community '65100:70000'"]),
    "community not a community": (lambda d: d["bgp"]["communities"].update(city="sixty"),
                                  ["bgp.communities", "city: community 'sixty'"]),
}


@pytest.mark.parametrize("case", list(ROUTING_CASES))
def test_routing_rules_name_known_pools_and_every_tier(net_inv_dir: Path, case: str) -> None:
    inv_dir = net_inv_dir
    change, needles = ROUTING_CASES[case]
    _yaml(inv_dir / "routing.yaml", change)
    r = jinbao("--inventory", str(inv_dir), "intent", "JB-140100-DC-WR01", "--json")
    _one_line_error(r, inv_dir / "routing.yaml", *needles)
    assert not r.stdout


# -- 3. registry parent chains that loop -----------------------------------------------------------------
def _rec(key: str, parent: str, start: int, plen: int) -> Record:
    return Record(key, "business", 4, start, plen, "x", "test", "active", parent)


def _with_timeout(fn, seconds: float = 20):  # type: ignore[no-untyped-def]
    box: dict = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:
            box["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"did not finish in {seconds} s"
    if "error" in box:
        raise box["error"]
    return box["value"]


def test_check_reports_parent_cycles_and_terminates() -> None:
    plan = load_plan(INVENTORY)
    reg = Registry({r.key: r for r in (
        _rec("pool", "", 10 << 24, 8),
        _rec("a", "pool", 10 << 24, 16),
        _rec("self", "self", (10 << 24) + (1 << 16), 16),  # its own parent
        _rec("b", "c", (10 << 24) + (2 << 16), 16),  # b -> c -> b
        _rec("c", "b", (10 << 24) + (3 << 16), 16),
        _rec("below", "b", (10 << 24) + (2 << 16), 24),  # hangs off the loop, is not on it
    )})
    findings = _with_timeout(lambda: check_registry(reg, plan))
    cycles = {f.subject: f.message for f in findings if f.rule == "cycle"}
    assert set(cycles) == {"self", "b", "c"}
    assert "self -> self" in cycles["self"] and "b -> c -> b" in cycles["b"]


def test_registry_with_a_parent_cycle_is_a_one_line_error(inv_dir: Path) -> None:
    path = inv_dir / REGISTRY_FILE
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines)
              if line.split("\t")[5:6] == ["business/4/140100-DC/production"])
    cols = lines[at].rstrip("\n").split("\t")
    cols[6] = cols[5]  # its own parent
    lines[at] = "\t".join(cols) + "\n"
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(JinbaoError, match=f"line {at + 1}.*loops back"):
        _with_timeout(lambda: load_registry(path))
    r = subprocess.run([sys.executable, "-m", "jinbao.cli", "--inventory", str(inv_dir), "ipplan", "check"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    _one_line_error(r, path, f"line {at + 1}", "business/4/140100-DC/production", "loops back on itself")


# -- 4. inventory show --scope: the hierarchy, not id prefixes -----------------------------------------------
@pytest.fixture(scope="module")
def national() -> tuple:
    return load(INVENTORY).inventory, load_registry(INVENTORY / REGISTRY_FILE)


def test_show_scope_is_the_hierarchy(national: tuple) -> None:
    inv, reg = national
    shanxi = inventory_dict(inv, reg, "140000")
    ids = {s["id"] for s in shanxi["sites"]}
    assert {"140000-DC", "140000-DR", "140100-DC", "140200-DC", "140100-AS001"} <= ids
    assert ids == {s.id for s in inv.sites if s.province == "140000"}
    assert {d["site"] for d in shanxi["devices"]} <= ids
    assert any(lk["a_site"] == "100000-DC" and lk["b_site"] == "140000-DC" for lk in shanxi["links"])
    taiyuan = {s["id"] for s in inventory_dict(inv, reg, "140100")["sites"]}
    assert "140100-DC" in taiyuan and "140100-AS001" in taiyuan and "140200-DC" not in taiyuan
    assert {s["id"] for s in inventory_dict(inv, reg, "140100-DC")["sites"]} == {"140100-DC"}


def test_show_unknown_scope_is_an_error(national: tuple) -> None:
    inv, reg = national
    with pytest.raises(JinbaoError, match="999999"):
        inventory_dict(inv, reg, "999999")
    r = jinbao("inventory", "show", "--json", "--scope", "999999")
    assert r.returncode == 2 and not r.stdout
    assert r.stderr.strip().count("\n") == 0 and "'999999'" in r.stderr


# -- 6. outputs and lab input: one-line errors, not tracebacks ---------------------------------------------
def test_export_to_unwritable_path(tmp_path: Path) -> None:
    r = jinbao("ipplan", "export", "--out", "/proc/jinbao-x.json")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.strip() == "error: /proc/jinbao-x.json: --out: cannot write here: No such file or directory"
    r = jinbao("ipplan", "export", "--out", str(tmp_path))  # a directory
    assert r.returncode == 2 and "Traceback" not in r.stderr and str(tmp_path) in r.stderr, r.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("where", ["file", "below a file"])
def test_render_into_a_file(tmp_path: Path, where: str) -> None:
    f = tmp_path / "configs"
    f.write_text("not a directory\n")
    out = f if where == "file" else f / "sub"
    r = jinbao("render", "--out", str(out), "--scope", "140100-DC", "--lab-secrets")
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {out}: --out: "), r.stderr
    assert f.read_text() == "not a directory\n" and sorted(p.name for p in tmp_path.iterdir()) == ["configs"]


def test_diagram_into_a_directory(tmp_path: Path) -> None:
    r = jinbao("diagram", "--out", str(tmp_path), "--scope", "140100")
    assert r.returncode == 2 and r.stderr.strip() == f"error: {tmp_path}: --out: is a directory, not a file"


@pytest.mark.parametrize("net", ["bogus", "100.127.0.1/24", "fd00::/64", "100.127.0.0/28"])
def test_lab_mgmt_net_is_validated_before_any_lab_work(net: str) -> None:
    from lab.slice import build_lab

    with pytest.raises(JinbaoError, match="--mgmt-net"):
        build_lab(INVENTORY, "minimal", "jbtest", net)


def test_lab_up_bogus_mgmt_net_cli() -> None:
    # fails in build_lab's first lines, before the inventory is even read: no lab is touched
    r = jinbao("lab", "up", "--name", "jbnever", "--mgmt-net", "bogus")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().startswith("error: --mgmt-net 'bogus': not an IPv4 network"), r.stderr


def test_lab_slice_site_missing_from_inventory(net_inv_dir: Path) -> None:
    from lab.slice import build_lab

    inv_dir = net_inv_dir
    _yaml(inv_dir / "jinbao.yaml",
          lambda d: d["provinces"].setdefault("140000", {}).update(excluded_city_centres=["140200"]))
    with pytest.raises(JinbaoError) as exc:
        build_lab(inv_dir, "default", "jbtest")
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith(str(inv_dir / "jinbao.yaml")) and "140200-DC" in msg


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"slice": "default"}', '{"slice": 3, "inventory": "x"}',
                                     '{"slice": "huge", "inventory": "x"}',
                                     '{"slice": "default", "inventory": "x", "mgmt_net": "bogus"}',
                                     '{"slice": "default", "inventory": "x", "bfd": "fast"}', b"\xff\xfe"])
def test_corrupt_lab_metadata(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str | bytes) -> None:
    from lab import names
    from lab.fleet import LAB_META, lab_fleet

    monkeypatch.setattr(names, "lab_dir", lambda lab: tmp_path / lab)
    meta = tmp_path / "jbtest" / LAB_META
    meta.parent.mkdir()
    if isinstance(content, bytes):
        meta.write_bytes(content)
    else:
        meta.write_text(content)
    with pytest.raises(JinbaoError) as exc:
        lab_fleet("jbtest", None)
    assert str(exc.value).startswith(f"{meta}: ") and "\n" not in str(exc.value)


# -- 7. make run: out/ never mixes an old run with a new one ----------------------------------------------
def _stale_out(out: Path) -> None:
    (out / "configs").mkdir(parents=True)
    (out / "configs" / "JB-OLD-WR01.cfg").write_text("old\n")
    for name in ("ipplan.json", "verify.json", "diagram-nation.svg", "diagram-140000.svg", "summary.md"):
        (out / name).write_text("old\n")
    (out / "summary.json").write_text(json.dumps({"ok": True, "steps": []}))


def test_run_failing_late_step_leaves_no_stale_results(net_inv_dir: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import network.plan
    from jinbao.pipeline import run_all

    inv_dir = net_inv_dir
    out = tmp_path / "out"
    _stale_out(out)

    def boom(*_a: object, **_k: object) -> None:
        raise JinbaoError("planning exploded", file="routing.yaml", entry="bgp")

    monkeypatch.setattr(network.plan, "build_intents", boom)
    with pytest.raises(JinbaoError, match="planning exploded"):
        run_all(inv_dir, out, log=lambda _m: None)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ok"] is False and summary["failed_step"] == "plan"
    assert summary["error"] == "routing.yaml: bgp: planning exploded"
    assert [s["step"] for s in summary["steps"]] == ["inventory", "allocate", "check", "export"]
    assert (out / "ipplan.json").read_text() != "old\n"  # this run's export
    assert not (out / "configs").exists() and not (out / "verify.json").exists()
    assert not (out / "diagram-nation.svg").exists() and not (out / "diagram-140000.svg").exists()
    assert "failed" in (out / "summary.md").read_text()


def test_run_failing_first_step_says_so(inv_dir: Path, tmp_path: Path) -> None:
    from jinbao.pipeline import run_all

    out = tmp_path / "out"
    _stale_out(out)
    (inv_dir / "jinbao.yaml").write_text("broken: [unclosed\n", encoding="utf-8")
    with pytest.raises(JinbaoError, match="malformed YAML"):
        run_all(inv_dir, out, log=lambda _m: None)
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["ok"], summary["failed_step"], summary["steps"]) == (False, "inventory", [])
    assert "malformed YAML" in summary["error"]
    assert sorted(p.name for p in out.iterdir()) == ["summary.json", "summary.md"]


def test_run_into_unwritable_out() -> None:
    r = jinbao("run", "--out", "/proc/jinbao-out")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().startswith("error: /proc/jinbao-out: --out: "), r.stderr


# -- 8. asn_base leaves room for DR and access sites' ASNs ---------------------------------------------------
def test_asn_base_upper_bound_fits_private_range() -> None:
    base = {"name_zh": "x", "name_en": "x", "ministry": {"name_zh": "x", "name_en": "x", "city": "110000"}}
    top = 4294967295 - (1_000_000 + 9999 * 1000 + 999)
    assert NetworkDoc.model_validate({**base, "asn_base": top}).asn_base == top
    with pytest.raises(ValidationError, match="asn_base"):
        NetworkDoc.model_validate({**base, "asn_base": top + 1})
    with pytest.raises(ValidationError, match="asn_base"):
        NetworkDoc.model_validate({**base, "asn_base": 4294967295 - 999999})


def test_lab_up_again_keeps_the_recorded_bfd_timers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`lab up` without --production-bfd/--lab-bfd on a lab that is up keeps what it was deployed with."""
    from lab import names
    from lab.fleet import LAB_META, record_lab, recorded_production_bfd

    monkeypatch.setattr(names, "lab_dir", lambda lab: tmp_path / lab)
    assert recorded_production_bfd("jbtest") is False  # never brought up: the lab's timers
    (tmp_path / "jbtest").mkdir()
    record_lab("jbtest", "minimal", INVENTORY, "100.126.250.0/24", production_bfd=True)
    assert recorded_production_bfd("jbtest") is True
    record_lab("jbtest", "minimal", INVENTORY, "100.126.250.0/24")
    assert recorded_production_bfd("jbtest") is False
    (tmp_path / "jbtest" / LAB_META).write_text("{not json")
    assert recorded_production_bfd("jbtest") is False
