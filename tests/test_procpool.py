"""core/procpool: worker processes never fork from a process running other threads (the child would inherit
their locks held, and hang); the pools built on it give the same results under either start method."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from core import procpool
from network.render import render_many
from network.render.engine import PARALLEL_MIN
from network.secrets import LabTestSecrets
from tests.render.test_render_speed import _batch


@pytest.fixture
def another_thread() -> Iterator[None]:
    stop = threading.Event()
    t = threading.Thread(target=stop.wait, daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join()


def test_fork_only_while_single_threaded(another_thread: None) -> None:
    assert threading.active_count() > 1
    assert not procpool.fork_is_safe()
    assert procpool.context().get_start_method() == "forkserver"


def test_fork_when_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    assert procpool.context().get_start_method() == "fork"


def test_render_workers_started_fresh_render_the_same(tmp_path: Path, another_thread: None) -> None:
    batch = _batch(PARALLEL_MIN + 8)
    serial = render_many(batch, LabTestSecrets(), tmp_path / "serial", workers=1)
    assert procpool.context().get_start_method() == "forkserver"
    assert render_many(batch, LabTestSecrets(), tmp_path / "parallel", workers=2) == serial


def test_policy_workers_started_fresh_verify_the_same(another_thread: None) -> None:
    from network.policy.service import open_world, verify_sites
    from tests.conftest import INVENTORY

    world = open_world(INVENTORY)
    sites = [s for s in world.firewall_sites if s.startswith("14")][:10]
    serial, parallel = verify_sites(world, sites, workers=1), verify_sites(world, sites, workers=2)
    assert parallel.workers == 2 and serial.workers == 1
    assert [s.as_dict() for s in parallel.sites] == [s.as_dict() for s in serial.sites]
    assert parallel.rule_lines > 500
