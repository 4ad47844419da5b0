"""The lab's servers built by the playbooks over SSH, as real ones are; then idempotence and testinfra.

One lab for the module: `jbsv` (100.126.233.0/24), the 100000-DC servers (production DB, exchange EX,
decision DS) as bare hosts (sshd, Python, the deploy account) plus the management zone's NTP/syslog stand-in.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab import runtime
from lab.servers import MGMT_NODE, running_spec, servers_of, up, write_inventory
from tests.conftest import INVENTORY, ROOT
from tests.lab.conftest import lab_objects, leftovers, snapshot
from tests.lablock import lab_lock

LAB = "jbsv"
MGMT_NET = "100.126.233.0/24"
SITES = ("100000-DC",)
VAULT = ROOT / "inventory" / "vault-password.LAB-ONLY"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (namespaces, mounts)"),
]


def build(*args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    r = subprocess.run([sys.executable, "-m", "jinbao.cli", "servers", "build", "--lab", LAB, "--json", *args],
                       capture_output=True, text=True, cwd=ROOT, timeout=1500)
    try:
        return r, json.loads(r.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"no JSON from servers build (rc {r.returncode}):\n{r.stderr[-3000:]}") from None


def run_testinfra(inventory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ANSIBLE_VAULT_PASSWORD_FILE": str(VAULT), "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
           "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--no-header", "-o", "addopts=",
         "--hosts=ansible://servers", f"--ansible-inventory={inventory}", "--sudo", "checks/testinfra", *args],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=900)


def node(hostname: str) -> str:
    return hostname.lower()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with lab_lock():
        runtime.down(LAB)
        before = snapshot()
        try:
            up(INVENTORY, "minimal", LAB, MGMT_NET, SITES)
            yield write_inventory(running_spec(LAB), tmp_path_factory.mktemp("inventory"))
        finally:
            recorded = lab_objects(LAB)
            runtime.down(LAB)
        assert leftovers(LAB, before, recorded) == {}


@pytest.fixture(scope="module")
def first_build(lab: Path) -> dict[str, Any]:
    r, result = build()
    assert r.returncode == 0 and result["ok"], (result.get("recap"), r.stderr[-3000:])
    return result


def test_first_build_configures_every_server(first_build: dict[str, Any], lab: Path) -> None:
    hosts = {n.hostname for n in servers_of(running_spec(LAB))}
    assert set(first_build["recap"]) == hosts
    assert all(c["changed"] > 10 and c["failed"] == 0 for c in first_build["recap"].values())
    print(f"first build: {first_build['seconds']} s over {len(hosts)} servers")


def test_second_run_changes_nothing(first_build: dict[str, Any]) -> None:
    r, result = build()
    assert r.returncode == 0, r.stderr[-2000:]
    assert {h: c["changed"] for h, c in result["recap"].items()} == dict.fromkeys(first_build["recap"], 0)
    print(f"second run: {result['seconds']} s over {len(result['recap'])} servers")


def test_check_mode_reports_no_change(first_build: dict[str, Any]) -> None:
    r, result = build("--check")
    assert r.returncode == 0 and result["changed"] == 0, (result["recap"], r.stderr[-2000:])


def test_testinfra_suite_passes(first_build: dict[str, Any], lab: Path) -> None:
    r = run_testinfra(lab)
    assert r.returncode == 0, r.stdout[-4000:]
    assert " passed" in r.stdout and " failed" not in r.stdout


def test_root_login_refused_deploy_account_works(first_build: dict[str, Any]) -> None:
    spec = running_spec(LAB)
    ip = servers_of(spec)[0].mgmt_ip.split("/")[0]
    base = ["ssh", "-i", runtime.ssh_key(LAB), "-o", f"UserKnownHostsFile={runtime.known_hosts(LAB)}",
            "-o", "BatchMode=yes", "-o", "ConnectTimeout=5"]
    assert subprocess.run([*base, f"root@{ip}", "true"], capture_output=True, timeout=30).returncode != 0
    assert subprocess.run([*base, f"jbadmin@{ip}", "true"], capture_output=True, timeout=30).returncode == 0


def test_logs_reach_the_management_zone(first_build: dict[str, Any]) -> None:
    host = servers_of(running_spec(LAB))[0].hostname
    marker = f"jinbao-test-{time.time_ns()}"
    runtime.exec(LAB, node(host), ["logger", "-t", "jbtest", marker], check=True)
    deadline = time.monotonic() + 30
    while marker not in runtime.exec(LAB, MGMT_NODE, ["sh", "-c", "cat /var/log/remote/*.log"]).stdout:
        assert time.monotonic() < deadline, f"{marker} from {host} never reached the log server"
        time.sleep(0.5)


def test_postgresql_tls_from_the_network(first_build: dict[str, Any]) -> None:
    """A client on an allowed network gets TLS with a certificate the project CA vouches for."""
    spec = running_spec(LAB)
    db = next(n for n in servers_of(spec) if n.role == "DB")
    ip = db.mgmt_ip.split("/")[0]
    ca = runtime.exec(LAB, node(db.hostname), ["cat", "/etc/postgresql/tls/ca.crt"], check=True).stdout
    ca_file = Path(runtime.ssh_key(LAB)).parent / "test-ca.crt"
    ca_file.write_text(ca)
    r = subprocess.run(["openssl", "s_client", "-starttls", "postgres", "-connect", f"{ip}:5432", "-CAfile",
                        str(ca_file), "-verify_return_error", "-brief"], input="", capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0 and "Verification: OK" in r.stderr, r.stderr[-1500:]


def test_testinfra_catches_planted_deviation_and_build_repairs_it(first_build: dict[str, Any], lab: Path) -> None:
    host = servers_of(running_spec(LAB))[0].hostname
    runtime.exec(LAB, node(host), ["sed", "-i", "s/^PermitRootLogin no$/PermitRootLogin yes/",
                                   "/etc/ssh/sshd_config"], check=True)
    r = run_testinfra(lab, "-k", "sshd")
    assert r.returncode != 0
    assert "test_sshd_no_root_login" in r.stdout and host in r.stdout, r.stdout[-3000:]
    # the build puts it back (and only that), after which the suite passes again
    r2, result = build("--playbook", "servers")
    assert r2.returncode == 0 and result["recap"][host]["changed"] >= 1, r2.stderr[-2000:]
    assert run_testinfra(lab, "-k", "sshd").returncode == 0


def changed_tasks(artifacts: Path, host: str) -> set[str]:
    """Names of the tasks and handlers that reported a change on `host`, from ansible-runner's events."""
    names = set()
    for f in artifacts.rglob("job_events/*.json"):
        ev = json.loads(f.read_text())
        data = ev.get("event_data", {})
        if ev.get("event") == "runner_on_ok" and data.get("host") == host and (data.get("res") or {}).get("changed"):
            names.add(data.get("task", "").split(" : ", 1)[-1])  # without a "role : " prefix, if any
    return names


def test_build_repairs_drift_its_skips_could_miss(first_build: dict[str, Any], lab: Path, tmp_path: Path) -> None:
    """A skip judged wrong would still report changed=0: plant drift each pre-check must see (mode only, group
    only, one login.defs key, pg_hba.conf, a database's owner, a service stopped, a service disabled at boot),
    then each task must run, change and repair it."""
    from jinbao.provision import run_playbook

    db = next(n for n in servers_of(running_spec(LAB)) if n.role == "DB")
    host, name = db.hostname, node(db.hostname)

    def sh(cmd: str) -> str:
        return runtime.exec(LAB, name, ["sh", "-c", cmd], check=True).stdout.strip()

    def sql(query: str) -> str:
        return sh(f"runuser -u postgres -- psql -XAtc \"{query}\"")

    hba = sql("SHOW hba_file")
    hba_before = sh(f"cat {hba}")
    owner = sql("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'jb_business'")
    assert owner == "jb_business_owner"
    sh("chmod 0644 /etc/ssh/sshd_config")
    sh("chgrp root /etc/snmp/snmpd.conf")
    sh("sed -i 's/^PASS_MAX_DAYS\t90$/PASS_MAX_DAYS\t99999/' /etc/login.defs")
    assert sh("grep -c '^PASS_MAX_DAYS\t99999$' /etc/login.defs") == "1"
    sh(f"echo 'host all all 192.0.2.0/24 scram-sha-256' >> {hba}")
    sql("ALTER DATABASE jb_business OWNER TO postgres")
    sh("service chrony stop")  # the one service read must see it stopped ...
    sh("update-rc.d rsyslog disable")  # ... and this one not enabled at boot (no S??rsyslog link)
    assert sh("ls /etc/rc?.d/ | grep -c '^S..rsyslog$' || true") == "0"
    loaded = sql("SELECT pg_conf_load_time()")

    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    result = run_playbook("site", lab, limit=host, vault_password_file=VAULT, artifacts=artifacts)
    assert result.ok, result.recap
    changed = changed_tasks(artifacts, host)
    # the snmpd.conf task is no_log: its event hides "changed", its handler (notified on a change only) shows it
    for task in ("Write sshd_config", "Reload sshd", "Restart snmpd", "Password ageing for new accounts",
                 "Client authentication (pg_hba.conf", "Reload postgresql", "Databases",
                 "Keep chrony running and enabled", "Keep rsyslog running and enabled"):
        assert any(t.startswith(task) for t in changed), (task, sorted(changed))
    assert result.recap[host]["changed"] >= 10, result.recap  # the nine above and the snmpd.conf task
    assert sh("stat -c '%a %U %G' /etc/ssh/sshd_config") == "600 root root"
    assert sh("stat -c '%a %U %G' /etc/snmp/snmpd.conf") == "640 root Debian-snmp"
    assert sh("grep -c '^PASS_MAX_DAYS\t90$' /etc/login.defs") == "1"
    assert runtime.exec(LAB, name, ["service", "chrony", "status"]).returncode == 0
    assert sh("ls /etc/rc?.d/ | grep -c '^S..rsyslog$'") != "0"
    assert sh(f"cat {hba}") == hba_before
    assert sql("SELECT count(*) FROM pg_hba_file_rules WHERE address = '192.0.2.0'") == "0"
    assert sql(f"SELECT pg_conf_load_time() > '{loaded}'") == "t"  # the reload handler ran
    assert sql("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'jb_business'") == owner
