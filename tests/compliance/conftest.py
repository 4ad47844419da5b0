"""One lab for every compliance integration test: lab `jbck`, the `minimal` slice (ministry DC + DR, Shanxi,
Taiyuan: 22 nodes, every role), management net 100.126.235.0/24, brought up and deployed once per package.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from lab import runtime
from lab.slice import LabPlan, node_name
from tests.conftest import jinbao
from tests.lab_e2e.conftest import wait_for  # noqa: F401 - one polling helper for the lab tests
from tests.labfixture import deployed_lab

LAB = "jbck"
MGMT_NET = "100.126.235.0/24"

requires_root = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (namespaces, mounts)")


def sh(host: str, *argv: str, timeout: float = 30) -> Any:
    r = runtime.exec(LAB, node_name(host), list(argv), timeout=timeout)
    if r.returncode != 0:
        raise AssertionError(f"{host}: {' '.join(argv)} -> {r.returncode}: {r.stderr or r.stdout}")
    return r


def check(*args: str) -> tuple[int, list[dict[str, Any]], str]:
    """`jinbao check … --lab jbck --json`: exit code, results, stderr."""
    r = jinbao("check", *args, "--lab", LAB, "--json")
    data = json.loads(r.stdout) if r.stdout.strip() else {"results": []}
    return r.returncode, data["results"], r.stderr


def not_passing(results: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(r["node"], r["control"]) for r in results if r["status"] != "pass"}


@pytest.fixture(scope="package")
def lab() -> Iterator[LabPlan]:
    with deployed_lab(LAB, MGMT_NET, "minimal") as lp:
        yield lp
