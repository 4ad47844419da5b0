"""The FRR driver and the deploy engine against two real FRR 8.4 routers in the lab (no mocks).

Tests run in file order and share the lab: the module-scoped ``deployed`` fixture commits the two
candidates once; later tests start from that state and put it back when they change it.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from napalm import get_network_driver
from napalm.base.exceptions import CommitConfirmException, ConnectionException, ReplaceConfigException

from lab import runtime
from network.deploy import DeployTarget, DeviceResult, PostCheck, backup, deploy, drift
from network.drivers import register
from network.drivers.frr import FrrDriver, PendingCommitError
from network.validate import stamp, validate_frr
from tests.deploy.conftest import HOSTNAME, LAB, MGMT, config, requires_root

pytestmark = [pytest.mark.integration, requires_root]

ROOT = Path(__file__).resolve().parents[2]
CITY, PROVINCE = HOSTNAME["r1"], HOSTNAME["r2"]
CITY_CONF, PROVINCE_CONF = config("city-wr01.conf"), config("province-wr01.conf")
CITY_CHECKS = [
    PostCheck.bgp_established("10.220.0.1", "fd20::1"),
    PostCheck.reachable("10.221.0.2", source="10.221.0.1"),  # loopback to loopback: needs both BGP routes
    PostCheck.reachable("fd21::2", source="fd21::1"),
]
PROVINCE_CHECKS = [
    PostCheck.bgp_established("10.220.0.0", "fd20::"),
    PostCheck.reachable("10.221.0.1", source="10.221.0.2"),
]
STATE = "/var/lib/jinbao-frr"
UNUSED_MGMT_IP = "100.126.240.99"  # inside the lab's own management net; nothing answers there


def ssh_opts(info: dict[str, Any]) -> dict[str, Any]:
    return {"key_file": info["ssh_key"], "known_hosts": info["known_hosts"]}


@contextmanager
def driver(info: dict[str, Any], node: str, **extra: Any) -> Iterator[FrrDriver]:
    dev = FrrDriver(
        MGMT[node], extra.pop("username", "root"), None, timeout=5, optional_args={**ssh_opts(info), **extra}
    )
    dev.open()
    try:
        yield dev
    finally:
        dev.close()


def target(
    info: dict[str, Any], node: str, text: str, checks: list[PostCheck], host: str | None = None
) -> DeployTarget:
    return DeployTarget(
        hostname=HOSTNAME[node],
        platform="frr",
        host=host or MGMT[node],
        username="root",
        key_file=info["ssh_key"],
        config_text=text,
        post_checks=checks,
        known_hosts=info["known_hosts"],
        # the driver's fixtures are hand-written two-router configs (no session keys, no IPv6 management ACL):
        # they pass FRR's own parser, checked here, and are stamped as such; the structural rules are what
        # render/build_targets add for planned configs (tests/render, tests/lab_e2e)
        validated_sha256=_frr_checked(text),
    )


def _frr_checked(text: str) -> str:
    assert validate_frr(text) == [], "driver fixture rejected by vtysh --dryrun"
    return stamp(text)


def both(info: dict[str, Any]) -> list[DeployTarget]:
    return [target(info, "r1", CITY_CONF, CITY_CHECKS), target(info, "r2", PROVINCE_CONF, PROVINCE_CHECKS)]


def running(info: dict[str, Any], node: str) -> str:
    with driver(info, node) as dev:
        return str(dev.get_config(retrieve="running")["running"])


def sh(node: str, script: str) -> subprocess.CompletedProcess[str]:
    return runtime.exec(LAB, node, ["sh", "-c", script])


def timer_pids(node: str) -> str:
    """PIDs of revert timers on the node ("[r]" keeps pgrep from matching the sh -c running it)."""
    return sh(node, f"pgrep -f '{STATE}/[r]evert.sh' || true").stdout.strip()


def wait_established(info: dict[str, Any], node: str, peers: tuple[str, ...], timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    with driver(info, node) as dev:
        while True:
            state = dev.get_bgp_neighbors()
            peer_state = state.get("global", {}).get("peers", {})
            if all(peer_state.get(p, {}).get("is_up") for p in peers) or time.monotonic() > deadline:
                return state
            time.sleep(0.5)


def by_host(results: list[DeviceResult]) -> dict[str, DeviceResult]:
    return {r.hostname: r for r in results}


# -- driver on its own ------------------------------------------------------------------------------


def test_napalm_finds_the_driver_by_platform_name() -> None:
    register()
    assert get_network_driver("frr") is FrrDriver


def test_getters_return_real_data(lab: dict[str, Any]) -> None:
    t0 = time.monotonic()
    with driver(lab, "r1") as dev:
        connect = time.monotonic() - t0
        assert dev.is_alive() == {"is_alive": True}
        facts = dev.get_facts()
        assert facts["vendor"] == "FRRouting"
        assert facts["hostname"] == CITY
        assert facts["os_version"].startswith("8.")
        assert facts["uptime"] > 0
        assert {"eth1", "lo", "mgmt0"} <= set(facts["interface_list"])
        ifaces = dev.get_interfaces()
        assert ifaces["eth1"]["is_up"] and ifaces["eth1"]["is_enabled"]
        assert ifaces["eth1"]["mtu"] == 1500
        assert len(ifaces["eth1"]["mac_address"]) == 17
        ips = dev.get_interfaces_ip()
        assert ips["eth1"]["ipv4"] == {"10.220.0.0": {"prefix_length": 31}}
        assert ips["eth1"]["ipv6"]["fd20::"] == {"prefix_length": 127}
        assert ips["mgmt0"]["ipv4"] == {MGMT["r1"]: {"prefix_length": 24}}
        ping = dev.ping("10.220.0.1", count=2, timeout=1)
        assert ping["success"]["packet_loss"] == 0
        assert "error" in dev.ping("10.221.0.77", count=1, timeout=1)  # no route yet
        assert dev.has_pending_commit() is False
    assert not dev.is_alive()["is_alive"]
    print(f"FRR driver connect+open: {connect:.3f}s")


def test_wrong_host_key_is_refused(lab: dict[str, Any], tmp_path: Path) -> None:
    # r2's host key filed under r1's address: the driver must not talk to an impostor.
    lines = Path(lab["known_hosts"]).read_text().splitlines()
    fake = [ln.replace(MGMT["r2"], MGMT["r1"], 1) for ln in lines if ln.startswith(MGMT["r2"] + " ")]
    (tmp_path / "kh").write_text("\n".join(fake) + "\n")
    dev = FrrDriver(
        MGMT["r1"],
        "root",
        None,
        timeout=5,
        optional_args={"key_file": lab["ssh_key"], "known_hosts": str(tmp_path / "kh")},
    )
    with pytest.raises(ConnectionException, match="SSH to"):
        dev.open()


# -- deploy ----------------------------------------------------------------------------------------


def test_dry_run_shows_a_diff_and_changes_nothing(lab: dict[str, Any]) -> None:
    before = {n: running(lab, n) for n in ("r1", "r2")}
    startup = {n: sh(n, "cat /etc/frr/frr.conf").stdout for n in ("r1", "r2")}
    t0 = time.monotonic()
    results = by_host(deploy(both(lab), dry_run=True, confirm_seconds=30))
    print(f"dry-run of 2 routers: {time.monotonic() - t0:.2f}s")
    for name, conf_asn in ((CITY, "4200140100"), (PROVINCE, "4200140000")):
        assert results[name].status == "dry-run", results[name]
        assert f"router bgp {conf_asn}" in results[name].diff
        assert "Lines To Add" in results[name].diff
    assert "route-map RM-UP-IN permit 10" in results[CITY].diff
    assert {n: running(lab, n) for n in ("r1", "r2")} == before
    assert {n: sh(n, "cat /etc/frr/frr.conf").stdout for n in ("r1", "r2")} == startup
    assert "router bgp" not in before["r1"]


@pytest.fixture(scope="module")
def deployed(lab: dict[str, Any]) -> list[DeviceResult]:
    """Both candidates committed with a 30 s confirm window, plus a third target nobody answers for."""
    bad = replace(target(lab, "r2", PROVINCE_CONF, PROVINCE_CHECKS, host=UNUSED_MGMT_IP), hostname="JB-149900-DC-WR01")
    events: list[tuple[str, str]] = []
    t0 = time.monotonic()
    results = deploy(
        [*both(lab), bad],
        dry_run=False,
        confirm_seconds=30,
        progress=lambda h, m: events.append((h, m)),
        connect_timeout=3,
    )
    print(f"commit-confirm of 2 routers (+1 unreachable): {time.monotonic() - t0:.2f}s")
    for r in results:
        print(r.hostname, r.status, r.timings, r.error)
    assert any(m.startswith("committing") for _h, m in events)
    return results


def test_commit_confirm_brings_bgp_up(lab: dict[str, Any], deployed: list[DeviceResult]) -> None:
    results = by_host(deployed)
    for name in (CITY, PROVINCE):
        assert results[name].status == "committed", results[name]
        assert results[name].error is None
        assert results[name].device_revert_in == 30
        assert results[name].checks and all(c.ok for c in results[name].checks), results[name].checks
    assert {c.target for c in results[CITY].checks} == {"10.220.0.1", "fd20::1", "10.221.0.2", "fd21::2"}
    for node, peers, asn in (
        ("r1", ("10.220.0.1", "fd20::1"), 4200140000),
        ("r2", ("10.220.0.0", "fd20::"), 4200140100),
    ):
        bgp = wait_established(lab, node, peers)["global"]
        for peer in peers:
            p = bgp["peers"][peer]
            assert p["is_up"] and p["is_enabled"] and p["remote_as"] == asn
            family = "ipv6" if ":" in peer else "ipv4"
            assert p["address_family"][family]["accepted_prefixes"] == 1  # the route-maps let one loopback in
            assert p["address_family"][family]["sent_prefixes"] == 1
    assert wait_established(lab, "r1", ())["global"]["router_id"] == "10.221.0.1"
    for node in ("r1", "r2"):
        # confirmed: no timer, no checkpoint, and the config is persisted in frr.conf
        state = sh(node, f"ls {STATE}; cat /etc/frr/frr.conf").stdout
        assert "checkpoint.conf" not in state and "revert.pid" not in state and "startup.conf" not in state
        assert timer_pids(node) == ""
        assert "router bgp" in state
        with driver(lab, node) as dev:
            assert dev.has_pending_commit() is False
            dev.load_replace_candidate(config=CITY_CONF if node == "r1" else PROVINCE_CONF)
            assert dev.compare_config() == ""  # the candidates are in FRR's normal form: nothing left to do
    # frr-reload really enforced the route-maps: only the peer's loopback was accepted
    routes = sh("r1", "vtysh -c 'show ip route bgp json'").stdout
    assert "10.221.0.2/32" in routes


def test_unreachable_target_fails_alone(deployed: list[DeviceResult]) -> None:
    results = by_host(deployed)
    bad = results["JB-149900-DC-WR01"]
    assert bad.status == "failed"
    assert "ConnectionException" in (bad.error or "")
    assert bad.seconds < 10
    assert [r.hostname for r in deployed] == [CITY, PROVINCE, "JB-149900-DC-WR01"]  # target order kept
    assert results[CITY].status == results[PROVINCE].status == "committed"


def test_second_deploy_is_unchanged(lab: dict[str, Any], deployed: list[DeviceResult]) -> None:
    results = deploy(both(lab), dry_run=False, confirm_seconds=30)
    assert [r.status for r in results] == ["unchanged", "unchanged"]
    assert all(r.diff == "" and not r.checks for r in results)


def test_broken_candidate_is_rolled_back(lab: dict[str, Any], deployed: list[DeviceResult]) -> None:
    wait_established(lab, "r1", ("10.220.0.1", "fd20::1"))
    before = running(lab, "r1")
    startup = sh("r1", "cat /etc/frr/frr.conf").stdout
    broken = CITY_CONF.replace("remote-as 4200140000", "remote-as 4200140999")
    assert broken != CITY_CONF
    t0 = time.monotonic()
    confirm = 120  # far beyond the checks: only the controller's own rollback can finish before it
    [res] = deploy([target(lab, "r1", broken, CITY_CHECKS)], dry_run=False, confirm_seconds=confirm,
                   check_timeout=5)
    took = time.monotonic() - t0
    print(f"broken candidate: commit, failing checks (5 s budget) and rollback in {took:.2f}s; {res.timings}")
    assert res.status == "rolled-back", res
    assert "neighbor 10.220.0.1 remote-as 4200140999" in res.diff
    assert "bgp_established 10.220.0.1: not Established" in (res.error or "")
    assert not any(c.ok for c in res.checks if c.kind == "bgp_established")
    assert "rollback" in res.timings and took < confirm - 10  # rolled back at once, not by the device timer
    assert running(lab, "r1") == before
    assert sh("r1", "cat /etc/frr/frr.conf").stdout == startup
    with driver(lab, "r1") as dev:
        assert dev.has_pending_commit() is False
        dev.load_replace_candidate(config=before)
        assert dev.compare_config() == ""
    assert "checkpoint.conf" not in sh("r1", f"ls {STATE}").stdout
    wait_established(lab, "r1", ("10.220.0.1", "fd20::1"))  # and the sessions come back


CONTROLLER = """
import sys, time
from network.drivers.frr import FrrDriver, PendingCommitError
from network.validate import stamp, validate_frr
host, key, known, revert_in, path = sys.argv[1:6]
dev = FrrDriver(host, "root", None, timeout=5, optional_args={"key_file": key, "known_hosts": known})
dev.open()
dev.load_replace_candidate(filename=path)
armed_after = time.monotonic()  # CLOCK_MONOTONIC is system-wide: the test compares it with its own clock
dev.commit_config("controller that dies", revert_in=int(revert_in))
print("COMMITTED", armed_after, flush=True)
time.sleep(600)
"""


def test_device_reverts_on_its_own_when_the_controller_dies(
    lab: dict[str, Any], deployed: list[DeviceResult], tmp_path: Path
) -> None:
    before = running(lab, "r1")
    startup = sh("r1", "cat /etc/frr/frr.conf").stdout
    changed = CITY_CONF.replace("(primary uplink)", "(changed, never confirmed)") + (
        "ip prefix-list PL-NEVER-CONFIRMED seq 5 permit 10.99.0.0/16\n"
    )
    (tmp_path / "cand.conf").write_text(changed)
    revert_in = 20  # long enough to look at the device under a loaded suite (4 s once expired before the look)
    proc = subprocess.Popen(
        [sys.executable, "-c", CONTROLLER, MGMT["r1"], lab["ssh_key"], lab["known_hosts"], str(revert_in),
         str(tmp_path / "cand.conf")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("COMMITTED "), proc.stderr.read() if proc.stderr else ""
        # the device arms its timer somewhere inside commit_config: the call's start is the earliest it can have
        # started counting (reading "COMMITTED" is up to a second later on a loaded run: ci stop 19 saw 19.04 s)
        committed_at = float(line.split()[1])
        during = running(lab, "r1")
        assert "PL-NEVER-CONFIRMED" in during and "never confirmed" in during
        with driver(lab, "r1") as dev:
            assert dev.has_pending_commit() is True
        # an unconfirmed change is never written to the startup config (a reboot would revert too)
        assert sh("r1", "cat /etc/frr/frr.conf").stdout == startup
    finally:
        proc.kill()  # the controller dies without confirming (SIGKILL: no clean-up of any kind)
        proc.wait()
    deadline = committed_at + revert_in + 10
    while running(lab, "r1") != before and time.monotonic() < deadline:
        time.sleep(0.25)
    print(f"device reverted {time.monotonic() - committed_at:.2f}s after the commit (timer {revert_in}s)")
    assert running(lab, "r1") == before
    assert time.monotonic() - committed_at >= revert_in - 0.5  # not before the window ended
    with driver(lab, "r1") as dev:
        assert dev.has_pending_commit() is False
    state = sh("r1", f"ls {STATE}; tail -1 {STATE}/history.log").stdout
    assert "auto-revert rc=0" in state
    assert "checkpoint.conf" not in state and "revert.pid" not in state
    assert sh("r1", "cat /etc/frr/frr.conf").stdout == startup


def test_rollback_and_merge_through_the_driver(lab: dict[str, Any], deployed: list[DeviceResult]) -> None:
    before = running(lab, "r1")
    with driver(lab, "r1") as dev:
        dev.load_merge_candidate(config="ip prefix-list PL-MERGED seq 5 permit 10.98.0.0/16\n")
        diff = dev.compare_config()
        assert "Lines To Delete" not in diff  # a merge adds; it never removes the rest of the config
        assert "ip prefix-list PL-MERGED seq 5 permit 10.98.0.0/16" in diff
        t0 = time.monotonic()
        dev.commit_config("merge test")
        commit = time.monotonic() - t0
        assert "PL-MERGED" in dev.get_config(retrieve="running")["running"]
        assert "PL-MERGED" in dev.get_config(retrieve="startup")["startup"]  # no timer: persisted at once
        t0 = time.monotonic()
        dev.rollback()
        print(f"driver: merge commit {commit:.2f}s, rollback {time.monotonic() - t0:.2f}s")
        assert dev.get_config(retrieve="running")["running"] == before
        with pytest.raises(CommitConfirmException, match="no pending commit"):
            dev.confirm_commit()
        dev.load_replace_candidate(config="router bgp 1\n neighbor 10.0.0.1 remote-az 2\n")
        with pytest.raises(ReplaceConfigException, match="Unknown command"):
            dev.compare_config()  # a candidate FRR cannot parse is an error, never a diff


def test_a_second_commit_waits_for_the_confirm(lab: dict[str, Any], deployed: list[DeviceResult]) -> None:
    before = running(lab, "r1")
    with driver(lab, "r1") as dev:
        dev.load_merge_candidate(config="ip prefix-list PL-PENDING seq 5 permit 10.97.0.0/16\n")
        dev.commit_config(revert_in=60)
        assert timer_pids("r1") != ""
        try:
            dev.load_merge_candidate(config="ip prefix-list PL-SECOND seq 5 permit 10.96.0.0/16\n")
            with pytest.raises(PendingCommitError, match="awaits confirmation"):
                dev.commit_config()
            # deploy() leaves someone else's pending commit alone: no commit, no rollback of theirs
            changed = CITY_CONF.replace("(primary uplink)", "(second deploy)")
            [res] = deploy([target(lab, "r1", changed, CITY_CHECKS)], dry_run=False, confirm_seconds=30)
            assert res.status == "failed" and "unconfirmed commit" in (res.error or "")
            assert dev.has_pending_commit() is True
            assert "PL-PENDING" in dev.get_config(retrieve="running")["running"]
        finally:
            dev.rollback()  # cancels the 60 s timer and restores the checkpoint at once
        assert dev.has_pending_commit() is False
    assert running(lab, "r1") == before
    assert timer_pids("r1") == ""


def test_sudo_login_for_real_linux_routers(lab: dict[str, Any], deployed: list[DeviceResult]) -> None:
    # A non-root account with passwordless sudo, as on a real Linux router; the lab key lets it in.
    setup = (
        "id jbdeploy >/dev/null 2>&1 || useradd -m -s /bin/sh jbdeploy; "
        "mkdir -p /home/jbdeploy/.ssh; cp /root/.ssh/authorized_keys /home/jbdeploy/.ssh/; "
        "chown -R jbdeploy /home/jbdeploy/.ssh; chmod 700 /home/jbdeploy/.ssh; "
        "echo 'jbdeploy ALL=(root) NOPASSWD: ALL' > /etc/sudoers.d/jbdeploy; chmod 440 /etc/sudoers.d/jbdeploy"
    )
    assert sh("r2", setup).returncode == 0
    try:
        plain = FrrDriver(MGMT["r2"], "jbdeploy", None, timeout=5, optional_args=ssh_opts(lab))
        with pytest.raises(ConnectionException, match="vtysh not usable"):
            plain.open()  # without privilege escalation the account cannot reach FRR, and open() says so
        before = running(lab, "r2")
        with driver(lab, "r2", username="jbdeploy", privilege="sudo") as dev:
            assert dev.get_facts()["hostname"] == PROVINCE
            dev.load_merge_candidate(config="ip prefix-list PL-SUDO seq 5 permit 10.95.0.0/16\n")
            assert "PL-SUDO" in dev.compare_config()
            dev.commit_config("via sudo", revert_in=30)
            assert dev.has_pending_commit() is True
            dev.confirm_commit()
            assert dev.has_pending_commit() is False
            assert "PL-SUDO" in dev.get_config(retrieve="startup")["startup"]
            dev.rollback()
            assert dev.get_config(retrieve="running")["running"] == before
        assert "jbdeploy commit merge" in sh("r2", f"cat {STATE}/history.log").stdout  # sudo's user is logged
    finally:
        sh("r2", "rm -f /etc/sudoers.d/jbdeploy")


# -- backup and drift ----------------------------------------------------------------------------------


def test_backup_writes_files_and_one_commit_per_run(
    lab: dict[str, Any], deployed: list[DeviceResult], tmp_path: Path
) -> None:
    repo = tmp_path / "backups"
    bad = replace(target(lab, "r2", PROVINCE_CONF, [], host=UNUSED_MGMT_IP), hostname="JB-149900-DC-WR01")
    t0 = time.monotonic()
    res = backup([*both(lab), bad], repo, scope="shanxi-lab", connect_timeout=3)
    print(f"backup of 2 routers (+1 unreachable): {time.monotonic() - t0:.2f}s")
    assert sorted(res.written) == sorted([f"{CITY}.cfg", f"{PROVINCE}.cfg"])
    assert list(res.failed) == ["JB-149900-DC-WR01"]
    assert (repo / f"{CITY}.cfg").read_text() == running(lab, "r1")
    assert "router bgp 4200140000" in (repo / f"{PROVINCE}.cfg").read_text()

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout

    assert git("rev-parse", "HEAD").strip() == res.commit
    log = git("log", "--format=%B")
    assert "scope=shanxi-lab: 2 saved, 1 failed" in log and "failed JB-149900-DC-WR01" in log
    assert git("show", "--name-only", "--format=", "HEAD").split() == sorted([f"{CITY}.cfg", f"{PROVINCE}.cfg"])
    again = backup(both(lab), repo, scope="shanxi-lab")
    assert again.commit != res.commit
    assert len(git("log", "--format=%H").split()) == 2  # one commit per run, also when nothing changed
    assert git("status", "--porcelain") == ""


def test_drift_in_sync_after_deploy_then_finds_a_manual_change(
    lab: dict[str, Any], deployed: list[DeviceResult]
) -> None:
    t0 = time.monotonic()
    first = drift(both(lab))
    print(f"drift of 2 routers: {time.monotonic() - t0:.2f}s")
    assert [(d.hostname, d.in_sync, d.diff) for d in first] == [(CITY, True, ""), (PROVINCE, True, "")]
    assert all(d.method == "frr-reload --test" for d in first)
    manual = [
        "vtysh",
        "-c",
        "conf t",
        "-c",
        "router bgp 4200140100",
        "-c",
        "neighbor 10.220.0.1 description changed by hand",
    ]
    assert runtime.exec(LAB, "r1", manual).returncode == 0
    try:
        second = {d.hostname: d for d in drift(both(lab))}
        assert second[CITY].in_sync is False
        assert "neighbor 10.220.0.1 description changed by hand" in second[CITY].diff
        assert "neighbor 10.220.0.1 description JB-140000-DC-WR01 v4" in second[CITY].diff
        assert second[PROVINCE].in_sync is True
    finally:
        [res] = deploy([target(lab, "r1", CITY_CONF, CITY_CHECKS)], dry_run=False, confirm_seconds=30)
    assert res.status == "committed"
    assert drift(both(lab))[0].in_sync is True
