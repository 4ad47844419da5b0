"""A synchronous pair's list on its primary (issue 13): named only once its standby streams, by pg_replica as
its last step, never by the postgresql role before the standby exists (a first build then waited for that
standby forever); the postgresql role refuses, rather than hang, to write while a list names no streaming
standby. The derived list is computed by Ansible itself on localhost (nothing on the host is touched); the
order of the tasks is read from the roles. The lab builds a sync pair for real (test_dr_lab.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ENV = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0",
       "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}

PAIRS = [
    {"primary": "p_sync", "replica": "dr", "mode": "sync", "slot": "s1"},
    {"primary": "p_async", "replica": "dr", "mode": "async", "slot": "s2"},
    {"primary": "p_two", "replica": "dr", "mode": "sync", "slot": "s3a"},
    {"primary": "p_two", "replica": "dr2", "mode": "sync", "slot": "s3b"},
    {"primary": "p_mixed", "replica": "dr", "mode": "async", "slot": "s4a"},
    {"primary": "p_mixed", "replica": "dr2", "mode": "sync", "slot": "s4b"},
]
PLAYBOOK = f"""---
- name: The derived synchronous list of each host
  hosts: all
  gather_facts: false
  vars_files: [{ROOT}/roles/pg_replica/vars/main.yml]
  tasks:
    - name: Written out
      ansible.builtin.copy:
        content: "{{{{ pg_replica_synchronous_standby_names }}}}"
        dest: "{{{{ playbook_dir }}}}/{{{{ inventory_hostname }}}}.out"
        mode: "0600"
      delegate_to: localhost
    - name: The settings file pg_replica writes (its own task, written here instead)
      ansible.builtin.include_tasks: write.yml
"""


def test_the_list_names_each_primarys_sync_slots_and_nothing_elsewhere(tmp_path: Path) -> None:
    hosts = ["p_sync", "p_async", "p_two", "p_mixed", "dr", "dr2"]
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    sync = yaml.safe_load((ROOT / "roles" / "pg_replica" / "tasks" / "sync.yml").read_text())
    [block] = [t["block"] for t in sync if "block" in t]
    [write] = [t for t in block if "ansible.builtin.copy" in t]
    copy = {k: v for k, v in write["ansible.builtin.copy"].items() if k not in ("owner", "group")}
    copy["dest"] = "{{ playbook_dir }}/{{ inventory_hostname }}.conf"
    (tmp_path / "write.yml").write_text(yaml.safe_dump([{"name": write["name"], "ansible.builtin.copy": copy,
                                                        "delegate_to": "localhost"}]))
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": dict.fromkeys(hosts)}}))
    r = subprocess.run([str(BIN / "ansible-playbook"), "-i", "hosts.yml", "-c", "local", "play.yml",
                        "-e", json.dumps({"pg_replica_pairs": PAIRS})],
                       cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    got = {h: (tmp_path / f"{h}.out").read_text() for h in hosts}
    assert got == {"p_sync": "FIRST 1 (s1)", "p_async": "", "p_two": "FIRST 1 (s3a, s3b)",
                   "p_mixed": "FIRST 1 (s4b)", "dr": "", "dr2": ""}
    conf = {h: (tmp_path / f"{h}.conf").read_text().splitlines()[-1] for h in hosts}
    assert conf["p_two"] == "synchronous_standby_names = 'FIRST 1 (s3a, s3b)'"
    assert conf["p_async"] == "synchronous_standby_names = ''"


def names(tasks: list[dict[str, Any]]) -> list[str]:
    return [t.get("name", "") for t in tasks]


def test_pg_replica_names_the_standby_last_and_only_once_it_streams() -> None:
    role = ROOT / "roles" / "pg_replica" / "tasks"
    main = yaml.safe_load((role / "main.yml").read_text())
    files = [t.get("ansible.builtin.include_tasks") for t in main]
    assert files.index("primary.yml") < files.index("standby.yml") < files.index("sync.yml")
    [block] = [t["block"] for t in yaml.safe_load((role / "sync.yml").read_text()) if "block" in t]
    kinds = [("wait" if "pg_stat_replication" in json.dumps(t) and "state = 'streaming'" in json.dumps(t) else
              "refuse" if "ansible.builtin.fail" in t else
              "write" if "55-jinbao-sync.conf" in json.dumps(t.get("ansible.builtin.copy", {})) else
              "reload" if "reload" in json.dumps(t) else "check") for t in block]
    assert kinds == ["wait", "refuse", "write", "reload", "check"], kinds
    # a standby never inherits the list: its own settings file, read after the production cluster's, empties it
    standby = (ROOT / "roles" / "pg_replica" / "templates" / "standby.conf.j2").read_text()
    assert "synchronous_standby_names = ''" in standby


def test_the_postgresql_role_never_sets_the_dr_list_and_guards_its_writes() -> None:
    group = yaml.safe_load((ROOT / "inventory" / "group_vars" / "databases.yml").read_text())
    assert "postgresql_synchronous_standby_names" not in group  # pg_replica's, once the standby streams
    main = yaml.safe_load((ROOT / "roles" / "postgresql" / "tasks" / "main.yml").read_text())
    steps = [t.get("ansible.builtin.import_tasks") or t.get("ansible.builtin.meta") for t in main]
    assert steps.index("config.yml") < steps.index("flush_handlers") < steps.index("sync_guard.yml") \
        < steps.index("databases.yml")
    guard = (ROOT / "roles" / "postgresql" / "tasks" / "sync_guard.yml").read_text()
    assert "sync_state IN ('sync', 'quorum')" in guard and "NOT pg_is_in_recovery()" in guard
