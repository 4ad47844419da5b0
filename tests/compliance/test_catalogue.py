"""The control catalogue: loads, covers clauses, and every control's pass and fail scenario gives that verdict."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from checks.catalogue import CONTROLS_DIR, default_catalogue, load_catalogue
from checks.config_rules import evaluate
from checks.snmp_rules import Expectation, apply_scenario, healthy_answers
from checks.snmp_rules import evaluate as snmp_evaluate
from core.errors import JinbaoError
from network.plan import build_intents
from network.render import render_device
from network.secrets import LabTestSecrets
from network.service import open_network
from tests.conftest import INVENTORY, jinbao

CAT = default_catalogue()
SAMPLE = "JB-140100-DC-WR01"


@pytest.fixture(scope="module")
def renders() -> dict[str, str]:
    """The sample router rendered for every platform with LAB-ONLY secrets."""
    p = open_network(INVENTORY)
    out = {}
    for platform in ("cisco_ios", "huawei_vrp", "h3c_comware", "frr"):
        intent = build_intents(p, {SAMPLE}, platform=platform)[SAMPLE]
        out[platform] = render_device(intent, LabTestSecrets())
    return out


def test_every_control_has_a_known_clause_and_kind() -> None:
    clause_ids = {c.id for c in CAT.clauses}
    assert len(CAT.controls) >= 20
    for c in CAT.controls:
        assert c.clause in clause_ids
        assert c.remediation.text(), c.id
    kinds = {c.kind for c in CAT.controls}
    assert kinds == {"snmp", "config", "testinfra", "isolation", "dr"}


def test_coverage_view_lists_every_clause_covered_or_not() -> None:
    rows = CAT.coverage()
    assert [r["clause"] for r in rows] == [c.id for c in CAT.clauses]
    covered = {r["clause"] for r in rows if r["covered"]}
    assert {"8.1.2.1", "8.1.2.2", "8.1.3.2", "8.1.4.1", "8.1.4.3", "8.1.4.4", "8.1.5.4"} <= covered
    assert "8.1.1" not in covered  # physical environment: not checkable from the network


SNMP_EXP = Expectation(SAMPLE, "100.127.0.2", "WR", "太原市数据中心 / Taiyuan data centre",
                       {"eth1": "primary uplink to JB-140000-DC-WR01", "lo": "router ID"},
                       ("100.100.104.0", "100.100.104.2"), ("fd4a:5000::100:0",))


@pytest.mark.parametrize("control", [c.id for c in CAT.of_kind("snmp")])
def test_snmp_control_scenarios(control: str) -> None:
    c = CAT.control(control)
    healthy = healthy_answers(SNMP_EXP)
    assert snmp_evaluate(c.check or "", SNMP_EXP, apply_scenario(SNMP_EXP, healthy, c.scenarios.pass_))[0] == "pass"
    status, evidence = snmp_evaluate(c.check or "", SNMP_EXP, apply_scenario(SNMP_EXP, healthy, c.scenarios.fail))
    assert status == "fail", evidence
    # the fail scenario breaks only this control
    broken = apply_scenario(SNMP_EXP, healthy, c.scenarios.fail)
    others = [o.id for o in CAT.of_kind("snmp") if o.id != control
              and snmp_evaluate(o.check or "", SNMP_EXP, broken)[0] != "pass"]
    assert others == []


def test_snmp_agent_that_does_not_answer_is_an_error_not_a_pass() -> None:
    from checks.snmp_rules import Answers

    dead = Answers(False, v3_error="No SNMP response received before timeout")
    assert snmp_evaluate("sysname", SNMP_EXP, dead)[0] == "error"
    assert snmp_evaluate("v3_only", SNMP_EXP, dead)[0] == "fail"


def _apply(text: str, edits: list[list[str]]) -> str:
    for rx, rep in edits:
        new = re.sub(rx, rep, text)
        assert new != text, f"scenario edit /{rx}/ changed nothing: the scenario no longer tests the rule"
        text = new
    return text


@pytest.mark.parametrize("control", [c.id for c in CAT.of_kind("config")])
def test_config_control_scenarios(control: str, renders: dict[str, str]) -> None:
    c = CAT.control(control)
    for name, expect in (("pass_", "pass"), ("fail", "fail")):
        sc = getattr(c.scenarios, name)
        text = _apply(renders[sc["platform"]], sc.get("edits", []))
        status, evidence = evaluate(c, text, sc["platform"])
        assert status == expect, f"{control} {expect} scenario on {sc['platform']}: {evidence}"


def test_todays_renders_pass_every_config_control(renders: dict[str, str]) -> None:
    """The gaps this audit first found (command accounting on VRP/Comware, eBGP session protection everywhere,
    IPv6 management ACLs on Cisco/Huawei/H3C) are fixed in the templates (issue 9): every control passes."""
    verdict = {(c.id, p): evaluate(c, t, p)[0] for c in CAT.of_kind("config") for p, t in renders.items()
               if c.applies_to.matches("WR", p)}
    assert len(verdict) > 30
    assert sorted(k for k, v in verdict.items() if v != "pass") == []


def _broken_copy(tmp_path: Path, name: str, text: str) -> Path:
    d = tmp_path / "controls"
    shutil.copytree(CONTROLS_DIR, d)
    (d / name).write_text(text, encoding="utf-8")
    return d


@pytest.mark.parametrize("text, words", [
    ("controls:\n  - {id: X, title: t, clause: '9.9', kind: snmp, check: sysname, remediation: {}, "
     "scenarios: {pass: {}, fail: {}}}\n", ["bad.yaml", "controls.0 (X)", "9.9"]),
    ("controls:\n  - {id: JB-NET-SNMP-SYSNAME, title: t, clause: '8.1.1', kind: snmp, check: sysname, "
     "remediation: {}, scenarios: {pass: {}, fail: {}}}\n", ["bad.yaml", "duplicate control id"]),
    ("controls:\n  - {id: Y, title: t, clause: '8.1.1', kind: ftp, remediation: {}, "
     "scenarios: {pass: {}, fail: {}}}\n", ["bad.yaml", "controls.0 (Y)", "kind"]),
    ("controls: [\n", ["bad.yaml", "cannot read"]),
])
def test_bad_catalogue_is_a_one_line_error(tmp_path: Path, text: str, words: list[str]) -> None:
    with pytest.raises(JinbaoError) as e:
        load_catalogue(_broken_copy(tmp_path, "bad.yaml", text))
    msg = str(e.value)
    assert "\n" not in msg and all(w in msg for w in words), msg


def test_cli_controls_json() -> None:
    r = jinbao("check", "controls", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["standard"] == "GB/T 22239-2019" and len(data["clauses"]) == len(CAT.clauses)
    assert {c["id"] for c in data["controls"]} == {c.id for c in CAT.controls}


@pytest.mark.parametrize("group", ["servers", "dr"])
def test_servers_and_dr_on_a_lab_that_is_not_up_is_a_one_line_error(group: str) -> None:
    r = jinbao("check", group, "--lab", "jbnope")
    assert r.returncode == 2 and r.stdout == "", (group, r.stdout[:300], r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "jbnope" in lines[0] and "not up" in lines[0], r.stderr


def test_remediation_names_ansible_variables_that_exist() -> None:
    """An auditor's report points at the variable to change: it must be one the roles or the inventory plugin
    really use (a rename that leaves the catalogue behind fails here)."""
    root = Path(__file__).resolve().parents[2]
    used = "\n".join(p.read_text() for d in ("roles", "plugins", "inventory/group_vars") for p in (root / d).rglob("*")
                     if p.is_file() and p.suffix in (".yml", ".yaml", ".j2", ".py"))
    var = re.compile(r"\b(?:jb|jinbao|baseline|postgresql|pg_replica)_[a-z0-9_]+\b")
    named = {(c.id, v) for c in CAT.controls if c.remediation.role and c.remediation.variable
             for v in var.findall(c.remediation.variable)}
    assert named, "no control names a role variable"
    missing = sorted((cid, v) for cid, v in named if not re.search(rf"\b{v}\b", used))
    assert not missing, missing
