"""One workspace loader (network/workspace.py): each input file is read once per process, by `jinbao run` too."""

from __future__ import annotations

import builtins
import io
import json
from collections import Counter
from pathlib import Path

import pytest

from ipplan.config import REGISTRY_FILE
from ipplan.ports import PORTS_FILE

WATCHED = {REGISTRY_FILE, PORTS_FILE, "jinbao.yaml", "ipplan.yaml", "routing.yaml"}


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How many times each watched inventory file is opened for reading (Path.open goes through io.open)."""
    counts: Counter[str] = Counter()
    real_open = io.open

    def counting_open(file, mode="r", *args, **kwargs):
        name = Path(file).name if isinstance(file, str | Path) else None
        if name in WATCHED and not set(mode) & set("wax+"):
            counts[name] += 1
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(io, "open", counting_open)
    monkeypatch.setattr(builtins, "open", counting_open)
    return counts


def test_counting_sees_a_read(reads: Counter[str], inv_dir: Path) -> None:
    """The counter is not blind: two loaders reading independently are counted twice."""
    from ipplan.service import open_plan
    from network.service import open_network

    reads.clear()  # copying the inventory into tmp_path read the files too
    open_plan(inv_dir)
    open_network(inv_dir)
    assert reads[REGISTRY_FILE] == 2 and reads[PORTS_FILE] == 2 and reads["jinbao.yaml"] == 2


def test_workspace_reads_each_file_once(reads: Counter[str], inv_dir: Path) -> None:
    from network.plan import build_intents
    from network.workspace import Workspace

    reads.clear()
    ws = Workspace(inv_dir)
    assert ws.plan_state.demand
    ws.allocate()
    intents = build_intents(ws.network, {"JB-140100-DC-WR01"})
    assert ws.network is ws.network and ws.registry is ws.network.addr.reg
    assert intents["JB-140100-DC-WR01"].interfaces
    assert {f: reads[f] for f in WATCHED} == dict.fromkeys(WATCHED, 1)


@pytest.mark.slow
def test_run_reads_the_ip_record_once(reads: Counter[str], inv_dir: Path, tmp_path: Path) -> None:
    """`jinbao run` (the whole pipeline, real render and verify of the nation) reads the 9 MB IP record once,
    and every other input file once."""
    from jinbao.pipeline import run_all

    record = inv_dir / REGISTRY_FILE
    assert record.stat().st_size > 5_000_000  # the national record, not a toy
    reads.clear()
    summary = run_all(inv_dir, tmp_path / "out", log=lambda _m: None)
    steps = [s["step"] for s in summary["steps"]]
    assert summary["ok"] and steps[-5:] == ["plan", "render", "verify", "diagram", "policy"]
    assert len(json.loads((tmp_path / "out" / "configs" / "manifest.json").read_text())["devices"]) > 3000
    assert {f: reads[f] for f in WATCHED} == dict.fromkeys(WATCHED, 1)
