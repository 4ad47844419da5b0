"""The network plan's edges: read inventory, IP registry and routing policy from a directory."""

from __future__ import annotations

from pathlib import Path

from network.plan import PlanInput
from network.workspace import Workspace


def open_network(directory: Path) -> PlanInput:
    """The network plan's input, read from the directory (a fresh `Workspace`)."""
    return Workspace(directory).network
