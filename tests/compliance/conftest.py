"""One lab for every compliance integration test: lab `jbck`, the `minimal` slice (ministry DC + DR, Shanxi,
Taiyuan: 22 nodes, every role), management net 100.126.235.0/24, brought up and deployed once per package.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from lab import runtime
from lab.slice import LabPlan, build_lab, node_name
from tests.conftest import INVENTORY, jinbao
from tests.lab.conftest import lab_objects, leftovers, snapshot
from tests.lablock import lab_lock

LAB = "jbck"
MGMT_NET = "100.126.235.0/24"

requires_root = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (namespaces, mounts)")


def sh(host: str, *argv: str, timeout: float = 30) -> Any:
    r = runtime.exec(LAB, node_name(host), list(argv), timeout=timeout)
    if r.returncode != 0:
        raise AssertionError(f"{host}: {' '.join(argv)} -> {r.returncode}: {r.stderr or r.stdout}")
    return r


def wait_for(pred: Callable[[], Any], timeout: float, interval: float = 0.5, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or pred}")
        time.sleep(interval)


def check(*args: str) -> tuple[int, list[dict[str, Any]], str]:
    """`jinbao check … --lab jbck --json`: exit code, results, stderr."""
    r = jinbao("check", *args, "--lab", LAB, "--json")
    data = json.loads(r.stdout) if r.stdout.strip() else {"results": []}
    return r.returncode, data["results"], r.stderr


def not_passing(results: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(r["node"], r["control"]) for r in results if r["status"] != "pass"}


@pytest.fixture(scope="package")
def lab() -> Iterator[LabPlan]:
    with lab_lock():
        runtime.down(LAB)  # whatever an aborted run left
        before = snapshot()
        lp = build_lab(INVENTORY, "minimal", LAB, MGMT_NET)
        r = jinbao("lab", "up", "--name", LAB, "--mgmt-net", MGMT_NET, "--slice", "minimal", "--json")
        assert r.returncode == 0, r.stderr
        try:
            r = jinbao("deploy", "--lab", LAB, "--confirm", "90", "--json")
            bad = [d for d in json.loads(r.stdout)["devices"] if d["status"] != "committed"]
            assert r.returncode == 0 and not bad, (bad[:2], r.stderr[-2000:])
            yield lp
        finally:
            recorded = lab_objects(LAB)
            r = jinbao("lab", "down", "--name", LAB)
        assert r.returncode == 0, r.stderr
        assert leftovers(LAB, before, recorded) == {}
