"""A real 3-node lab: two FRR routers on a veth link, a server on a LAN segment (no mocks)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time
from typing import Any

import pytest

from lab import base, names, runtime
from tests.lab.conftest import SNMP, lab_objects, leftovers, requires_root, snapshot, three_node_spec

pytestmark = [pytest.mark.integration, requires_root]

LAB = "jbt1"
SPEC = three_node_spec(LAB, 251)
HOST = "100.126.251.1"
MGMT = {"r1": "100.126.251.11", "r2": "100.126.251.12", "srv1": "100.126.251.21"}


@pytest.fixture(scope="module")
def lab(lab_tests_lock: None) -> Any:
    runtime.down(LAB)  # whatever an aborted earlier run left behind
    before = snapshot()
    t0 = time.monotonic()
    info = runtime.up(SPEC, progress=print)
    print(f"3-node up took {time.monotonic() - t0:.2f}s")
    yield {"info": info, "before": before}
    runtime.down(LAB)


def ex(node: str, *argv: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return runtime.exec(LAB, node, list(argv), **kw)


def ssh(lab: Any, ip: str, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = [
        "ssh", "-i", lab["info"]["ssh_key"], "-o", f"UserKnownHostsFile={lab['info']['known_hosts']}",
        "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
        "-o", "GlobalKnownHostsFile=/dev/null", *extra,
    ]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=30)


def snmpget(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MIBS": ""}
    return subprocess.run(
        ["snmpget", "-On", "-Oqv", "-t", "1", "-r", "1", *args], capture_output=True, text=True, env=env, timeout=30
    )


V3 = ["-v3", "-l", "authPriv", "-u", SNMP.name, "-a", "SHA", "-A", SNMP.auth_key, "-x", "AES", "-X", SNMP.priv_key]


def test_base_is_complete_and_inert(lab: Any) -> None:
    root = base.rootfs()
    done = json.loads((root.parent / base.COMPLETE).read_text())
    assert sorted(done["packages"]) == sorted(base.BASE_PACKAGES)
    status = (root / "var/lib/dpkg/status").read_text().split("\n\n")
    installed = {
        block.split("\n", 1)[0].removeprefix("Package: ") for block in status if "Status: install ok installed" in block
    }
    assert set(base.BASE_PACKAGES) <= installed
    policy = subprocess.run(["sh", str(root / "usr/sbin/policy-rc.d")], check=False)
    assert policy.returncode == 101  # dpkg may never start a service in the base or a node
    assert not list((root / "etc/ssh").glob("ssh_host_*"))  # every node makes its own host keys
    assert not list(base.CACHE_ROOT.glob(".build-*"))


def test_up_reports_every_node_running(lab: Any) -> None:
    rows = {r["name"]: r for r in runtime.status(LAB)}
    assert set(rows) == {"r1", "r2", "srv1"}
    for name, row in rows.items():
        assert row["state"] == "running", row
        assert row["mgmt_ip"] == MGMT[name]
    assert rows["srv1"]["role"] == "production"
    assert lab["info"]["changed"] is True


def test_hostnames_inside_nodes(lab: Any) -> None:
    for n in SPEC.nodes:
        assert ex(n.name, "hostname").stdout.strip() == n.hostname
    assert ex("r1", "cat", "/etc/hostname").stdout.strip() == "LABT-R1"


def test_nodes_have_their_own_pid_and_root(lab: Any) -> None:
    ps = ex("srv1", "ps", "-eo", "pid,comm", "--no-headers").stdout.split("\n")
    procs = {line.split()[1]: int(line.split()[0]) for line in ps if line.strip()}
    assert procs.get("jinbao-init", procs.get("python3")) == 1, ps
    assert "zebra" not in procs  # srv1 runs no FRR; r1's daemons are not visible here
    assert ex("srv1", "test", "-e", "/etc/jinbao-lab-base").returncode == 0
    assert ex("srv1", "test", "-e", str(names.STATE_ROOT)).returncode != 0  # the host's tree is out of reach


def test_requested_services_only(lab: Any) -> None:
    clusters = ex("srv1", "pg_lsclusters", "--no-header").stdout
    assert "online" in clusters, clusters
    assert "table inet filter" in ex("srv1", "nft", "list", "ruleset").stdout
    comms = set(ex("r1", "ps", "-eo", "comm", "--no-headers").stdout.split())
    assert "postgres" not in comms
    assert ex("r1", "nft", "list", "ruleset").stdout.strip() == ""


def test_ssh_from_host_with_lab_key(lab: Any) -> None:
    key = lab["info"]["ssh_key"]
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    for name, ip in MGMT.items():
        r = ssh(lab, ip, f"root@{ip}", "hostname")
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == SPEC.node(name).hostname


def test_ssh_refuses_passwords(lab: Any) -> None:
    r = ssh(lab, MGMT["r1"], "-o", "PubkeyAuthentication=no", f"root@{MGMT['r1']}", "true")
    assert r.returncode == 255
    assert "Permission denied (publickey)" in r.stderr


def test_sshd_listens_on_the_management_address_only(lab: Any) -> None:
    out = ex("r2", "ss", "-Hltn", "sport = :22").stdout.split()
    listening = [w for w in out if w.endswith(":22")]
    assert listening == [f"{MGMT['r2']}:22"]


def test_management_plane_stays_out_of_the_data_plane(lab: Any) -> None:
    # No route over mgmt0 in the main table (the table FRR's zebra programs).
    assert "mgmt0" not in ex("r2", "ip", "route", "show", "table", "main").stdout
    # Forwarding from the data plane into the management net is refused ...
    r = ex("r2", "ip", "route", "get", HOST, "from", "10.200.1.10", "iif", "eth2")
    assert r.returncode != 0
    # ... while the node itself reaches the management host over mgmt0.
    assert "dev mgmt0" in ex("r2", "ip", "route", "get", HOST).stdout
    assert ex("srv1", "ping", "-c1", "-W2", HOST).returncode == 0


def test_frr_runs_with_bootstrap_config(lab: Any) -> None:
    for router in ("r1", "r2"):
        r = ex(router, "vtysh", "-c", "show version")
        assert r.returncode == 0, r.stderr
        assert "FRRouting" in r.stdout
        conf = ex(router, "vtysh", "-c", "show running-config").stdout
        assert f"hostname {SPEC.node(router).hostname}" in conf
        assert "agentx" in conf
        assert "router bgp" not in conf  # empty bootstrap: routing config comes later over SSH
        comms = set(ex(router, "ps", "-eo", "comm", "--no-headers").stdout.split())
        assert {"watchfrr", "zebra", "bgpd", "bfdd", "staticd", "snmpd", "sshd"} <= comms
        args = ex(router, "ps", "-eo", "args", "--no-headers").stdout
        assert [a for a in args.splitlines() if "/zebra " in a and "-M snmp" in a]
        assert [a for a in args.splitlines() if "/bgpd " in a and "-M snmp" in a]
    assert ex("r1", "sysctl", "-n", "net.ipv4.ip_forward").stdout.strip() == "1"
    assert ex("srv1", "sysctl", "-n", "net.ipv4.ip_forward").stdout.strip() == "0"


def test_snmpv3_authpriv_answers_sysname(lab: Any) -> None:
    for router in ("r1", "r2"):
        r = snmpget(*V3, MGMT[router], "1.3.6.1.2.1.1.5.0")
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip().strip('"') == SPEC.node(router).hostname


def test_frr_bgp_mib_over_agentx(lab: Any) -> None:
    deadline = time.monotonic() + 30  # subagents connect shortly after snmpd is up
    while True:
        r = snmpget(*V3, MGMT["r1"], "1.3.6.1.2.1.15.1.0")  # BGP4-MIB bgpVersion, served by bgpd
        if (r.returncode == 0 and "No Such" not in r.stdout) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert r.returncode == 0 and "No Such" not in r.stdout, (r.stdout, r.stderr)


def test_snmp_rejects_community_and_weaker_v3(lab: Any) -> None:
    r = snmpget("-v2c", "-c", "public", MGMT["r1"], "1.3.6.1.2.1.1.5.0")
    assert r.returncode != 0 and "LABT-R1" not in r.stdout
    no_priv = ["-v3", "-l", "authNoPriv", "-u", SNMP.name, "-a", "SHA", "-A", SNMP.auth_key]
    r = snmpget(*no_priv, MGMT["r1"], "1.3.6.1.2.1.1.5.0")
    assert r.returncode != 0 and "LABT-R1" not in r.stdout
    wrong = [*V3[:-1], "not-the-priv-key"]
    wrong[V3.index("-A") + 1] = "not-the-auth-key"
    r = snmpget(*wrong, MGMT["r1"], "1.3.6.1.2.1.1.5.0")
    assert r.returncode != 0 and "LABT-R1" not in r.stdout


def test_ping_across_link_and_segment(lab: Any) -> None:
    assert ex("r1", "ping", "-c2", "-W2", "10.200.12.1").returncode == 0
    assert ex("r2", "ping", "-6", "-c2", "-W2", "fd10:12::").returncode == 0
    assert ex("srv1", "ping", "-c2", "-W2", "10.200.1.1").returncode == 0
    assert "default via 10.200.1.1 dev eth1" in ex("srv1", "ip", "route", "show", "default").stdout
    # Via the default route, through r2, to r2's far interface.
    assert ex("srv1", "ping", "-c1", "-W2", "10.200.12.1").returncode == 0
    # r1 has no route back to the LAN (no routing config yet): this must fail, proving ping can fail.
    assert ex("srv1", "ping", "-c1", "-W1", "10.200.12.0").returncode != 0


def test_exec_returns_inner_exit_code_and_stdin(lab: Any) -> None:
    assert ex("r1", "sh", "-c", "exit 7").returncode == 7
    assert ex("r1", "true").returncode == 0
    r = ex("srv1", "sh", "-c", "cat; echo err >&2", input="hello\n")
    assert (r.stdout, r.stderr) == ("hello\n", "err\n")
    with pytest.raises(subprocess.TimeoutExpired):
        ex("r1", "sleep", "30", timeout=1)
    time.sleep(0.2)
    assert "sleep" not in ex("r1", "ps", "-eo", "comm", "--no-headers").stdout.split()


def test_second_up_is_a_noop(lab: Any) -> None:
    before_state = lab_objects(LAB)
    before_snap = snapshot()
    t0 = time.monotonic()
    again = runtime.up(SPEC)
    took = time.monotonic() - t0
    assert again["changed"] is False
    print(f"second up: {took:.2f} s")  # a no-op is shown by what it did not change, never by a timing assertion
    assert {n: v["pid"] for n, v in again["nodes"].items()} == {n: v["pid"] for n, v in lab["info"]["nodes"].items()}
    assert lab_objects(LAB)["objects"] == before_state["objects"]
    after = snapshot()
    for kind, obj in (("netns", "netns"), ("links", "link")):  # other labs of the run may come and go meanwhile
        assert _ours(after[kind]) == _ours(before_snap[kind])
        assert _ours(after[kind]) >= {o["name"] for o in before_state["objects"] if o["kind"] == obj
                                      and o.get("netns") is None}


def _ours(items: set[str]) -> set[str]:
    mine = {names.host_veth(LAB, n.name) for n in SPEC.nodes}
    return {x for x in items if LAB in x or x in mine}


def test_down_removes_everything(lab: Any) -> None:
    recorded = lab_objects(LAB)
    kinds = {o["kind"] for o in recorded["objects"]}
    assert {"netns", "link", "mount", "process"} <= kinds
    assert leftovers(LAB, lab["before"], {"objects": []}) != {}  # sanity: the lab is there now
    t0 = time.monotonic()
    report = runtime.down(LAB)
    print(f"3-node down took {time.monotonic() - t0:.2f}s")
    assert sorted(report["stopped"]) == ["r1", "r2", "srv1"]
    assert leftovers(LAB, lab["before"], recorded) == {}
    assert runtime.status(LAB) == []
    with pytest.raises(runtime.LabError):
        ex("r1", "true")
