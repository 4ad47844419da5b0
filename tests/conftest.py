"""Shared fixtures: copies of the embedded inventory that tests may change freely."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
INVENTORY = ROOT / "inventory"
DATA_FILES = ("jinbao.yaml", "ipplan.yaml", "routing.yaml", "policy.yaml", "regions.csv", "dr.yaml",
              "ip-registry.tsv", "port-registry.tsv")
RECORDS = ("ip-registry.tsv", "port-registry.tsv")


def copy_inventory(dest: Path, with_registry: bool = True) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in DATA_FILES:
        if name in RECORDS and not with_registry:
            continue
        shutil.copy2(INVENTORY / name, dest / name)
    return dest


@pytest.fixture
def inv_dir(tmp_path: Path) -> Path:
    """The default national inventory with its committed registry."""
    return copy_inventory(tmp_path / "inventory")


@pytest.fixture
def empty_inv_dir(tmp_path: Path) -> Path:
    """The default national inventory with no registry yet."""
    return copy_inventory(tmp_path / "inventory", with_registry=False)


def jinbao(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess, as a user would."""
    return subprocess.run([sys.executable, "-m", "jinbao.cli", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=300)
