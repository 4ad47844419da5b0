"""Shared fixtures: copies of the embedded inventory that tests may change freely."""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

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


# Lab tracks for `make test` (pytest-xdist, tests/lablock.py): each track runs on one worker, in collection
# order, beside the other tests. `lab-run`: `make run` end to end (its own lab, the longest test), the server
# builds' lab and a few labs of their own; `lab`: every other module holding a lab test (marked integration),
# whose shared labs below assume file order (checks on a healthy lab first, destructive drills after).
LAB_TRACKS = {"tests/run/test_run_lab.py": "lab-run", "tests/servers/test_servers_lab.py": "lab-run",
              # its simulator runs the binary `make run`'s does: never beside it (test_run_lab's leftover check)
              "tests/vsphere/test_vm.py": "lab-run",
              # labs of their own, moved here to even the two tracks out (the lab_e2e package shares one lab)
              "tests/lab_e2e/test_slice.py": "lab-run", "tests/lab_e2e/test_faults.py": "lab-run",
              "tests/ferry/test_ferry_lab.py": "lab-run"}


@functools.cache
def _holds_lab_tests(module: str) -> bool:
    path = ROOT / module
    return path.suffix == ".py" and path.is_file() and "mark.integration" in path.read_text(encoding="utf-8")


def lab_track(nodeid: str) -> str | None:
    """The lab track of a test (None: not a lab module), from its node id alone: the xdist controller, which
    schedules by node id, never imports the tests."""
    module = nodeid.split("::", 1)[0]
    return LAB_TRACKS.get(module) or ("lab" if _holds_lab_tests(module) else None)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadgroup` with the lab tracks as groups. (xdist's own groups travel as a node id suffix, which
    pytest 9.2's node ids no longer take: the scheduler groups by lab_track instead.)"""
    if config.getoption("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class LabTracks(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return lab_track(nodeid) or nodeid

    return LabTracks(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The lab tracks go first (with `--no-loadscope-reorder`, the scheduler's queue follows this order), so
    that they start at once on workers of their own; the other tests follow on whichever worker is free."""
    for item in items:
        shared = {"minimal_lab", "dr_lab"} & set(getattr(item, "fixturenames", ()))
        if (item.get_closest_marker("integration") or shared) and lab_track(item.nodeid) is None:
            raise pytest.UsageError(f"{item.nodeid}: a lab test (marked integration, or using {sorted(shared)}) "
                                    "in a module without `mark.integration`, which the xdist controller needs to "
                                    "put it on a lab track (tests/conftest.py lab_track)")
    order = {"lab-run": 0, "lab": 1}
    items.sort(key=lambda item: order.get(lab_track(item.nodeid) or "", 2))  # stable: collection order kept


_RUN_LOCK: list[IO[str]] = []


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    """On the xdist controller: take the lab lock for the whole run once a worker has collected lab tests
    (tests/lablock.py), so that the run's lab tracks run side by side while other runs wait."""
    if _RUN_LOCK or node.config.getoption("dist") != "loadgroup" or not any(lab_track(i) for i in ids):
        return  # other modes spread lab tests over the workers: each takes the lock itself (tests/lablock.py)
    from tests.lablock import LOCK, acquire

    _RUN_LOCK.append(acquire(waiting=lambda: print(f"\nwaiting for the lab lock {LOCK}: another run drives the "
                                                   "test labs", flush=True)))


def pytest_unconfigure() -> None:
    """After xdist has stopped the workers (their labs torn down), not at session finish, which comes first."""
    while _RUN_LOCK:
        _RUN_LOCK.pop().close()


@pytest.fixture(scope="session")
def dr_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """`jbdr` built once (tests/disaster/drlab.py): the compliance checks, then the drills."""
    from tests.disaster.drlab import built_lab

    with built_lab(tmp_path_factory.mktemp("drlab")) as lab:
        yield lab


MINIMAL_LAB, MINIMAL_MGMT_NET = "jbck", "100.126.235.0/24"


@pytest.fixture(scope="session")
def minimal_lab() -> Iterator[Any]:
    """`jbck`, the `minimal` slice (ministry DC + DR, Shanxi, Taiyuan: 22 nodes, every role) brought up and
    deployed (routing and zone rulesets) once for the tests that need a whole deployed slice and leave it as
    they found it: the compliance checks, the service-address move, the zone policy."""
    from tests.labfixture import deployed_lab

    with deployed_lab(MINIMAL_LAB, MINIMAL_MGMT_NET, "minimal") as lp:
        # converged before the first test looks: every planned BGP session established (seconds when the
        # machine is idle, longer beside the other lab track and tests)
        deadline = time.monotonic() + 240
        while down := sessions_down(lp):
            assert time.monotonic() < deadline, f"{len(down)} BGP sessions down 240 s after deploy: {down[:5]}"
            time.sleep(2)
        yield lp


def sessions_down(lp: Any) -> list[str]:
    """The planned BGP sessions of a deployed lab slice that are not established, as `router -> address`."""
    from lab import runtime

    down = []
    for host, intent in sorted(lp.intents.items()):
        if intent.bgp is None:
            continue
        r = runtime.exec(lp.name, lp.node(host), ["vtysh", "-c", "show bgp neighbors json"], timeout=30)
        try:
            state = {a: n.get("bgpState") for a, n in json.loads(r.stdout or "{}").items()}
        except json.JSONDecodeError:  # bgpd not answering yet: vtysh prints an error, not JSON
            state = {}
        down += [f"{host} -> {n.address}" for n in intent.bgp.neighbors if state.get(n.address) != "Established"]
    return down
