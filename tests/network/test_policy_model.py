"""The policy file: typed, cross-checked, and every mistake a one-line error naming file and entry."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from core.errors import JinbaoError
from network.policy.model import PolicyDoc, build_policy
from tests.conftest import INVENTORY, jinbao

DOC = yaml.safe_load((INVENTORY / "policy.yaml").read_text(encoding="utf-8"))


def _build(change) -> None:
    doc = copy.deepcopy(DOC)
    change(doc)
    build_policy(PolicyDoc.model_validate(doc), "policy.yaml")


def test_the_shipped_policy_is_valid():
    p = build_policy(PolicyDoc.model_validate(DOC), "policy.yaml")
    assert {"production", "exchange", "decision", "dmz", "management", "partners", "database-service"} == set(p.zones)
    names = {f.name for f in p.flows}
    assert {"exchange-upload", "dr-replication", "management-access", "public-service-api",
            "partner-settlement"} <= names
    # no flow of the policy touches the decision zone: business and office never meet
    assert not [f for f in p.flows if "decision" in (f.src, f.dst)]


def _flow(**kw) -> dict:
    return {"name": "extra", "from": "production", "to": "exchange", "services": ["ssh"], **kw}


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["flows"].append(_flow(to="exchnage")), "flows.9 (extra): unknown zone 'exchnage'"),
    (lambda d: d["flows"].append(_flow(services=["telnet"])), "flows.9 (extra): unknown service 'telnet'"),
    (lambda d: d["flows"].append(_flow(to="decision")),
     "flows.9 (extra): production -> decision connects the business network to the office network"),
    (lambda d: d["flows"].append(_flow(services=["postgresql"], action="deny")),
     "flows.9 (extra): conflicts with flows.0 (production-to-exchange): production -> exchange tcp/5432 is both"),
    (lambda d: d["flows"].append(_flow(services=["postgresql"])),
     "flows.9 (extra): shadowed: production -> exchange (same site) adds nothing"),
    (lambda d: d["flows"].append(_flow(name="exchange-upload")), "duplicate flow name 'exchange-upload'"),
    (lambda d: d["flows"].append(_flow(to="dmz", to_site="parent")), "to_site 'parent' needs zones behind"),
    (lambda d: d["isolated"].append(["business", "internet"]), "isolated.1: unknown network 'internet'"),
])
def test_mistakes_are_one_line_errors(change, message):
    with pytest.raises(JinbaoError) as e:
        _build(change)
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_a_range_is_shadowed_only_when_wholly_covered():
    def add(d):
        d["services"]["web"] = {"protocol": "tcp", "ports": ["5430-5440"]}
        d["flows"].append(_flow(services=["web"]))
    _build(add)  # 5430-5440 opens more than 5432: not shadowed


def test_cli_bad_policy_exits_2_with_one_line(tmp_path: Path, inv_dir: Path):
    doc = copy.deepcopy(DOC)
    doc["flows"][3]["services"] = ["ssh", "telnet"]
    (inv_dir / "policy.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    r = jinbao("--inventory", str(inv_dir), "policy", "render", "--site", "140100-DC", "--out", str(tmp_path / "o"))
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0
    assert "policy.yaml: flows.3 (management-access): unknown service 'telnet'" in r.stderr
    assert not (tmp_path / "o").exists()  # nothing written


def test_cli_schema_error_names_the_entry(inv_dir: Path):
    doc = copy.deepcopy(DOC)
    doc["services"]["ssh"]["ports"] = [70000]
    (inv_dir / "policy.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    r = jinbao("--inventory", str(inv_dir), "policy", "verify", "--scope", "140100-DC")
    assert r.returncode == 2
    assert "policy.yaml: services.ssh.ports" in r.stderr and "70000" in r.stderr
