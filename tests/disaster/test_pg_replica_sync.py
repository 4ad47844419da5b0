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


def test_a_list_the_plan_no_longer_has_is_emptied_before_the_postgresql_role_guards(tmp_path: Path) -> None:
    """A sync pair's standby is lost: the guard (postgresql role) refuses to write while the list names it, and
    the run that takes it out of the list (its pair made asynchronous) ran the guard first, so it could never
    get there. The release, run by Ansible here (its psql and reload replaced by echo), empties the list of a
    primary whose plan has no sync pair, before the roles; nothing else is touched."""
    play = yaml.safe_load((ROOT / "playbooks" / "dr" / "replication.yml").read_text())[0]
    [pre] = play["pre_tasks"]
    assert pre["ansible.builtin.include_role"] == {"name": "pg_replica", "tasks_from": "sync_release.yml"}
    assert [r["role"] for r in play["roles"]] == ["postgresql", "pg_replica"]  # the guard comes after
    tasks = yaml.safe_load((ROOT / "roles" / "pg_replica" / "tasks" / "sync_release.yml").read_text())

    def local(t: dict[str, Any]) -> dict[str, Any]:
        t = {k: v for k, v in t.items() if k not in ("become", "become_user")}
        if "block" in t:
            t["block"] = [local(x) for x in t["block"]]
        if "ansible.builtin.copy" in t:
            t["ansible.builtin.copy"] = {k: v for k, v in t["ansible.builtin.copy"].items()
                                         if k not in ("owner", "group")} | {
                "dest": "{{ playbook_dir }}/{{ inventory_hostname }}.conf"}
        cmd = str(t.get("ansible.builtin.command", ""))
        if cmd.startswith("psql"):
            assert "WHERE NOT pg_is_in_recovery()" in cmd  # a standby's list is the drills'
            t["ansible.builtin.command"] = "{{ fake_psql }}"
        elif "reload" in cmd:
            t["ansible.builtin.command"] = "echo RELOADED-{{ inventory_hostname }}"
        return t

    (tmp_path / "play.yml").write_text(yaml.safe_dump([{
        "name": "release", "hosts": "all", "gather_facts": False,
        "vars_files": [str(ROOT / "roles" / "pg_replica" / "vars" / "main.yml")],
        "vars": {"pg_replica_primary_port": 5432, "pg_replica_version": 15, "pg_replica_primary_cluster": "main"},
        "tasks": [local(t) for t in tasks]}]))
    py = sys.executable
    fake = {"p_sync": "echo 'FIRST 1 (s1)'",  # still a sync pair: sync.yml's (it waits for the standby)
            "p_async": "echo 'FIRST 1 (s2)'",  # the lost standby's pair, made asynchronous: emptied
            "p_mixed": "echo 'FIRST 1 (s4b)'",  # its sync pair is still planned: left alone
            "dr": "echo ''",  # already empty: nothing written
            "dr2": "false"}  # no PostgreSQL yet (first build): nothing
    (tmp_path / "inv").write_text("".join(f"{h} ansible_connection=local ansible_python_interpreter={py} "
                                          f"fake_psql=\"{cmd}\"\n" for h, cmd in fake.items()))
    r = subprocess.run([str(BIN / "ansible-playbook"), "-i", "inv", "play.yml", "-e",
                        json.dumps({"pg_replica_pairs": PAIRS})],
                       cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    assert sorted(p.name for p in tmp_path.glob("*.conf")) == ["p_async.conf"], r.stdout[-3000:]
    assert (tmp_path / "p_async.conf").read_text().splitlines()[-1] == "synchronous_standby_names = ''"
    recap = {ln.split()[0]: ln for ln in r.stdout.splitlines() if "unreachable=" in ln}
    assert "changed=2" in recap["p_async"]  # the file, then the reload that reads it
    assert all("changed=0" in recap[h] for h in fake if h != "p_async"), recap
    # the same file sync.yml writes for an all-asynchronous primary: the role's last step changes nothing
    sync = yaml.safe_load((ROOT / "roles" / "pg_replica" / "tasks" / "sync.yml").read_text())
    [block] = [t["block"] for t in sync if "block" in t]
    [write] = [t for t in block if "ansible.builtin.copy" in t]
    [release] = next(t for t in tasks if "block" in t)["block"][:1]
    assert release["ansible.builtin.copy"]["dest"] == write["ansible.builtin.copy"]["dest"]
    assert release["ansible.builtin.copy"]["content"] == write["ansible.builtin.copy"]["content"].replace(
        "{{ pg_replica_synchronous_standby_names }}", "")


def test_a_demoted_cluster_names_no_synchronous_standby() -> None:
    """The old primary rebuilt or fenced as a standby (follow.yml) must not keep production's list (pg_replica's
    55 file, naming the standby that is now the primary): the drills' 70 file, read after it, empties it (the
    lab checks it on the fenced old primary of a sync pair, test_dr_lab.py)."""
    follow = yaml.safe_load((ROOT / "playbooks" / "dr" / "tasks" / "follow.yml").read_text())
    [t] = [t for t in follow if "70-jinbao-primary.conf" in json.dumps(t)]
    copy = t["ansible.builtin.copy"]
    assert copy["dest"].endswith("/conf.d/70-jinbao-primary.conf")
    assert copy["content"].splitlines()[-1] == "synchronous_standby_names = ''"
    # and a promotion through the drills puts production's own list back (the 70 file goes on `main`)
    settings = yaml.safe_load((ROOT / "playbooks" / "dr" / "tasks" / "primary_settings.yml").read_text())
    [gone] = [t for t in settings if t.get("ansible.builtin.file", {}).get("state") == "absent"]
    assert gone["ansible.builtin.file"]["path"].endswith("70-jinbao-primary.conf") and gone["when"] == (
        "dr_new.cluster == 'main'")
