"""pg_replica's re-clone path empties a data directory (rm -rf) before pg_basebackup: the guard in front of it
(roles/pg_replica/tasks/clone_guard.yml) refuses an empty or odd slot, the production cluster's name and any
directory but the pair's own, run by Ansible itself on localhost (pure checks: nothing on the host is touched)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ENV = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0",
       "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
GOOD = "jb_140100_dc_db01"
CASES = {
    "good": ({"slot": GOOD}, f"/var/lib/postgresql/15/{GOOD}"),
    "empty slot": ({"slot": ""}, "/var/lib/postgresql/15/"),
    "no slot": ({}, "/var/lib/postgresql/15/"),
    "production cluster": ({"slot": "main"}, "/var/lib/postgresql/15/main"),
    "slot climbing out": ({"slot": "../.."}, "/var/lib/postgresql/15/../.."),
    "slot with a space": ({"slot": "jb x"}, "/var/lib/postgresql/15/jb x"),
    "root": ({"slot": GOOD}, "/"),
    "empty path": ({"slot": GOOD}, ""),
    "another directory": ({"slot": GOOD}, f"/var/lib/postgresql/15/{GOOD}/.."),
}

# One Ansible run for every case: each case includes the guard in a block; the rescue records the refusal.
CASE_TASKS = """---
- name: Guard
  block:
    - name: The role's clone guard
      ansible.builtin.include_role:
        name: pg_replica
        tasks_from: clone_guard
      vars:
        pair: "{{ case.value.pair }}"
        pg_replica_data: "{{ case.value.data }}"
    - name: Allowed
      ansible.builtin.set_fact:
        outcomes: "{{ outcomes | combine({case.key: 'allowed'}) }}"
  rescue:
    - name: Refused
      ansible.builtin.set_fact:
        outcomes: "{{ outcomes | combine({case.key: ansible_failed_result.msg}) }}"
"""
PLAYBOOK = """---
- name: Clone guard cases
  hosts: localhost
  gather_facts: false
  vars:
    outcomes: {}
  tasks:
    - name: Each case
      ansible.builtin.include_tasks: case.yml
      loop: "{{ cases | dict2items }}"
      loop_control:
        loop_var: case
    - name: Outcomes
      ansible.builtin.copy:
        content: "{{ outcomes | to_json }}"
        dest: "{{ playbook_dir }}/outcomes.json"
        mode: "0600"
"""


def test_clone_guard_refuses_every_bad_slot_and_directory(tmp_path: Path) -> None:
    (tmp_path / "case.yml").write_text(CASE_TASKS)
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    cases = {k: {"pair": pair, "data": data} for k, (pair, data) in CASES.items()}
    r = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", "play.yml",
                        "-e", json.dumps({"cases": cases})],
                       cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    outcomes = json.loads((tmp_path / "outcomes.json").read_text())
    assert set(outcomes) == set(CASES)
    assert outcomes.pop("good") == "allowed"
    for case, msg in outcomes.items():
        assert msg.startswith("refusing to empty"), (case, msg)


def test_the_guard_and_the_slot_check_come_before_the_directory_is_emptied() -> None:
    tasks = yaml.safe_load((ROOT / "roles" / "pg_replica" / "tasks" / "standby.yml").read_text())
    block = next(t["block"] for t in tasks if "block" in t)
    kinds = [("guard" if t.get("ansible.builtin.include_tasks") == "clone_guard.yml" else
              "slot" if "READ_REPLICATION_SLOT" in json.dumps(t) else
              "empty" if "rm -rf" in json.dumps(t) else "other") for t in block]
    assert kinds.index("guard") < kinds.index("slot") < kinds.index("empty")
    assert kinds.count("empty") == 1
    rm = next(t for t in block if "rm -rf" in json.dumps(t))["ansible.builtin.shell"]
    assert "rm -rf -- {{ pg_replica_data | quote }}" in rm


def test_failback_rebuild_checks_its_directory_and_the_slot_before_emptying() -> None:
    """playbooks/dr/rebuild.yml empties the fenced production cluster: only that directory, only once the DR
    centre's cluster serves the slot pg_basebackup will use, and only after the on-host guard."""
    play = yaml.safe_load((ROOT / "playbooks" / "dr" / "rebuild.yml").read_text())[0]
    kinds = [("guard" if "ansible.builtin.assert" in t else
              "slot" if "READ_REPLICATION_SLOT" in json.dumps(t) else
              "host guard" if t.get("ansible.builtin.include_tasks") == "tasks/rebuild_guard.yml" else
              "empty" if "rm -rf" in json.dumps(t) else "other") for t in play["tasks"]]
    assert kinds.index("guard") < kinds.index("slot") < kinds.index("host guard") < kinds.index("empty")
    assert kinds.count("empty") == 1
    guard = next(t for t in play["tasks"] if "ansible.builtin.assert" in t)["ansible.builtin.assert"]["that"]
    assert "dr_old.data == '/var/lib/postgresql/' ~ dr_version ~ '/main'" in guard


REBUILD_CASE = """---
- name: Guard
  block:
    - name: The rebuild's host guard
      ansible.builtin.include_tasks: "{{ guard }}"
      vars:
        dr_old: {data: "{{ case.value }}"}
    - name: Allowed
      ansible.builtin.set_fact:
        outcomes: "{{ outcomes | combine({case.key: 'allowed'}) }}"
  rescue:
    - name: Refused
      ansible.builtin.set_fact:
        outcomes: "{{ outcomes | combine({case.key: why}) }}"
      vars:
        why: "{{ ansible_failed_result.stdout | default(ansible_failed_result.msg, true) }}"
"""


GUARD = ROOT / "playbooks" / "dr" / "tasks" / "rebuild_guard.yml"


def test_rebuild_refuses_a_cluster_that_may_hold_writes_or_still_runs(tmp_path: Path) -> None:
    """Run by Ansible on localhost against directories that look like each case (nothing else is touched)."""
    live = subprocess.Popen(["sleep", "300"])  # stands in for a postmaster still running
    try:
        dirs = {}
        for case, (signal, pid) in {"fenced, stopped": (True, None), "fenced, stale pid file": (True, 2**22 + 7),
                                    "never fenced": (False, None), "fenced but running": (True, live.pid)}.items():
            d = tmp_path / case.replace(" ", "_").replace(",", "")
            d.mkdir()
            if signal:
                (d / "standby.signal").touch()
            if pid is not None:
                (d / "postmaster.pid").write_text(f"{pid}\n{d}\n")
            dirs[case] = str(d)
        (tmp_path / "case.yml").write_text(REBUILD_CASE)
        (tmp_path / "play.yml").write_text(PLAYBOOK.replace("Clone guard cases", "Rebuild guard cases"))
        r = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", "play.yml",
                            "-e", json.dumps({"cases": dirs, "guard": str(GUARD)})],
                           cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=300)
    finally:
        live.kill()
        live.wait()
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    out = json.loads((tmp_path / "outcomes.json").read_text())
    assert out["fenced, stopped"] == out["fenced, stale pid file"] == "allowed"
    assert out["never fenced"].startswith("refusing to empty") and "no standby.signal" in out["never fenced"]
    running = out["fenced but running"]
    assert running.startswith("refusing to empty") and f"postmaster {live.pid}" in running
