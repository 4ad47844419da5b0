"""down after crashes: killed node inits, an interrupted up, a lost state file (real processes, no mocks)."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from lab import names, runtime
from lab.sh import LabError
from tests.lab.conftest import lab_objects, leftovers, requires_root, snapshot, two_node_spec

pytestmark = [pytest.mark.integration, requires_root]

LAB = "jbt2"
SPEC = two_node_spec(LAB, 252)


@pytest.fixture
def before(lab_tests_lock: None) -> Any:
    """Each test starts with the lab down and ends with it down again."""
    runtime.down(LAB)
    snap = snapshot()
    yield snap
    runtime.down(LAB)


def _gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def _states() -> dict[str, str]:
    return {row["name"]: row["state"] for row in runtime.status(LAB)}


def test_killed_init_is_reported_and_repaired_by_up(before: Any) -> None:
    info = runtime.up(SPEC)
    old_r1, old_s1 = info["nodes"]["r1"]["pid"], info["nodes"]["s1"]["pid"]
    os.kill(old_r1, signal.SIGKILL)  # a crashed node: its whole PID namespace dies with its init
    assert _gone(old_r1)
    assert _states() == {"r1": "stopped", "s1": "running"}
    with pytest.raises(LabError):
        runtime.exec(LAB, "r1", ["true"])
    again = runtime.up(SPEC)
    assert again["changed"] is True
    assert again["nodes"]["r1"]["pid"] != old_r1
    assert again["nodes"]["s1"]["pid"] == old_s1  # the healthy node was left alone
    assert _states() == {"r1": "running", "s1": "running"}
    assert runtime.exec(LAB, "r1", ["hostname"]).stdout.strip() == "CRASH-R1"
    assert runtime.exec(LAB, "s1", ["ping", "-c1", "-W2", "10.201.1.1"]).returncode == 0


def test_a_dead_service_makes_the_node_degraded(before: Any) -> None:
    runtime.up(SPEC)
    assert runtime.exec(LAB, "s1", ["sh", "-c", "kill $(cat /run/sshd.pid)"]).returncode == 0
    deadline = time.monotonic() + 5
    while _states()["s1"] != "degraded" and time.monotonic() < deadline:
        time.sleep(0.1)
    row = {r["name"]: r for r in runtime.status(LAB)}["s1"]
    assert row["state"] == "degraded"
    assert "sshd" in row["missing"]


def test_up_with_a_different_spec_is_refused(before: Any) -> None:
    runtime.up(SPEC)
    other = dataclasses.replace(SPEC, routes=())
    with pytest.raises(LabError, match="different spec"):
        runtime.up(other)


def test_down_after_every_node_crashed(before: Any) -> None:
    info = runtime.up(SPEC)
    recorded = lab_objects(LAB)
    for node in info["nodes"].values():
        os.kill(node["pid"], signal.SIGKILL)
        assert _gone(node["pid"])
    runtime.down(LAB)
    assert leftovers(LAB, before, recorded) == {}


def test_down_after_an_interrupted_up(before: Any) -> None:
    code = (
        "import json, sys\n"
        "from lab import runtime\n"
        "from lab.spec import LabSpec\n"
        "runtime.up(LabSpec.from_dict(json.load(sys.stdin)), progress=lambda m: print(m, flush=True))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps(SPEC.to_dict()))
    proc.stdin.close()
    for line in proc.stdout:
        if "node r1" in line and "started" in line:
            break  # half-way: the network is built, the first node's init is running
    proc.kill()
    proc.wait()
    recorded = lab_objects(LAB)
    assert recorded.get("phase") == "building"
    assert any(o["kind"] == "process" for o in recorded["objects"])
    runtime.down(LAB)
    assert leftovers(LAB, before, recorded) == {}


@pytest.mark.parametrize("netns_names_too", [False, True])
def test_down_after_the_state_file_was_lost(before: Any, netns_names_too: bool) -> None:
    info = runtime.up(SPEC)
    recorded = lab_objects(LAB)
    names.state_file(LAB).unlink()
    if netns_names_too:  # as if an earlier down had died after removing the namespace names
        for obj in recorded["objects"]:
            if obj["kind"] == "netns":
                subprocess.run(["ip", "netns", "delete", obj["name"]], check=True)
    report = runtime.down(LAB)
    assert sorted(report["stopped_unrecorded"]) == sorted(n["pid"] for n in info["nodes"].values())
    assert leftovers(LAB, before, recorded) == {}
    for node in info["nodes"].values():
        assert _gone(node["pid"], timeout=1)
