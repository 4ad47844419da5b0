"""The DR pieces that need no lab: plan -> Ansible variables, refusals, the plan file, runner events -> steps."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from core.errors import JinbaoError
from dr.ansible_vars import PORT_BASE, PORT_SPAN, dr_vars, standby_port
from dr.drill import _Steps, refusal, resume_refusal
from dr.plan import Pair
from dr.report import DrillReport
from dr.sources import pairs_from_file
from dr.status import PairStatus

P1 = Pair("JB-140100-DC-DB01", "JB-140000-DR-DB01", "sync", "140100-DC", "140000-DR", "jb_140100_dc_db01")
P2 = Pair("JB-140300-DC-DB01", "JB-140000-DR-DB01", "async", "140300-DC", "140000-DR", "jb_140300_dc_db01")
ADDR = {"JB-140100-DC-DB01": "10.1.0.5", "JB-140300-DC-DB01": "10.3.0.5", "JB-140000-DR-DB01": "10.9.0.5"}


def test_vars_per_host_both_directions_and_sync_names() -> None:
    v = dr_vars([P2, P1], ADDR)
    hosts = v["jb_dr_hosts"]
    assert hosts["JB-140100-DC-DB01"]["synchronous_standby_names"] == "FIRST 1 (jb_140100_dc_db01)"
    assert hosts["JB-140300-DC-DB01"]["synchronous_standby_names"] == ""
    assert [e["address"] for e in hosts["JB-140000-DR-DB01"]["hba_entries"]] == ["10.1.0.5/32", "10.3.0.5/32"]
    assert hosts["JB-140100-DC-DB01"]["hba_entries"] == [
        {"type": "hostssl", "database": "replication", "user": "jb_replicator", "address": "10.9.0.5/32",
         "method": "scram-sha-256"}]
    assert hosts["JB-140000-DR-DB01"]["synchronous_standby_names"] == ""  # a DR server is never sync primary
    assert sorted(hosts["JB-140000-DR-DB01"]["standby_ports"]) == sorted(p["port"] for p in v["jb_dr_pairs"])


def test_every_pair_field_is_one_the_replication_role_accepts() -> None:
    """The role validates its input (argument_specs): a field the plan grows must be declared there too, or
    every replication build fails at its first task (as svcaddr's service addresses once did, in the lab)."""
    import yaml

    spec = yaml.safe_load((Path(__file__).parents[2] / "roles/pg_replica/meta/argument_specs.yml").read_text())
    accepted = set(spec["argument_specs"]["main"]["options"]["pg_replica_pairs"]["options"])
    served = dataclasses.replace(P1, service_v4="100.112.0.1/32", service_v6="fd4a:7000::1/128")
    for pair in dr_vars([served, P2], ADDR)["jb_dr_pairs"]:
        assert set(pair) <= accepted, set(pair) - accepted


def test_standby_port_depends_on_the_slot_only() -> None:
    alone = dr_vars([P1], ADDR)["jb_dr_pairs"][0]["port"]
    together = {p["slot"]: p["port"] for p in dr_vars([P1, P2], ADDR)["jb_dr_pairs"]}
    assert alone == together[P1.slot] == standby_port(P1.slot)
    assert PORT_BASE <= alone < PORT_BASE + PORT_SPAN


def test_port_collision_and_missing_address_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("dr.ansible_vars.standby_port", lambda slot: 20000)
    with pytest.raises(JinbaoError, match="collide on JB-140000-DR-DB01"):
        dr_vars([P1, P2], ADDR)
    with pytest.raises(JinbaoError, match="JB-140000-DR-DB01: no address"):
        dr_vars([P1], {"JB-140100-DC-DB01": "10.1.0.5"})


def _st(state: str, active: str | None = "primary", lag: int | None = 0) -> PairStatus:
    return PairStatus(P1.primary, P1.replica, "sync", state, None, lag, 0.0, None, active)


def test_refusals() -> None:
    assert refusal("switchover", _st("streaming"), 100) is None
    assert "not streaming" in (refusal("switchover", _st("down"), 100) or "")
    assert "bytes behind" in (refusal("failover", _st("streaming", lag=101), 100) or "")
    assert "not the primary" in (refusal("switchover", _st("streaming", active="replica"), 100) or "")
    assert "split brain" in (refusal("failover", _st("two-primaries", active=None), 100) or "")
    assert refusal("failback", _st("down", active="replica"), 100) is None
    assert "DR centre's cluster" in (refusal("failback", _st("streaming"), 100) or "")


def test_resume_refused_on_split_brain_or_without_a_promotion() -> None:
    """--resume finishes a drill after its promotion: never with both ends writable (the old primary back up
    as a primary), never when the end it would finish on was not promoted (fencing production would stop
    the only primary)."""
    for kind in ("switchover", "failover", "failback"):
        why = resume_refusal(kind, _st("two-primaries", active=None))
        assert why and "split brain" in why and "\n" not in why
    assert resume_refusal("failover", _st("streaming", active="replica")) is None
    assert resume_refusal("failover", _st("unreachable", active="replica")) is None  # old host still down
    assert resume_refusal("switchover", _st("down", active="replica")) is None
    assert "nothing to resume" in (resume_refusal("failover", _st("streaming", active="primary")) or "")
    assert "nothing to resume" in (resume_refusal("switchover", _st("unreachable", active=None)) or "")
    assert resume_refusal("failback", _st("down", active="primary")) is None
    assert "production is not the primary" in (resume_refusal("failback", _st("streaming", active="replica")) or "")


def test_plan_file_bad_input(tmp_path: Path) -> None:
    good = tmp_path / "plan.json"
    good.write_text(json.dumps({"pairs": [P1.as_dict()]}))
    assert pairs_from_file(good) == [P1]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"pairs": [{**P1.as_dict(), "mode": "semi"}]}))
    with pytest.raises(JinbaoError, match=r"bad.json: pairs\[0\]: mode 'semi'"):
        pairs_from_file(bad)
    bad.write_text(json.dumps({"pairs": [{"primary": "x"}]}))
    with pytest.raises(JinbaoError, match=r"pairs\[0\]: a pair needs exactly"):
        pairs_from_file(bad)
    bad.write_text("[")
    with pytest.raises(JinbaoError, match="cannot read the plan"):
        pairs_from_file(bad)


def test_plan_file_with_and_without_service_addresses(tmp_path: Path) -> None:
    """`dr plan --json` now gives each pair its service address; a plan kept from before still reads, and
    an unknown field is still refused."""
    import dataclasses

    with_svc = dataclasses.replace(P1, service_v4="100.112.3.64/32", service_v6="fd4a:7000::10:0/128")
    f = tmp_path / "plan.json"
    f.write_text(json.dumps({"pairs": [with_svc.as_dict()]}))
    assert pairs_from_file(f) == [with_svc]
    old = {k: v for k, v in P1.as_dict().items() if not k.startswith("service_")}
    f.write_text(json.dumps({"pairs": [old]}))
    assert pairs_from_file(f) == [P1] and P1.service_v4 == ""
    f.write_text(json.dumps({"pairs": [{**with_svc.as_dict(), "service_v5": "x"}]}))
    with pytest.raises(JinbaoError, match=r"pairs\[0\]: a pair needs exactly"):
        pairs_from_file(f)


def test_runner_events_become_steps() -> None:
    rep = DrillReport("140100-DC", "switchover", "sync", P1.primary, P1.replica)
    steps = _Steps(rep, None)
    for ev in [
        {"event": "playbook_on_task_start", "event_data": {"task": "Pre-checks"}},
        {"event": "runner_on_ok", "event_data": {"host": "a"}},
        {"event": "playbook_on_task_start", "event_data": {"task": "Skipped everywhere"}},
        {"event": "runner_on_skipped", "event_data": {"host": "a"}},
        {"event": "playbook_on_task_start", "event_data": {"task": "Promote"}},
        {"event": "runner_on_failed", "event_data": {"host": "b", "res": {"msg": "boom"}}},
        {"event": "playbook_on_stats", "event_data": {}},
    ]:
        steps(ev)
    assert [(s.name, s.ok) for s in rep.steps] == [("Pre-checks", True), ("Promote", False)]
    assert rep.steps[1].detail == "b: failed: boom" and rep.steps[1].ended is not None
