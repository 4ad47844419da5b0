"""The roles' "what is in place" checks: a file task is skipped when the file already holds what the task would
write (tasks/state.yml reads every file once). Such a skip is only safe if the check describes exactly what the
task writes - the same path, template or content, mode, owner and group - so, without a lab:

- each checked task's condition names its own path, source and attributes (they can drift apart in an edit);
- what the condition expects (the template rendered by the lookup, the content, hashed) is byte for byte what
  the template/copy module writes, for every checked task of both roles (run by Ansible on this machine);
- the password check of the app-role read refuses what it cannot judge.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

ROLES = ("baseline", "postgresql")
FILE_MODULES = ("ansible.builtin.template", "ansible.builtin.copy", "ansible.builtin.file")
ATTRS = re.compile(r"(?:~\s*)?' (\d{4}) (\S+) (\S+)'\s*$")  # " mode owner group", after the hash if any


def checked_tasks() -> list[tuple[str, dict[str, Any]]]:
    """(role, task) for every file task of the roles whose condition consults the role's read of its files."""
    found = []
    for role in ROLES:
        for f in sorted((ROOT / "roles" / role / "tasks").glob("*.yml")):
            for task in yaml.safe_load(f.read_text()) or []:
                module = next((m for m in FILE_MODULES if m in task), None)
                if module and f"{role}_files_now[" in str(task.get("when", "")):
                    found.append((role, task))
    return found


def expr(value: str) -> str:
    """A task argument ("/etc/pam.d/{{ item }}") as the Jinja expression the condition uses ('/etc/pam.d/' ~ item)."""
    parts = [p for p in re.split(r"(\{\{.*?\}\})", value) if p]
    return " ~ ".join(p[2:-2].strip() if p.startswith("{{") else repr(p) for p in parts)


def flat(s: str) -> str:
    return " ".join(s.split())


def test_there_are_checked_file_tasks() -> None:
    by_role = {role: sum(1 for r, _ in checked_tasks() if r == role) for role in ROLES}
    assert by_role["baseline"] >= 18 and by_role["postgresql"] >= 7, by_role


@pytest.mark.parametrize(("role", "task"), checked_tasks(), ids=lambda x: x if isinstance(x, str) else x["name"])
def test_condition_describes_what_the_task_writes(role: str, task: dict[str, Any]) -> None:
    module = next(m for m in FILE_MODULES if m in task)
    args, when = task[module], flat(str(task["when"]))
    path = args.get("dest", args.get("path"))
    assert f"{role}_files_now[{expr(path)}]" in when, (path, when)
    attrs = ATTRS.search(when)
    assert attrs is not None, when
    assert attrs.groups() == (args["mode"], args["owner"], args["group"]), (args, when)
    if module == "ansible.builtin.template":
        assert f"lookup('ansible.builtin.template', {expr(args['src'])})" in when, when
    elif module == "ansible.builtin.copy" and "content" in args:
        assert f"({expr(args['content'])} | hash('sha1'))" in when, when
    elif module == "ansible.builtin.copy":
        assert f"lookup('ansible.builtin.file', {expr(args['src'])}, rstrip=false)" in when, when
    else:  # a directory: mode, owner and group only
        assert args["state"] == "directory" and re.search(r"!= ' \d{4} \S+ \S+'$", when), when
    if module != "ansible.builtin.file":
        assert re.search(r"\| hash\('sha1'\)\) ~ ' \d{4}", when), when


def test_expected_content_is_what_the_modules_write(tmp_path: Path) -> None:
    """Each checked template/copy task, pointed at a scratch directory, must write exactly the bytes whose hash
    its condition expects: the task's own `register` is checked by its `failed_when`."""
    out = tmp_path / "out"
    out.mkdir()
    roles = tmp_path / "roles"
    n = 0
    for role in ROLES:
        tasks = []
        for r, task in checked_tasks():
            module = next(m for m in FILE_MODULES if m in task)
            if r != role or module == "ansible.builtin.file" or "postgresql_cert" in str(task):
                continue  # directories have no content; the certificate is the CA's answer of the moment
            want = re.sub(r"^.*?!=\s*", "", ATTRS.sub("", flat(str(task["when"]))))
            args = {k: v for k, v in task[module].items() if k not in ("owner", "group", "validate")}
            n += 1
            args["dest"] = f"{out}/{n}-{{{{ item | default('') | basename }}}}"
            tasks.append({"name": task["name"], module: args, "register": "check", "no_log": False,
                          "failed_when": f"check.checksum != ({want})",
                          **{k: task[k] for k in ("loop", "vars") if k in task}})
        d = roles / f"{role}_check"
        (d / "tasks").mkdir(parents=True)
        (d / "tasks" / "main.yml").write_text(yaml.safe_dump(tasks))
        for sub in ("templates", "defaults", "filter_plugins"):
            if (ROOT / "roles" / role / sub).exists():
                (d / sub).symlink_to(ROOT / "roles" / role / sub)
    ca = tmp_path / "pki"
    ca.mkdir()
    (ca / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\nnot a real one, only its bytes count\n"
                               "-----END CERTIFICATE-----\n")
    site = {  # what the lab's inventory gives: every template has something to render
        "baseline_chrony_servers": ["100.126.233.2"], "baseline_rsyslog_targets": ["100.126.233.2"],
        "baseline_snmpd_users": [{"name": "audit", "auth_proto": "SHA-512", "auth_pass": "LAB-ONLY-auth",
                                  "priv_proto": "AES", "priv_pass": "LAB-ONLY-priv"}],
        "baseline_nftables_input_rules": [{"name": "ssh", "proto": "tcp", "ports": [22],
                                           "sources": ["100.126.233.0/24"]}],
        "baseline_auditd_found": {"files": [{"path": "/usr/bin/passwd", "mode": "4755"}]},
        "postgresql_ca_dir": str(ca), "postgresql_hba_client_nets": ["100.100.0.0/24"],
        "postgresql_listen_addresses": ["localhost", "100.100.0.5"],
        "postgresql_hba_entries": [{"type": "hostssl", "database": "replication", "user": "jb_replicator",
                                    "address": "100.101.0.5/32", "method": "scram-sha-256"}],
    }
    play = [{"name": "checks", "hosts": "localhost", "gather_facts": False, "vars": site,
             "roles": [f"{role}_check" for role in ROLES]}]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play))
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_STDOUT_CALLBACK": "json",
           "ANSIBLE_ROLES_PATH": str(roles)}
    r = subprocess.run([str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,", "-c", "local",
                        "-e", "ansible_python_interpreter=" + sys.executable, "-e", "ansible_become=false",
                        str(tmp_path / "play.yml")], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
    assert r.returncode == 0, (r.stdout[-6000:], r.stderr[-2000:])
    stats = json.loads(r.stdout)["stats"]["localhost"]
    written = list(out.iterdir())
    assert stats["failures"] == 0 and len(written) >= n and n >= 20, (stats, n, written)


def test_role_check_refuses_what_it_cannot_judge() -> None:
    sys.path.insert(0, str(ROOT / "roles" / "postgresql" / "filter_plugins"))
    try:
        from postgresql_roles import postgresql_role_in_place, scram_matches
    finally:
        sys.path.pop(0)
    # PostgreSQL's verifier of "LAB-ONLY-secret" (salt and iterations as the server chose them)
    verifier = ("SCRAM-SHA-256$4096:c2FsdHNhbHRzYWx0c2FsdA==$"
                + _scram_keys("LAB-ONLY-secret", b"saltsaltsaltsalt", 4096))
    row = {"rolname": "app", "rolcanlogin": True, "rolsuper": False, "rolcreatedb": False, "rolcreaterole": False,
           "rolreplication": False, "rolpassword": verifier}
    flags = "LOGIN,NOSUPERUSER,NOCREATEDB,NOCREATEROLE,NOREPLICATION"
    assert postgresql_role_in_place([row], "app", flags, "LAB-ONLY-secret")
    assert not postgresql_role_in_place([row], "app", flags, "LAB-ONLY-other")
    assert not postgresql_role_in_place([row], "other", flags, "LAB-ONLY-secret")
    assert not postgresql_role_in_place([{**row, "rolsuper": True}], "app", flags, "LAB-ONLY-secret")
    assert not postgresql_role_in_place([row], "app", flags + ",NOBYPASSRLS", "LAB-ONLY-secret")  # not read
    assert not postgresql_role_in_place([row], "app", "LOGIN,SOMETHINGNEW", "LAB-ONLY-secret")
    assert not scram_matches(verifier, "LAB-ONLY-sécret")  # SASLprep could change it: the module decides
    assert not scram_matches("md5" + "0" * 32, "LAB-ONLY-secret")
    assert not postgresql_role_in_place({}, "app", flags)  # the module's answer when no row matched


def _scram_keys(password: str, salt: bytes, iterations: int) -> str:
    import base64
    import hashlib
    import hmac

    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    server = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    return f"{base64.b64encode(hashlib.sha256(client).digest()).decode()}:{base64.b64encode(server).decode()}"
