"""The postgresql role's databases, schemas, roles and grants against a real PostgreSQL 15 - no lab needed.

A throwaway cluster (unix socket in a temporary directory, no TCP) and the role's own tasks
(`tasks_from: databases`, the exchange zone's objects from inventory/group_vars/zone_exchange.yml): the first
run creates everything, the second changes nothing and skips every per-item module run (one read of the roles
and databases, one read-only query per database say all is in place), and a grant taken away, a password and
a role attribute changed by hand are put back.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.disaster.pgpair import BIN, _as_postgres

PORT = 55432  # only the name of the socket file: the cluster listens on no TCP port
pytestmark = pytest.mark.skipif(not (BIN / "initdb").exists() or os.geteuid() != 0,
                                reason="needs PostgreSQL 15 and root (to run the cluster as postgres)")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="jinbao-pgobjects-"))  # pytest's tmp dirs are root's alone (0700)
    shutil.chown(root, "postgres", "postgres")
    data, sock = root / "data", root / "sock"
    sock.mkdir(mode=0o700)  # trust on the socket: only root and postgres can reach this directory
    shutil.chown(sock, "postgres", "postgres")
    _as_postgres(str(BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth-local=trust", "-E", "UTF8",
                 "--locale=C.UTF-8")
    _as_postgres(str(BIN / "pg_ctl"), "-D", str(data), "-w", "-l", str(root / "log"), "start", "-o",
                 f"-c listen_addresses='' -c unix_socket_directories={sock} -p {PORT}")
    try:
        yield sock
    finally:
        _as_postgres(str(BIN / "pg_ctl"), "-D", str(data), "-w", "-m", "immediate", "stop", check=False)
        shutil.rmtree(root, ignore_errors=True)


def run(sock: Path, tmp: Path) -> dict[str, int]:
    """The role's database tasks on this machine (connection local); the play's counters."""
    zone = yaml.safe_load((ROOT / "inventory" / "group_vars" / "zone_exchange.yml").read_text())
    for role in zone["postgresql_app_roles"]:
        role["password"] = f"LAB-ONLY-{role['name']}"  # throwaway cluster; the real ones come from the vault
    play = [{"name": "objects", "hosts": "localhost", "gather_facts": False,
             "module_defaults": {"group/community.postgresql.all": {"login_unix_socket": str(sock),
                                                                    "login_port": PORT}},
             "vars": {"postgresql_databases": zone["postgresql_databases"],
                      "postgresql_app_roles": zone["postgresql_app_roles"]},
             "tasks": [{"name": "Role tasks", "ansible.builtin.include_role": {
                 "name": "postgresql", "tasks_from": "databases"}}]}]
    (tmp / "play.yml").write_text(yaml.safe_dump(play))
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_STDOUT_CALLBACK": "json",
           "ANSIBLE_ROLES_PATH": str(ROOT / "roles")}
    r = subprocess.run([str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,", "-c", "local",
                        # the modules run as root and log in as postgres over the private socket (the
                        # tasks' become to postgres is for real servers; the variable outranks the keyword)
                        "-e", "ansible_python_interpreter=" + sys.executable, "-e", "ansible_become=false",
                        str(tmp / "play.yml")],
                       capture_output=True, text=True, cwd=tmp, env=env, timeout=600)
    assert r.returncode == 0, (r.stdout[-6000:], r.stderr[-2000:])
    out = json.loads(r.stdout)
    stats = out["stats"]["localhost"]
    ran = sum(1 for play in out["plays"] for task in play["tasks"]
              for res in [task["hosts"].get("localhost", {})]
              for item in (res.get("results") or [res]) if not item.get("skipped"))
    return {"changed": stats["changed"], "ok": stats["ok"], "skipped": stats["skipped"], "module_runs": ran}


def psql(sock: Path, db: str, sql: str) -> str:
    return _as_postgres(str(BIN / "psql"), "-h", str(sock), "-p", str(PORT), "-d", db, "-XAtc", sql).stdout.strip()


def test_objects_created_then_nothing_to_do_then_repaired(cluster: Path, tmp_path: Path) -> None:
    first = run(cluster, tmp_path)
    assert first["changed"] > 5
    assert psql(cluster, "jb_exchange", "SELECT count(*) FROM pg_namespace WHERE nspname IN "
                "('si_transfer', 'fund_supervision')") == "2"
    second = run(cluster, tmp_path)
    assert second["changed"] == 0
    assert second["module_runs"] <= first["module_runs"] - 20, (first, second)
    # ok: the include, two reads (roles and databases; the database's schemas and grants) and the set_fact; every
    # other task is skipped - no module run per role (passwords included), database, schema or grant. (Counted
    # by task: the role tasks' items are no_log, which hides whether an item was skipped.)
    assert (second["ok"], second["skipped"]) == (4, 8), (first, second)
    psql(cluster, "jb_exchange", "REVOKE USAGE ON SCHEMA si_transfer FROM ex_si_transfer")
    psql(cluster, "jb_exchange", "ALTER DEFAULT PRIVILEGES FOR ROLE jb_exchange_owner IN SCHEMA fund_supervision "
         "REVOKE SELECT ON TABLES FROM ex_fund_supervision")
    # a password and attributes changed by hand are put back too (the read sees them, the module runs)
    psql(cluster, "postgres", "ALTER ROLE ex_job_matching PASSWORD 'changed-by-hand'")
    psql(cluster, "postgres", "ALTER ROLE jb_exchange_owner CREATEDB")
    verifier = "SELECT rolpassword FROM pg_authid WHERE rolname = 'ex_job_matching'"
    changed_by_hand = psql(cluster, "postgres", verifier)
    third = run(cluster, tmp_path)
    assert third["changed"] == 4
    assert psql(cluster, "jb_exchange", "SELECT has_schema_privilege('ex_si_transfer', 'si_transfer', 'USAGE')") == "t"
    assert psql(cluster, "postgres", "SELECT rolcreatedb FROM pg_roles WHERE rolname = 'jb_exchange_owner'") == "f"
    assert psql(cluster, "postgres", verifier) not in ("", changed_by_hand)
    assert run(cluster, tmp_path)["changed"] == 0
