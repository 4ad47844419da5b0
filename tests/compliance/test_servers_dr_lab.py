"""`jinbao check servers` and `jinbao check dr` against real servers built by the project's playbooks.

The compliance lab's (`jbck`) servers are the lab's bare hosts with its own snmpd, not built by the roles, and
it has no replica: so these run on the DR lab (tests/disaster/drlab.py `built_lab`, `jbdr`, 100.126.239.0/24,
shared with the drills of tests/disaster/test_dr_lab.py, which run after these), whose two database servers
(100000-DC production, 100000-DR) get the baseline (with the replication plan's variables, as the
source-of-truth inventory gives them: the host firewall admits the replication peers) and the replicated
PostgreSQL (`jinbao dr build`). Then: every control passes; one control is broken on one
real host (PasswordAuthentication yes; the standby stopped) and exactly the matching controls fail there;
restored, everything passes again.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from checks.catalogue import default_catalogue
from lab import runtime
from tests.compliance.conftest import not_passing, requires_root
from tests.disaster import drlab

# the fixture (waiting for the lab lock, then ~10 min of builds under load) runs in the first test's budget
pytestmark = [pytest.mark.integration, requires_root, pytest.mark.timeout(7200)]
CAT = default_catalogue()
PRIMARY, REPLICA = "JB-100000-DC-DB01", "JB-100000-DR-DB01"
PAIR = drlab.lab_pairs("async")[0]


def node(hostname: str) -> str:
    return hostname.lower()


def sh(hostname: str, script: str) -> str:
    r = runtime.exec(drlab.LAB, node(hostname), ["sh", "-c", script], timeout=60)
    assert r.returncode == 0, f"{hostname}: {script}: {r.stderr or r.stdout}"
    return r.stdout.strip()


@pytest.fixture
def lab(dr_lab: dict[str, Path]) -> dict[str, Path]:
    return dr_lab  # tests/conftest.py: built once, these checks first, the drills of test_dr_lab.py after


def check(*args: str) -> tuple[int, list[dict[str, Any]], str]:
    if args[0] == "servers":
        args = (*args, "--group", "role_db")  # the servers this module builds
    r = drlab.jinbao("check", *args, "--lab", drlab.LAB, "--json")
    data = json.loads(r.stdout) if r.stdout.strip() else {"results": []}
    return r.returncode, data["results"], r.stderr


def expected(kind: str, hosts: tuple[str, ...]) -> set[tuple[str, str]]:
    return {(h, c.id) for h in hosts for c in CAT.of_kind(kind)}


def test_servers_every_control_passes_in_every_report_format(lab: dict[str, Path]) -> None:
    junit, html = lab["work"] / "servers.xml", lab["work"] / "servers.html"
    t0 = time.monotonic()
    rc, results, err = check("servers", "--junit", str(junit), "--html", str(html))
    print(f"check servers: {len(results)} results in {time.monotonic() - t0:.1f} s")
    assert {(r["node"], r["control"]) for r in results} == expected("testinfra", (PRIMARY, REPLICA)), err[-2000:]
    assert rc == 0 and not_passing(results) == set(), [r for r in results if r["status"] != "pass"]
    assert all(r["clause"] == CAT.control(r["control"]).clause for r in results)
    assert 'name="JB-SRV-SSH-KEYS-ONLY"' in junit.read_text() and "failures=\"0\"" in junit.read_text()
    assert "JB-SRV-PG-HBA-NO-TRUST" in html.read_text() and "PASS: every check passed" in html.read_text()


def test_password_authentication_on_one_server_fails_only_keys_only_there(lab: dict[str, Path]) -> None:
    fail = CAT.control("JB-SRV-SSH-KEYS-ONLY").scenarios.fail["sshd_config"]  # the catalogue's fail scenario
    assert fail == "PasswordAuthentication yes"
    sh(PRIMARY, f"sed -i 's/^PasswordAuthentication no$/{fail}/' /etc/ssh/sshd_config")
    try:
        assert fail in sh(PRIMARY, "cat /etc/ssh/sshd_config")
        rc, results, _ = check("servers")
        assert rc == 1
        assert not_passing(results) == {(PRIMARY, "JB-SRV-SSH-KEYS-ONLY")}
        bad = next(r for r in results if r["status"] != "pass")
        assert bad["status"] == "fail" and "passwordauthentication" in bad["evidence"], bad
    finally:
        sh(PRIMARY, f"sed -i 's/^{fail}$/PasswordAuthentication no/' /etc/ssh/sshd_config")
    rc, results, _ = check("servers", "--scope", "100000-DC")
    assert {r["node"] for r in results} == {PRIMARY}
    assert rc == 0 and not_passing(results) == set()


def wait_dr_passes(plan: Path, timeout: float = 90) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        rc, results, err = check("dr", "--plan", str(plan))
        if rc == 0:
            return results
        assert time.monotonic() < deadline, (err[-1000:], [r for r in results if r["status"] != "pass"])
        time.sleep(2)


def test_dr_every_control_passes(lab: dict[str, Path]) -> None:
    results = wait_dr_passes(lab["plan"])
    assert {(r["node"], r["control"]) for r in results} == expected("dr", (PRIMARY,))
    ev = {r["control"]: r["evidence"] for r in results}
    assert "streaming" in ev["JB-DR-REPLICA-STREAMING"] and REPLICA in ev["JB-DR-REPLICA-STREAMING"]
    assert "TLSv1." in ev["JB-DR-REPLICATION-TLS"]


def test_standby_stopped_fails_replication_controls_only(lab: dict[str, Path]) -> None:
    sh(REPLICA, f"pg_ctlcluster 15 {PAIR.slot} stop -m fast")
    try:
        rc, results, _ = check("dr", "--plan", str(lab["plan"]))
        assert rc == 1
        status = {r["control"]: r["status"] for r in results}
        # streaming and the RPO fail; TLS cannot be seen without a connection (error, never pass); the
        # primary's WAL archive is unaffected
        assert status == {"JB-DR-REPLICA-STREAMING": "fail", "JB-DR-LAG-WITHIN-RPO": "fail",
                          "JB-DR-REPLICATION-TLS": "error", "JB-DR-WAL-ARCHIVE-CURRENT": "pass"}, results
        assert all(r["node"] == PRIMARY for r in results)
    finally:
        sh(REPLICA, f"pg_ctlcluster 15 {PAIR.slot} start")
    wait_dr_passes(lab["plan"])
