"""A real two-router FRR lab for the deploy tests: lab ``jbd1``, management net 100.126.240.0/24.

The routers are a city WAN router (Taiyuan, AS 4200140100) and its province router (Shanxi,
AS 4200140000) on one veth link (10.220.0.0/31, fd20::/127). They boot with the lab's empty FRR
bootstrap config; the tests push the hand-written candidates in tests/deploy/configs/.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab import runtime
from lab.spec import IfaceSpec, LabSpec, LinkSpec, NodeSpec
from tests.lablock import lab_lock as shared_lab_lock

LAB = "jbd1"
MGMT = {"r1": "100.126.240.11", "r2": "100.126.240.12"}
HOSTNAME = {"r1": "JB-140100-DC-WR01", "r2": "JB-140000-DC-WR01"}
CONFIGS = Path(__file__).parent / "configs"

SPEC = LabSpec(
    name=LAB,
    mgmt_net="100.126.240.0/24",
    mgmt_host_ip="100.126.240.1",
    nodes=(
        NodeSpec("r1", HOSTNAME["r1"], "wan", "router", f"{MGMT['r1']}/24", ("sshd", "frr")),
        NodeSpec("r2", HOSTNAME["r2"], "wan", "router", f"{MGMT['r2']}/24", ("sshd", "frr")),
    ),
    links=(
        LinkSpec(
            "r1-r2",
            IfaceSpec("r1", "eth1", ("10.220.0.0/31", "fd20::/127")),
            IfaceSpec("r2", "eth1", ("10.220.0.1/31", "fd20::1/127")),
        ),
    ),
)

requires_root = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (namespaces, mounts)")


@pytest.fixture(scope="module")
def lab_lock() -> Iterator[None]:
    """The lab tests' host-wide lock, for this module only (a session-long hold would block tests/lab)."""
    with shared_lab_lock():
        yield


@pytest.fixture(scope="module")
def lab(lab_lock: None) -> Iterator[dict[str, Any]]:
    runtime.down(LAB)  # whatever an aborted earlier run left behind
    info = runtime.up(SPEC)
    try:
        yield info
    finally:
        runtime.down(LAB)


def config(name: str) -> str:
    return (CONFIGS / name).read_text()
