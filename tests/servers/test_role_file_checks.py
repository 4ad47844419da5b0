"""The roles' "what is in place" checks: a file task is skipped when the file already holds what the task would
write (tasks/state.yml reads every file once). Such a skip is only safe if the check describes exactly what the
task writes - the same path, template or content, mode, owner and group - so, without a lab:

- each checked task's condition names its own path, source and attributes (they can drift apart in an edit);
- what the condition expects (the template rendered by the lookup, the content, hashed) is byte for byte what
  the template/copy module writes, for every checked task of both roles (run by Ansible on this machine);
- every path a condition looks up is one tasks/state.yml reads, in the normal form find returns, even when the
  role's path variables are written with a trailing slash or "//" (otherwise the skip never happens, or worse);
- the login.defs check predicts exactly what lineinfile does, on sample files (run by Ansible);
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
                if module and f"({role}_files_now | default({{}}))[" in str(task.get("when", "")):
                    found.append((role, task))
    return found


def expr(value: str) -> str:
    """A task argument ("/etc/pam.d/{{ item }}") as the Jinja expression the condition uses ('/etc/pam.d/' ~ item)."""
    parts = [p for p in re.split(r"(\{\{.*?\}\})", value) if p]
    return " ~ ".join(p[2:-2].strip() if p.startswith("{{") else repr(p) for p in parts)


def flat(s: str) -> str:
    return " ".join(s.split())


def clean_literal(path: str, loop: Any) -> bool:
    """A path fixed in the task (or `{{ item }}` over a fixed list) and already in normal form."""
    paths = [path.replace("{{ item }}", str(i)) for i in loop] if isinstance(loop, list) else [path]
    return all("{{" not in p and os.path.normpath(p) == p for p in paths)


# The roles' path variables written as an inventory might (trailing slash, "//"): the lookups must still hit.
UNCLEAN = {"postgresql_tls_dir": "/etc/postgresql//tls/", "postgresql_conf_dir": "/etc/postgresql/15/main/",
           "postgresql_archive_dir": "/var/lib/postgresql/15//wal_archive/",
           "postgresql_backup_dir": "/var/lib/postgresql/15/base_backups/"}
# a lookup "(x_files_now | default({}))[KEY] | default('')", or a membership test "((KEY) | normpath) in x_files_now"
KEY = re.compile(r"_files_now \| default\(\{\}\)\)\[(.+?)\] \| default\(''\)"
                 r"|\((\(.+?\) \| normpath)\) in \w+_files_now")


def jinja() -> Any:
    import jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.filters["normpath"] = os.path.normpath
    return env


def state_paths(role: str) -> set[str]:
    """What tasks/state.yml's find returns for the files that exist: its list of paths, as find joins them."""
    state = yaml.safe_load((ROOT / "roles" / role / "tasks" / "state.yml").read_text())
    find = next(t for t in state if "ansible.builtin.find" in t)
    assert not find["ansible.builtin.find"].get("recurse"), "exact parent directories, no recursion"
    listed = find["vars"][f"{role}_managed_paths" if role == "postgresql" else f"{role}_managed_files"]
    if isinstance(listed, str):
        listed = jinja().compile_expression(listed.strip().removeprefix("{{").removesuffix("}}"))(**UNCLEAN)
    # find searches dirname(p) for basename(p) and joins the two, in normal form
    return {os.path.normpath(os.path.join(os.path.dirname(p), os.path.basename(p))) for p in listed}


def test_every_lookup_is_a_path_the_read_returns() -> None:
    env, n = jinja(), 0
    for role in ROLES:
        read = state_paths(role)
        for f in sorted((ROOT / "roles" / role / "tasks").glob("*.yml")):
            for task in yaml.safe_load(f.read_text()) or []:
                when = flat(str(task.get("when", "")))
                loop = task.get("loop") or [None]
                for m in KEY.finditer(when):
                    for item in loop:
                        item = env.from_string(item).render(**UNCLEAN) if isinstance(item, str) else item
                        key = env.compile_expression(m.group(1) or m.group(2))(**UNCLEAN, item=item)
                        assert key in read, (f.name, task["name"], key, sorted(read))
                        n += 1
                assert f"{role}_files_now[" not in when.replace(f"({role}_files_now | default({{}}))[", ""), \
                    (f.name, task["name"], "look up through | default({}): the read may not have run")
    assert n >= 27, n


def test_there_are_checked_file_tasks() -> None:
    by_role = {role: sum(1 for r, _ in checked_tasks() if r == role) for role in ROLES}
    assert by_role["baseline"] >= 18 and by_role["postgresql"] >= 7, by_role


@pytest.mark.parametrize(("role", "task"), checked_tasks(), ids=lambda x: x if isinstance(x, str) else x["name"])
def test_condition_describes_what_the_task_writes(role: str, task: dict[str, Any]) -> None:
    module = next(m for m in FILE_MODULES if m in task)
    args, when = task[module], flat(str(task["when"]))
    path = args.get("dest", args.get("path"))
    keys = {f"{expr(path)} | normpath", f"({expr(path)}) | normpath"}
    if clean_literal(path, task.get("loop")):
        keys.add(expr(path))  # a fixed path written in normal form needs no normpath
    assert any(f"({role}_files_now | default({{}}))[{k}]" in when for k in keys), (path, when)
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


STOCK_LOGIN_DEFS = (Path(__file__).parent / "fixtures" / "login.defs.debian12").read_text()  # Debian 12's, as shipped
KEYS = {"PASS_MAX_DAYS", "PASS_MIN_DAYS", "PASS_WARN_AGE", "UMASK", "ENCRYPT_METHOD"}
SET = "PASS_MAX_DAYS\t90\nPASS_MIN_DAYS\t1\nPASS_WARN_AGE\t7\nUMASK\t027\nENCRYPT_METHOD\tYESCRYPT\n"
# name -> (content, the keys lineinfile changes). Each sample tries one case per key (few samples: each costs
# six module runs).
LOGIN_DEFS: dict[str, tuple[str, set[str]]] = {
    "stock": (STOCK_LOGIN_DEFS, KEYS - {"PASS_WARN_AGE"}),  # Debian's PASS_WARN_AGE is already 7
    "set": ("#PASS_MAX_DAYS\t1\n# UMASK 022\n" + SET + SET + "PASS_MAX_DAYS_X 5\nUMASKED 1\nXUMASK 1\nUMASK", set()),
    "edge-1": (SET.replace("PASS_MAX_DAYS\t90\n", "PASS_MAX_DAYS\t90\r\n")  # CRLF
               .replace("UMASK\t027", "UMASK 027")  # a space, not a tab
               .replace("PASS_WARN_AGE\t7", "  PASS_WARN_AGE\t7")  # indented
               + "#PASS_MIN_DAYS\t1\n"  # a commented duplicate after the wanted line
               + "ENCRYPT_METHOD\tYESCRYPT", KEYS),  # the wanted line but no final newline
    "edge-2": (SET.replace("PASS_MAX_DAYS\t90", "PASS_MAX_DAYS\t90 ")  # trailing space
               + "# PASS_WARN_AGE\t7\n#\tUMASK\n",  # commented duplicates, one with no value
               {"PASS_MAX_DAYS", "PASS_WARN_AGE", "UMASK"}),
    "empty": ("", KEYS),
}


def test_login_defs_check_predicts_lineinfile(tmp_path: Path) -> None:
    """The role's task (its regexp, line, loop and condition) on each sample: the condition must say "run" for
    exactly the keys lineinfile (check mode) changes. Run by Ansible on this machine."""
    pam = yaml.safe_load((ROOT / "roles" / "baseline" / "tasks" / "pam.yml").read_text())
    task = next(t for t in pam if "ansible.builtin.lineinfile" in t)
    defaults = yaml.safe_load((ROOT / "roles" / "baseline" / "defaults" / "main.yml").read_text())
    tasks = []
    for name, (content, _) in LOGIN_DEFS.items():
        path = tmp_path / name
        path.write_bytes(content.encode())
        tasks += [
            {"name": f"{name}: read", "ansible.builtin.slurp": {"src": str(path)}, "register": "baseline_login_defs"},
            # the condition as the role evaluates it: a `when` (in a template, Jinja keeps "\\n" as is)
            {"name": f"{name}: predict", "ansible.builtin.set_fact": {
                "predicted": "{{ (predicted | default({})) | combine({item.key: true}) }}"},
             "loop": task["loop"], "when": task["when"]},
            {"name": f"{name}: lineinfile", "ansible.builtin.lineinfile": {**task["ansible.builtin.lineinfile"],
                                                                          "path": str(path)},
             "loop": task["loop"], "check_mode": True, "register": "actual"},
            {"name": f"{name}: record", "ansible.builtin.copy": {
                "dest": str(tmp_path / f"{name}.json"),
                "content": "{{ {'predicted': predicted | default({}),"
                           " 'changed': dict(actual.results | map(attribute='item.key')"
                           " | zip(actual.results | map(attribute='changed')))} | to_json }}"}},
            {"name": f"{name}: forget", "ansible.builtin.set_fact": {"predicted": {}}},
        ]
    play = [{"name": "login.defs", "hosts": "localhost", "gather_facts": False,
             "vars": {k: v for k, v in defaults.items() if k.startswith("baseline_pass_")}, "tasks": tasks}]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play))
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_STDOUT_CALLBACK": "json"}
    r = subprocess.run([str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,", "-c", "local",
                        "-e", "ansible_python_interpreter=" + sys.executable, "-e", "ansible_become=false",
                        str(tmp_path / "play.yml")], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
    assert r.returncode == 0, (r.stdout[-6000:], r.stderr[-2000:])
    for name, (content, expected) in LOGIN_DEFS.items():
        got = json.loads((tmp_path / f"{name}.json").read_text())
        changed = {k for k, v in got["changed"].items() if v}
        assert set(got["changed"]) == KEYS, (name, got)
        assert set(got["predicted"]) == changed == expected, (name, got)
        assert (tmp_path / name).read_bytes() == content.encode(), name  # check mode wrote nothing


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


def test_role_check_takes_passwords_as_the_module_does() -> None:
    """Not only strings: YAML gives numbers, the vault its own text type; a malformed verifier is no error."""
    sys.path.insert(0, str(ROOT / "roles" / "postgresql" / "filter_plugins"))
    try:
        from postgresql_roles import postgresql_role_in_place, scram_matches
    finally:
        sys.path.pop(0)

    class Vaulted:  # what an inline-vaulted value is on ansible-core 2.17/2.18: an object whose str() is the text
        def __str__(self) -> str:
            return "1234"

    salt = "c2FsdHNhbHRzYWx0c2FsdA=="
    verifier = f"SCRAM-SHA-256$4096:{salt}$" + _scram_keys("1234", b"saltsaltsaltsalt", 4096)
    row = {"rolname": "app", "rolcanlogin": True, "rolpassword": verifier}
    assert postgresql_role_in_place([row], "app", "LOGIN", 1234)
    assert postgresql_role_in_place([row], "app", "LOGIN", Vaulted())
    assert not postgresql_role_in_place([row], "app", "LOGIN", 12345)
    assert postgresql_role_in_place([row], "app", "LOGIN", None)  # password not managed
    stored_key, server_key = verifier.rsplit("$", 1)[1].split(":")
    for bad in (f"SCRAM-SHA-256$4096:{salt[:-3]}$" + f"{stored_key}:{server_key}",  # base64 cut short
                f"SCRAM-SHA-256$4096:{salt}$" + f"{stored_key}:{server_key[:-2]}",
                f"SCRAM-SHA-256$0:{salt}$" + f"{stored_key}:{server_key}",  # no iterations
                f"SCRAM-SHA-256$999999999999:{salt}$" + f"{stored_key}:{server_key}"):  # not computed here
        assert not scram_matches(bad, "1234"), bad
        assert not postgresql_role_in_place([{**row, "rolpassword": bad}], "app", "LOGIN", 1234), bad
