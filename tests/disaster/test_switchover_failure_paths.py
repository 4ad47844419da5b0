"""The switchover playbook's failure paths, run by Ansible on this host (local connection, no PostgreSQL): the
real tasks of playbooks/dr/switchover.yml, with the commands that would touch a cluster replaced by `echo`, so
the conditions and messages are Ansible's own evaluation, not a reading of the YAML."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "playbooks" / "dr" / "switchover.yml"
ANSIBLE = Path(sys.executable).parent / "ansible-playbook"
ENDS = {"dr_old": {"host": "a", "cluster": "main"}, "dr_new": {"host": "b", "port": 5432}, "dr_version": 15}


def _play(name: str) -> dict[str, Any]:
    return next(p for p in yaml.safe_load(PLAYBOOK.read_text()) if p.get("name") == name)


def _run(tmp_path: Path, hosts: str, tasks: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    py = sys.executable
    (tmp_path / "inv").write_text("".join(f"{h} ansible_connection=local ansible_python_interpreter={py}\n"
                                          for h in "ab"))
    (tmp_path / "play.yml").write_text(yaml.safe_dump([{"name": "t", "hosts": hosts, "gather_facts": False,
                                                        "vars": ENDS, "tasks": tasks}]))
    return subprocess.run([str(ANSIBLE), "-i", str(tmp_path / "inv"), str(tmp_path / "play.yml")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)


def test_the_switchover_stops_before_writes_when_an_end_has_left_the_play(tmp_path: Path) -> None:
    first = _play("Switchover")["tasks"][0]
    assert first["name"].startswith("Both ends are in the play")
    assert _run(tmp_path, "a:b", [first]).returncode == 0
    r = _run(tmp_path, "a", [first])  # the standby failed its pre-checks and left the play
    assert r.returncode != 0 and "is not both ends of the pair" in r.stdout
    assert _play("Switchover pre-checks").get("any_errors_fatal") is True


def _rollback(tmp_path: Path, in_recovery: str) -> subprocess.CompletedProcess[str]:
    block = next(t for t in _play("Switchover")["tasks"] if t.get("name", "").startswith("Catch-up"))
    rescue = copy.deepcopy(block["rescue"])
    for t in rescue:
        for k in ("become", "become_user", "delegate_to"):
            t.pop(k, None)
    assert rescue[0]["name"] == "Is the standby still in recovery"
    rescue[0]["ansible.builtin.command"] = f"echo {in_recovery}"
    assert rescue[2]["name"].startswith("Roll back - restart the old primary")
    rescue[2]["ansible.builtin.command"] = "echo RESTARTED-OLD-PRIMARY"
    rescue[2]["register"] = "restarted"
    rescue.insert(3, {"name": "show", "ansible.builtin.debug": {"var": "restarted.stdout"}})
    return _run(tmp_path, "b", [{"name": "blk", "block": [{"name": "boom", "ansible.builtin.fail": {"msg": "x"}}],
                                 "rescue": rescue}])


def test_the_rollback_restarts_the_old_primary_only_while_the_standby_is_in_recovery(tmp_path: Path) -> None:
    r = _rollback(tmp_path, "t")
    assert r.returncode != 0 and "RESTARTED-OLD-PRIMARY" in r.stdout and "old primary restarted" in r.stdout
    for promoted in ("f", ""):  # promoted, or the standby did not answer: never a second writable end
        r = _rollback(tmp_path, promoted)
        assert r.returncode != 0 and "RESTARTED-OLD-PRIMARY" not in r.stdout, r.stdout
        assert "the old primary stays stopped" in r.stdout and "--resume" in r.stdout


def test_the_gate_waits_dr_gate_timeout_seconds_from_the_playbooks_vars(tmp_path: Path) -> None:
    """The gate's wait is the playbooks' variable (vars/ends.yml, 120 s), not a number fixed in the drill's code:
    run by Ansible here, a gate never opened fails after dr_gate_timeout, and an opened one passes."""
    import time

    ends = yaml.safe_load((ROOT / "playbooks" / "dr" / "vars" / "ends.yml").read_text())
    assert ends["dr_gate_timeout"] == 120
    [gate] = yaml.safe_load((ROOT / "playbooks" / "dr" / "tasks" / "gate.yml").read_text())
    gate = {k: v for k, v in gate.items() if k not in ("delegate_to", "become")}
    shut = {**gate, "vars": {"dr_gate": str(tmp_path / "gate"), "dr_gate_timeout": 2}}
    t0 = time.monotonic()
    r = _run(tmp_path, "a", [shut])
    took = time.monotonic() - t0
    assert r.returncode != 0 and 2 <= took < 60, (took, r.stdout[-1500:])
    (tmp_path / "gate").write_text("withdrawn\n")
    assert _run(tmp_path, "a", [shut]).returncode == 0
    from dr import drill

    assert not hasattr(drill, "GATE_TIMEOUT_S")  # the drill passes dr_gate alone (tests/disaster: _drill)
