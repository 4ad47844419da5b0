"""A synchronous pair's list on its primary (issue 13): named only once its standby streams, by pg_replica as
its last step, never by the postgresql role before the standby exists (a first build then waited for that
standby forever); the postgresql role refuses, rather than hang, to write while a list names no streaming
standby. The derived list is computed by Ansible itself on localhost (nothing on the host is touched); the
order of the tasks is read from the roles. The lab builds a sync pair for real (test_dr_lab.py)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
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


FAKE_PG = r"""#!/usr/bin/python3
# The few queries sync_release.yml makes, answered from a JSON state file standing for the cluster: pg_settings'
# row, ALTER SYSTEM (written into postgresql.auto.conf as PostgreSQL does), pg_reload_conf (the setting read
# again from the line of the file that sets it), current_setting. `error` in the state: every query fails with it.
import json, re
from ansible.module_utils.basic import AnsibleModule

m = AnsibleModule(argument_spec={"query": {"type": "str"}, "named_args": {"type": "dict"}, "state": {"type": "str"},
                                 "login_db": {}, "login_port": {}, "autocommit": {"type": "bool"}},
                  supports_check_mode=True)
with open(m.params["state"]) as fh:
    st = json.load(fh)
q = m.params["query"]
st.setdefault("queries", []).append(q)
if st.get("error"):
    m.fail_json(msg=st["error"])
rows, changed = [], False
if "FROM pg_settings" in q:
    rows = [{k: st[k] for k in ("setting", "source", "sourcefile", "sourceline", "standby")}]
elif q.startswith("ALTER SYSTEM"):
    with open(st["sourcefile"], "w") as fh:
        fh.write("# Do not edit this file manually!\nsynchronous_standby_names = '%s'\n"
                 % m.params["named_args"]["list"].replace("'", "''"))
    st["sourceline"] = 2
    changed = True
elif "pg_reload_conf" in q:
    st["reloads"] = st.get("reloads", 0) + 1
    with open(st["sourcefile"]) as fh:  # the line in force is the one pg_settings named (the file's structure kept)
        line = fh.read().split("\n")[st["sourceline"] - 1]
    st["setting"] = re.match(r"(?i)\s*synchronous_standby_names\s*=\s*'((?:[^']|'')*)'", line)[1].replace("''", "'")
elif "current_setting" in q:
    rows = [{"now": st["setting"]}]
with open(m.params["state"], "w") as fh:
    json.dump(st, fh)
m.exit_json(changed=changed, query_result=rows)
"""

RELEASE_PAIRS = [
    {"primary": "h_lost", "replica": "dr", "mode": "async", "slot": "l1"},  # its standby lost: made asynchronous
    {"primary": "h_multi", "replica": "dr", "mode": "async", "slot": "m1"},  # one of two lost,
    {"primary": "h_multi", "replica": "dr2", "mode": "sync", "slot": "m2"},  # the other pair stays synchronous
    {"primary": "h_keep", "replica": "dr", "mode": "sync", "slot": "k1"},  # sync.yml's (it waits for the standby)
    {"primary": "h_auto", "replica": "dr", "mode": "async", "slot": "a1"},
    {"primary": "h_conf", "replica": "dr", "mode": "async", "slot": "c1"},
    {"primary": "h_cmd", "replica": "dr", "mode": "async", "slot": "x1"},
    {"primary": "h_err", "replica": "dr", "mode": "async", "slot": "e1"},
    {"primary": "h_line", "replica": "dr", "mode": "async", "slot": "n1"},
    {"primary": "h_link", "replica": "dr", "mode": "async", "slot": "s1"},
]
OWN = "# Written by jinbao pg_replica (roles/pg_replica/tasks/sync.yml); do not edit.\n"


def _release_play(tmp_path: Path) -> list[dict[str, Any]]:
    """sync_release.yml's tasks, run on localhost: the cluster's queries answered by FAKE_PG (a module in the
    play's library/), `pg_ctlcluster status` by each host's fake_status, the settings file looked for beside the
    play. Nothing else is changed: the files the release edits are the ones the fake cluster names."""
    tasks = yaml.safe_load((ROOT / "roles" / "pg_replica" / "tasks" / "sync_release.yml").read_text())

    def local(t: dict[str, Any]) -> dict[str, Any]:
        t = {k: v for k, v in t.items() if k not in ("become", "become_user")}
        if "block" in t:
            t["block"] = [local(x) for x in t["block"]]
        if "community.postgresql.postgresql_query" in t:
            args = t.pop("community.postgresql.postgresql_query")
            t["fake_pg"] = {**args, "state": "{{ playbook_dir }}/{{ inventory_hostname }}.json"}
        if "postgresql.conf" in str(t.get("ansible.builtin.stat", "")):
            t["ansible.builtin.stat"] = {"path": "{{ playbook_dir }}/{{ inventory_hostname }}.exists"}
        if str(t.get("ansible.builtin.command", "")).startswith("pg_ctlcluster"):
            t["ansible.builtin.command"] = "sh -c 'exit {{ fake_status }}'"
        return t

    (tmp_path / "library").mkdir(exist_ok=True)
    (tmp_path / "library" / "fake_pg.py").write_text(FAKE_PG)
    return [local(t) for t in tasks]


def _cluster(tmp_path: Path, host: str, setting: str, where: str = "55", standby: bool = False,
             source: str = "configuration file", error: str = "") -> Path | None:
    """A fake cluster whose list `setting` is set by `where`: pg_replica's 55 file, postgresql.auto.conf
    ("auto"), postgresql.conf ("conf", among other lines; "twice": set twice, the second time (in force: names
    are case-insensitive) spelled in capitals), or no file ("")."""
    name = {"55": "55-jinbao-sync.conf", "auto": "postgresql.auto.conf", "conf": "postgresql.conf",
            "twice": "postgresql.conf"}.get(where)
    path = tmp_path / host / name if name else None
    sourceline = None
    if path is not None:
        path.parent.mkdir(exist_ok=True)
        line = f"synchronous_standby_names = '{setting}'\n"
        text = {"55": OWN + "# Set once the synchronous standby streams (empty: every pair asynchronous).\n" + line,
                "auto": "# Do not edit this file manually!\n" + line,
                "conf": "#synchronous_standby_names = ''\nport = 5432\n" + line + "work_mem = '8MB'\n",
                "twice": "port = 5432\n" + line + "work_mem = '8MB'\n" + line.upper().replace(
                    setting.upper(), setting) + "max_connections = 100\n"}[where]
        path.write_text(text)
        sourceline = text.split("\n").index(line.rstrip("\n") if where != "twice" else
                                             line.rstrip("\n").upper().replace(setting.upper(), setting)) + 1
    (tmp_path / f"{host}.json").write_text(json.dumps({
        "setting": setting, "source": source, "sourcefile": str(path) if path else None, "sourceline": sourceline,
        "standby": standby, **({"error": error} if error else {})}))
    (tmp_path / f"{host}.exists").write_text("")
    return path


def _run_release(tmp_path: Path, hosts: dict[str, int], check: bool = False) -> tuple[subprocess.CompletedProcess,
                                                                                     dict[str, str]]:
    py = sys.executable
    tasks = [*_release_play(tmp_path), {  # what the guard would be told (check mode); not the release's change
        "name": "Pending", "check_mode": False, "changed_when": False, "ansible.builtin.copy": {
            "content": "{{ pg_replica_sync_pending | default('none') | to_json }}",
            "dest": "{{ playbook_dir }}/{{ inventory_hostname }}.pending", "mode": "0600"}}]
    (tmp_path / "play.yml").write_text(yaml.safe_dump([{
        "name": "release", "hosts": "all", "gather_facts": False,
        "vars_files": [str(ROOT / "roles" / "pg_replica" / "vars" / "main.yml")],
        "vars": {"pg_replica_primary_port": 5432, "pg_replica_version": 15, "pg_replica_primary_cluster": "main"},
        "tasks": tasks}]))
    (tmp_path / "inv").write_text("".join(f"{h} ansible_connection=local ansible_python_interpreter={py} "
                                          f"fake_status={rc}\n" for h, rc in hosts.items()))
    env = {**ENV, "ANSIBLE_FILTER_PLUGINS": str(ROOT / "roles" / "pg_replica" / "filter_plugins")}
    r = subprocess.run([str(BIN / "ansible-playbook"), "-i", "inv", "play.yml", *(["--check"] if check else []),
                        "-e", json.dumps({"pg_replica_pairs": RELEASE_PAIRS})],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    recap = {ln.split()[0]: ln for ln in r.stdout.splitlines() if "unreachable=" in ln}
    return r, recap


def test_the_release_takes_the_lost_standbys_out_where_the_list_is_set(tmp_path: Path) -> None:
    """A sync pair's standby is lost: the postgresql role's guard refuses to write while the list names it, and
    the run that takes it out of the list (its pair made asynchronous) ran the guard first. The release, before
    the roles, removes from the list in force the standbys the plan no longer has as synchronous - also on a
    host that keeps another synchronous pair (it was skipped: the guard then stopped it) - in the file that
    sets it (pg_settings.sourcefile; it always wrote pg_replica's 55 file, which a later file overrode), and
    reloads; a real error (a failing query, a list set by no file) stops the host instead of being hidden."""
    play = yaml.safe_load((ROOT / "playbooks" / "dr" / "replication.yml").read_text())[0]
    [pre] = play["pre_tasks"]
    assert pre["ansible.builtin.include_role"] == {"name": "pg_replica", "tasks_from": "sync_release.yml"}
    assert [r["role"] for r in play["roles"]] == ["postgresql", "pg_replica"]  # the guard comes after
    files = {
        "h_lost": _cluster(tmp_path, "h_lost", "FIRST 1 (l1)"),
        "h_multi": _cluster(tmp_path, "h_multi", "FIRST 1 (m1, m2)"),
        "h_keep": _cluster(tmp_path, "h_keep", "FIRST 1 (k1)"),
        # an operator's ALTER SYSTEM naming a standby of theirs too: only the plan's slot goes
        "h_auto": _cluster(tmp_path, "h_auto", 'ANY 1 (a1, "Their Standby")', "auto"),
        "h_conf": _cluster(tmp_path, "h_conf", "FIRST 1 (c1)", "conf"),
        # set twice in one file: the line in force (pg_settings.sourceline) is the second, in capitals; the last
        # line that merely looks like the setting (case-sensitively) is the first
        "h_line": _cluster(tmp_path, "h_line", "FIRST 1 (n1)", "twice"),
        # a conf.d file that is a link to a file managed elsewhere (0640, not root's when the test can chown)
        "h_link": _cluster(tmp_path, "h_link", "FIRST 1 (s1)", "conf"),
        "h_cmd": _cluster(tmp_path, "h_cmd", "FIRST 1 (x1)", "", source="command line"),
        "h_err": _cluster(tmp_path, "h_err", "", error="connection to server on socket failed: Permission denied"),
        "dr": _cluster(tmp_path, "dr", "FIRST 1 (l1)", standby=True),  # a standby's list is the drills'
    }
    link = files["h_link"]
    target = tmp_path / "managed" / "jinbao.conf"
    target.parent.mkdir()
    link.rename(target)
    link.symlink_to(target)
    target.chmod(0o640)
    owner = (65534, 65534) if os.geteuid() == 0 else (target.stat().st_uid, target.stat().st_gid)
    if os.geteuid() == 0:
        os.chown(target, *owner)
    before = {h: p.read_text() for h, p in files.items() if p}
    (tmp_path / "h_new.json").write_text("{}")  # no cluster yet (first build): not even asked
    for h in ("h_down", "h_odd"):  # a cluster that is stopped, or whose state pg_ctlcluster cannot tell
        (tmp_path / f"{h}.exists").write_text("")
        (tmp_path / f"{h}.json").write_text("{}")
    r, recap = _run_release(tmp_path, {"h_lost": 0, "h_multi": 0, "h_keep": 0, "h_auto": 0, "h_conf": 0, "h_line": 0,
                                       "h_link": 0, "h_cmd": 0, "h_err": 0, "dr": 0, "h_new": 0, "h_down": 3,
                                       "h_odd": 4})
    out = r.stdout + r.stderr
    state = {h: json.loads((tmp_path / f"{h}.json").read_text()) for h in files}
    after = {h: p.read_text() for h, p in files.items() if p}
    assert state["h_lost"]["setting"] == "" and after["h_lost"] == before["h_lost"].replace("(l1)", "").replace(
        "'FIRST 1 '", "''")
    assert after["h_lost"].splitlines()[-1] == "synchronous_standby_names = ''"
    assert after["h_multi"].splitlines()[-1] == "synchronous_standby_names = 'FIRST 1 (m2)'"
    assert state["h_multi"]["setting"] == "FIRST 1 (m2)"
    assert after["h_auto"].splitlines()[-1] == """synchronous_standby_names = 'ANY 1 ("Their Standby")'"""
    assert any(q.startswith("ALTER SYSTEM") for q in state["h_auto"]["queries"])
    assert after["h_conf"] == before["h_conf"].replace("= 'FIRST 1 (c1)'", "= ''")  # that file, that line only
    assert not (tmp_path / "h_conf" / "55-jinbao-sync.conf").exists()
    assert after["h_line"] == before["h_line"].replace("SYNCHRONOUS_STANDBY_NAMES = 'FIRST 1 (n1)'",
                                                       "synchronous_standby_names = ''"), after["h_line"]
    assert state["h_line"]["setting"] == ""  # what PostgreSQL reads on the line in force after the reload
    # the link stays a link to its target, which has the edit, its mode and its owner
    assert link.is_symlink() and link.readlink() == target, out[-3000:]
    assert after["h_link"] == before["h_link"].replace("= 'FIRST 1 (s1)'", "= ''") and state["h_link"]["setting"] == ""
    assert stat.S_IMODE(target.stat().st_mode) == 0o640 and (target.stat().st_uid, target.stat().st_gid) == owner
    for h in ("h_lost", "h_multi", "h_auto", "h_conf", "h_line", "h_link"):
        assert state[h]["reloads"] == 1, (h, out[-3000:])
        assert "changed=0" not in recap[h] and "failed=0" in recap[h], recap[h]
    for h in ("h_keep", "dr"):  # nothing to release: nothing written, no reload
        assert after[h] == before[h] and "reloads" not in state[h] and "changed=0" in recap[h], recap[h]
    assert "failed=1" in recap["h_cmd"] and "comes from command line, not a configuration file" in out
    assert "failed=1" in recap["h_err"] and "connection to server on socket failed" in out
    assert "failed=1" in recap["h_odd"]  # pg_ctlcluster status neither running nor stopped: not hidden
    for h in ("h_new", "h_down"):  # no cluster, or a stopped one: nothing asked
        assert "changed=0" in recap[h] and "failed=0" in recap[h], recap[h]
    assert all("queries" not in json.loads((tmp_path / f"{h}.json").read_text()) for h in ("h_new", "h_down", "h_odd"))
    # pg_replica's own file ends as sync.yml writes it for the plan's list: its last step changes nothing
    sync = yaml.safe_load((ROOT / "roles" / "pg_replica" / "tasks" / "sync.yml").read_text())
    [block] = [t["block"] for t in sync if "block" in t]
    [write] = [t for t in block if "ansible.builtin.copy" in t]
    assert after["h_lost"] == write["ansible.builtin.copy"]["content"].replace(
        "{{ pg_replica_synchronous_standby_names }}", "")
    assert after["h_multi"] == write["ansible.builtin.copy"]["content"].replace(
        "{{ pg_replica_synchronous_standby_names }}", "FIRST 1 (m2)")


def test_check_mode_changes_nothing_and_tells_the_guard_what_a_run_would_meet(tmp_path: Path) -> None:
    """Check mode: no file written, no ALTER SYSTEM, no reload, but the tasks that would change say changed, and
    the postgresql role's guard is handed the list the run would have put in force before it looks (without
    it the guard, reading the list still running, refused in check mode what a run passes)."""
    files = {"h_lost": _cluster(tmp_path, "h_lost", "FIRST 1 (l1)"),
             "h_multi": _cluster(tmp_path, "h_multi", "FIRST 1 (m1, m2)"),
             "h_auto": _cluster(tmp_path, "h_auto", "FIRST 1 (a1)", "auto"),
             "h_keep": _cluster(tmp_path, "h_keep", "FIRST 1 (k1)")}
    before = {h: p.read_text() for h, p in files.items() if p}
    r, recap = _run_release(tmp_path, dict.fromkeys(files, 0), check=True)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    assert {h: p.read_text() for h, p in files.items() if p} == before
    state = {h: json.loads((tmp_path / f"{h}.json").read_text()) for h in files}
    assert all("reloads" not in s and not any(q.startswith("ALTER") for q in s["queries"]) for s in state.values())
    pending = {h: json.loads((tmp_path / f"{h}.pending").read_text()) for h in files}
    assert pending == {"h_lost": {"list": "", "names": []}, "h_multi": {"list": "FIRST 1 (m2)", "names": ["m2"]},
                       "h_auto": {"list": "", "names": []}, "h_keep": "none"}
    assert all("changed=0" not in recap[h] for h in ("h_lost", "h_multi", "h_auto")) and "changed=0" in recap["h_keep"]


def test_the_synchronous_names_filter() -> None:
    """PostgreSQL's three list forms, quoted names, `*`; names compared case-insensitively as PostgreSQL does;
    removing never adds a name and never leaves n above the names left; nonsense is an error naming the list."""
    sys.path.insert(0, str(ROOT / "roles" / "pg_replica" / "filter_plugins"))
    try:
        from pg_sync_names import pg_sync_names, pg_sync_release
    finally:
        sys.path.pop(0)
    from ansible.errors import AnsibleFilterError

    assert pg_sync_names('FIRST 2 (s1, "S 2", "q""x")') == ["s1", "S 2", 'q"x']
    assert pg_sync_names("") == [] and pg_sync_names("a,b") == ["a", "b"] and pg_sync_names("*") == ["*"]
    assert pg_sync_release("FIRST 1 (s1)", []) == ""
    assert pg_sync_release("FIRST 2 (s1, s2, s3)", ["s2"]) == "FIRST 1 (s2)"
    assert pg_sync_release("ANY 2 (a, b, c)", ["B", "c"]) == "ANY 2 (b, c)"
    assert pg_sync_release("2 (a, b, c)", ["a"]) == "FIRST 1 (a)"  # the old form is FIRST
    assert pg_sync_release("a, b", ["b"]) == "b"
    assert pg_sync_release("FIRST 1 (S1, s2)", ["s1", "s2"]) == "FIRST 1 (S1, s2)"  # unchanged text
    assert pg_sync_release('ANY 1 (a1, "Their Standby", *)', [], only=["a1"]) == 'ANY 1 ("Their Standby", *)'
    for bad in ("FIRST 1 (a", "ANY (a)", "a b", "FIRST 1 (a,,b)"):
        with pytest.raises(AnsibleFilterError, match="synchronous_standby_names"):
            pg_sync_names(bad)


def test_the_line_in_force_is_rewritten_and_only_it() -> None:
    """pg_conf_set_line: the line pg_settings.sourceline names (1-based, counted by newline as PostgreSQL does)
    gets the new list, quoted as PostgreSQL reads it ('' and backslash doubled), its indentation kept, every
    other line (an earlier setting, comments, the end of the file, CRLF) as it was; a line that no longer sets
    the list (the file changed since the read) is an error, never another line edited instead."""
    sys.path.insert(0, str(ROOT / "roles" / "pg_replica" / "filter_plugins"))
    try:
        from pg_sync_names import pg_conf_set_line
    finally:
        sys.path.pop(0)
    from ansible.errors import AnsibleFilterError

    conf = ("synchronous_standby_names = 'FIRST 1 (a1)'\nport = 5432\n"
            "  Synchronous_Standby_Names='FIRST 1 (a1, b1)'  # in force\nwork_mem = '8MB'\n")
    name = "synchronous_standby_names"
    assert pg_conf_set_line(conf, 3, name, "FIRST 1 (b1)") == conf.replace(  # its comment kept
        "  Synchronous_Standby_Names='FIRST 1 (a1, b1)'  # in force",
        "  synchronous_standby_names = 'FIRST 1 (b1)'  # in force")
    assert pg_conf_set_line("synchronous_standby_names = 'a # b'#x\r\n", 1, name, "") == (
        "synchronous_standby_names = ''#x\r\n")  # a '#' inside the quoted value is no comment
    assert pg_conf_set_line("synchronous_standby_names a1 # bare\n", 1, name, "") == (
        "synchronous_standby_names = '' # bare\n")
    assert pg_conf_set_line(conf, 1, name, "") == conf.replace("'FIRST 1 (a1)'", "''", 1)
    assert pg_conf_set_line("x = 1\r\nsynchronous_standby_names 'a'\r\n", 2, name, 'ANY 1 ("it\'s", b\\c)') == (
        "x = 1\r\nsynchronous_standby_names = 'ANY 1 (\"it''s\", b\\\\c)'\r\n")
    for line in (2, 4, 5, 0, 99):  # not the setting (another one, the empty end), or no such line
        with pytest.raises(AnsibleFilterError, match=r"^/etc/pg/x\.conf: .* not set on line"):  # names the file
            pg_conf_set_line(conf, line, name, "", "/etc/pg/x.conf")
    with pytest.raises(AnsibleFilterError):  # a longer name that starts the same is not this setting
        pg_conf_set_line("synchronous_standby_names_x = 'a'\n", 1, name, "")


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


@pytest.mark.integration
@pytest.mark.skipif(os.geteuid() != 0, reason="runs PostgreSQL as user postgres (needs root)")
def test_the_guard_judges_the_pending_list_in_check_mode_against_real_postgresql(tmp_path: Path) -> None:
    """The postgresql role's sync guard, run by Ansible against a real PostgreSQL 15 whose list names a standby
    that does not stream: it refuses (a run would hang); in check mode, handed the list the release would have put
    in force, it passes for an empty one and still refuses one that names no streaming standby - what a run meets.
    Outside check mode the pending list is ignored."""
    import shutil
    import tempfile

    from tests.disaster.pgpair import PASSWORD, build_single

    root = Path(tempfile.mkdtemp(prefix="jbguard-"))
    os.chmod(root, 0o755)
    node = build_single(root, 55472, conf="synchronous_standby_names = 'FIRST 1 (lost)'\n")
    try:
        guard = yaml.safe_load((ROOT / "roles" / "postgresql" / "tasks" / "sync_guard.yml").read_text())
        for t in guard:
            t.pop("become", None)
            t["become_user"] = "postgres"
            t["become"] = True
            t["become_method"] = "su"
        (tmp_path / "play.yml").write_text(yaml.safe_dump([{
            "name": "guard", "hosts": "all", "gather_facts": False,
            "vars": {"postgresql_port": node.port, "postgresql_sync_standby_wait": 1},
            "environment": {"PGHOST": str(root), "PGPASSWORD": PASSWORD}, "tasks": guard}]))
        # the system Python: user postgres cannot run the test's own interpreter (under root's home)
        (tmp_path / "inv").write_text("db ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n")

        def run(pending: Any, check: bool) -> subprocess.CompletedProcess:
            extra = {"postgresql_sync_pending": pending}
            return subprocess.run([str(BIN / "ansible-playbook"), "-i", "inv", "play.yml", "-e", json.dumps(extra),
                                   *(["--check"] if check else [])],
                                  cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=300)

        refused = "synchronous_standby_names = 'FIRST 1 (lost)' but no synchronous"
        r = run(None, check=False)
        assert r.returncode != 0 and refused in r.stdout, r.stdout[-2000:]
        r = run(None, check=True)  # check mode alone does not change what the guard sees
        assert r.returncode != 0 and refused in r.stdout, r.stdout[-2000:]
        r = run({"list": "", "names": []}, check=True)
        assert r.returncode == 0, (r.stdout + r.stderr)[-2000:]
        r = run({"list": "FIRST 1 (other)", "names": ["other"]}, check=True)
        assert r.returncode != 0 and "synchronous_standby_names = 'FIRST 1 (other)' but no" in r.stdout
        r = run({"list": "", "names": []}, check=False)  # a run reads the list really in force
        assert r.returncode != 0 and refused in r.stdout, r.stdout[-2000:]
        # a cluster the guard cannot read is an error, never a pass as "no list" (only rc 2 failed: a shell that
        # could not even start, as this one did under the test's own Python, passed)
        node.stop()
        r = run(None, check=False)
        assert r.returncode != 0 and "failed=1" in r.stdout and "but no synchronous" not in r.stdout, r.stdout[-2000:]
    finally:
        node.stop()
        shutil.rmtree(root, ignore_errors=True)
