"""Deterministic names of every kernel object and path a lab creates (one place, so down can find them)."""

from __future__ import annotations

import hashlib
from pathlib import Path

STATE_ROOT = Path("/var/lib/jinbao/lab")
NETNS_DIR = Path("/run/netns")
MGMT_IFNAME = "mgmt0"  # node side of the management veth
MGMT_TABLE = 100  # node-local routing table of the management plane (named "mgmt" in the node)
SEGMENT_BRIDGE = "br0"  # the bridge inside a segment's namespace


def node_netns(lab: str, node: str) -> str:
    return f"jb-{lab}-{node}"


def segment_netns(lab: str, segment: str) -> str:
    return f"jbs-{lab}-{segment}"


def lab_netns_prefixes(lab: str) -> tuple[str, str]:
    return f"jb-{lab}-", f"jbs-{lab}-"


def mgmt_bridge(lab: str) -> str:
    return f"jbmgmt-{lab}"  # lab names are at most 8 characters: 15 in all


def host_veth(lab: str, node: str) -> str:
    """Root-namespace end of a node's management veth: unique, at most 15 characters."""
    return "jm" + hashlib.sha1(f"{lab}/{node}".encode()).hexdigest()[:10]


def segment_port(index: int) -> str:
    return f"p{index}"


def lab_dir(lab: str) -> Path:
    return STATE_ROOT / lab


def state_file(lab: str) -> Path:
    return lab_dir(lab) / "state.json"


def node_dir(lab: str, node: str) -> Path:
    return lab_dir(lab) / "nodes" / node


def ssh_dir(lab: str) -> Path:
    return lab_dir(lab) / "ssh"
