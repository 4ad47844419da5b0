"""Shared helpers for the lab runtime tests: small specs and snapshots of the host's kernel objects."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab import names
from lab.spec import IfaceSpec, LabSpec, LinkSpec, NodeSpec, RouteSpec, SegmentSpec, SnmpUser
from tests.lablock import lab_lock

# Lab-only SNMPv3 credentials used by the tests (the spec passes them to every node's snmpd).
SNMP = SnmpUser("jblabtest", "lab-only-auth-pass", "lab-only-priv-pass")

requires_root = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (namespaces, mounts)")


@pytest.fixture(scope="session")
def lab_tests_lock() -> Iterator[None]:
    """One pytest run at a time may drive the test labs (they have fixed names and management nets)."""
    with lab_lock():
        yield


def three_node_spec(lab: str, octet: int) -> LabSpec:
    """Two FRR routers on a veth link; a server on a LAN segment behind r2 with a default route."""
    m = f"100.126.{octet}"
    return LabSpec(
        name=lab,
        mgmt_net=f"{m}.0/24",
        mgmt_host_ip=f"{m}.1",
        nodes=(
            NodeSpec("r1", "LABT-R1", "wan", "router", f"{m}.11/24", ("sshd", "frr", "snmpd")),
            NodeSpec("r2", "LABT-R2", "wan", "router", f"{m}.12/24", ("sshd", "frr", "snmpd")),
            NodeSpec("srv1", "labt-srv1", "production", "server", f"{m}.21/24", ("sshd", "postgresql", "nftables")),
        ),
        links=(
            LinkSpec(
                "r1-r2",
                IfaceSpec("r1", "eth1", ("10.200.12.0/31", "fd10:12::/127")),
                IfaceSpec("r2", "eth1", ("10.200.12.1/31", "fd10:12::1/127")),
            ),
        ),
        segments=(
            SegmentSpec(
                "lan1",
                (IfaceSpec("r2", "eth2", ("10.200.1.1/24",)), IfaceSpec("srv1", "eth1", ("10.200.1.10/24",))),
            ),
        ),
        routes=(RouteSpec("srv1", "default", "10.200.1.1"),),
        snmp_user=SNMP,
    )


def two_node_spec(lab: str, octet: int) -> LabSpec:
    m = f"100.126.{octet}"
    return LabSpec(
        name=lab,
        mgmt_net=f"{m}.0/24",
        mgmt_host_ip=f"{m}.1",
        nodes=(
            NodeSpec("r1", "CRASH-R1", "wan", "router", f"{m}.11/24", ("sshd", "frr")),
            NodeSpec("s1", "crash-s1", "production", "server", f"{m}.21/24", ("sshd",)),
        ),
        segments=(
            SegmentSpec(
                "lan", (IfaceSpec("r1", "eth1", ("10.201.1.1/24",)), IfaceSpec("s1", "eth1", ("10.201.1.10/24",)))
            ),
        ),
        routes=(RouteSpec("s1", "default", "10.201.1.1"),),
    )


def snapshot() -> dict[str, set[str]]:
    """Namespaces, root-namespace interfaces and mounts on the host right now."""
    netns = set(subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split("\n"))
    netns = {line.split()[0] for line in netns if line.strip()}
    links = {x["ifname"] for x in json.loads(subprocess.run(["ip", "-j", "link"], capture_output=True).stdout)}
    with open("/proc/mounts") as fh:
        mounts = {line.split()[1] for line in fh}
    return {"netns": netns, "links": links, "mounts": mounts}


def _other_labs(lab: str) -> tuple[set[str], set[str]]:
    """Namespaces and root-namespace links that other labs up right now own (a run's lab tracks run side by
    side, tests/lablock.py): what their state files record, their namespace prefixes, and other ferry links'
    namespaces (`jbfy-<tag>-`, not in any state file)."""
    netns: set[str] = set()
    links: set[str] = set()
    for path in names.STATE_ROOT.glob("*/state.json"):
        other = path.parent.name
        if other == lab:
            continue
        netns |= {f"{p}*" for p in names.lab_netns_prefixes(other)}
        try:
            st = json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):  # taken down meanwhile, or not written by the runtime
            continue
        netns |= {o["name"] for o in st.get("objects", []) if o["kind"] == "netns"}
        links |= {o["name"] for o in st.get("objects", []) if o["kind"] == "link" and o["netns"] is None}
    return netns, links


# objects the `lab` track's tests make themselves, beside any lab (policy tests: nft namespaces, a stray veth)
TEST_MADE = ("jbpo-",)


def _foreign(name: str, owned: set[str], lab: str) -> bool:
    if name.startswith("jbfy-") and not name.startswith(f"jbfy-{lab[:6]}-"):
        return True
    if name.startswith(TEST_MADE):
        return True
    return name in owned or any(o.endswith("*") and name.startswith(o[:-1]) for o in owned)


def leftovers(lab: str, before: dict[str, set[str]], recorded: dict[str, Any]) -> dict[str, list[Any]]:
    """What of ``lab`` is still on the host: new namespaces/links/mounts, recorded objects, live PIDs. Objects
    of other labs up at the same time are not this lab's (read under the runtime's state lock, so no lab is
    half up or half down meanwhile)."""
    from lab import state

    with state.locked():
        after = snapshot()
        other_netns, other_links = _other_labs(lab)
    lab_dir = str(names.lab_dir(lab))
    out: dict[str, list[Any]] = {
        "netns": sorted(n for n in after["netns"] - before["netns"] if not _foreign(n, other_netns, lab)),
        "links": sorted(n for n in after["links"] - before["links"] if not _foreign(n, other_links, lab)),
        "mounts": sorted(m for m in after["mounts"] - before["mounts"] if m.startswith(lab_dir)),
        "pids": [],
    }
    for obj in recorded.get("objects", []):
        if obj["kind"] == "netns" and obj["name"] in after["netns"]:
            out["netns"].append(obj["name"])
        if obj["kind"] == "link" and obj["netns"] is None and obj["name"] in after["links"]:
            out["links"].append(obj["name"])
        if obj["kind"] == "mount" and obj["path"] in after["mounts"]:
            out["mounts"].append(obj["path"])
        if obj["kind"] == "process":
            for pid in (obj["pid"], obj["wrapper"]):
                if os.path.exists(f"/proc/{pid}") and _state(pid) != "Z":
                    out["pids"].append(pid)
    if names.lab_dir(lab).exists():
        out["state_dir"] = [lab_dir]
    return {k: v for k, v in out.items() if v}


def _state(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return "gone"
    return stat[stat.rindex(")") + 2]


def lab_objects(lab: str) -> dict[str, Any]:
    """The lab's state file as it is now (what down must remove)."""
    path = names.state_file(lab)
    return json.loads(path.read_text()) if path.exists() else {"objects": []}
