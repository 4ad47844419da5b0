"""One workspace loader (network/workspace.py): each input file is read once per process, by `jinbao run` too."""

from __future__ import annotations

import builtins
import io
import json
from collections import Counter
from pathlib import Path

import pytest

from core.errors import JinbaoError
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


class _Reached(Exception):
    """A lab step got as far as its first lab I/O (faked here): everything it planned before came from the run."""


def test_the_lab_half_reads_no_input_again(reads: Counter[str], inv_dir: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """`jinbao run`'s lab half plans on the run's workspace: preflight, the static half's uses and every lab
    step together open each input file once. No lab is brought up: each step runs for real up to its first
    lab I/O, faked at that edge (namespaces, vSphere, a device connection, a playbook, a poll, the one-way
    link), which records that the step got there."""
    from jinbao import labdr, labrun
    from jinbao.pipeline import lab_steps
    from network.workspace import Workspace

    reached: list[str] = []

    def edge(name: str):
        def fake(*args: object, **kwargs: object) -> None:
            reached.append(name)
            raise _Reached(name)
        return fake

    run = labrun.LabRun(name="jbws8", mgmt_net="100.126.210.0/24", slice="minimal")
    monkeypatch.setenv("JINBAO_DR_PASSWORD", "not-used")  # the drill's operator password, not the vault
    monkeypatch.setattr("os.geteuid", lambda: 0)
    monkeypatch.setattr("lab.runtime.down", edge("lab-up: namespaces"))
    monkeypatch.setattr("vsphere.simulator.running", edge("vm-provision: vSphere"))
    monkeypatch.setattr("network.deploy.engine.open_adapter", edge("deploy: connect"))
    monkeypatch.setattr("lab.runtime.exec", edge("routing: a node"))
    monkeypatch.setattr("lab.zoneprobe.attached", edge("isolation: probes"))  # plumbing its probe hosts
    monkeypatch.setattr("jinbao.provision.run_playbook", lambda name, *a, **k: edge(f"playbook {name}")())
    monkeypatch.setattr("checks.run.confirmed_network_results", edge("compliance: SNMP"))
    monkeypatch.setattr("dr.status.current_status", edge("dr-drill: the pair"))
    monkeypatch.setattr("lab.ferry_link.OneWayLink.up", edge("ferry: the link"))
    monkeypatch.setattr("lab.ferry_link.OneWayLink.down", lambda self: None)
    monkeypatch.setattr("lab.servers.running_spec", lambda name: type("Spec", (), {"name": name, "nodes": ()})())

    reads.clear()
    ws = Workspace(inv_dir)
    pair = labdr.slice_pair(ws, run.slice)
    monkeypatch.setattr("dr.access.addresses", lambda *a: {pair.primary: "192.0.2.1", pair.replica: "192.0.2.2"})
    assert labrun.preflight(run, ws) == f"{pair.primary} -> {pair.replica}"
    ws.allocate()  # the static half, as far as it touches the workspace
    assert ws.network.inv.devices and ws.zone_world.policy
    for name, fn in lab_steps(ws, tmp_path / "out", run, lambda _m: None):
        try:
            fn()
        except _Reached:
            pass
        except JinbaoError as e:  # the deploy engine reports a device it could not reach as failed
            assert name == "deploy" and "not committed" in str(e), (name, e)
    assert list(dict.fromkeys(reached)) == [  # every step got to its lab I/O (deploy: once per device)
        "lab-up: namespaces", "vm-provision: vSphere", "deploy: connect", "routing: a node", "isolation: probes",
        "playbook site", "playbook dr-replication", "compliance: SNMP", "dr-drill: the pair", "ferry: the link"]
    assert {f: reads[f] for f in WATCHED} == dict.fromkeys(WATCHED, 1)
