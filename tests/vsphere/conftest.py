"""One vSphere simulator per test module, shaped like Shanxi's vCenter under the default mapping."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ROOT
from vsphere import simulator as vcsim

PROVINCE = "140000"


def shanxi_sites() -> list[str]:
    from plugins.hostvars import load_view

    view = load_view(ROOT / "inventory", scope=PROVINCE)
    return sorted({h.vars["jinbao_site"] for h in view.hosts.values() if h.vars["jinbao_kind"] == "server"})


@pytest.fixture(scope="module")
def sim() -> Iterator[vcsim.Simulator]:
    sites = shanxi_sites()
    with vcsim.running(clusters=len(sites)) as s:
        vcsim.shape(s, f"JB-{PROVINCE}", sites)
        yield s


def vm_cli(sim: vcsim.Simulator | None, *args: str, env: dict[str, str] | None = None,
           ) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **(sim.env() if sim else {}), **(env or {})}
    return subprocess.run([sys.executable, "-m", "jinbao.cli", "vm", *args], capture_output=True, text=True,
                          cwd=ROOT, env=full, timeout=300)


def session(sim: vcsim.Simulator) -> Any:
    from vsphere.client import Endpoint, connect

    return connect(Endpoint.from_env(sim.env()))
