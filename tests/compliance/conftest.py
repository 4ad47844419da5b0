"""One lab for every compliance integration test: the session's deployed `minimal` slice, lab `jbck`
(tests/conftest.py `minimal_lab`; the policy and service-address lab tests use it after these).
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from lab import runtime
from lab.slice import LabPlan, node_name
from tests.conftest import MINIMAL_LAB, jinbao
from tests.lab_e2e.conftest import wait_for  # noqa: F401 - one polling helper for the lab tests

LAB = MINIMAL_LAB

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


@pytest.fixture
def lab(minimal_lab: LabPlan) -> LabPlan:
    return minimal_lab
