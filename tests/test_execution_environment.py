"""execution-environment.yml builds a context with ansible-builder and carries exactly pyproject's dependencies."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

from tests.conftest import ROOT

EE = ROOT / "execution-environment.yml"


def _builder() -> str:
    exe = Path(sys.executable).with_name("ansible-builder")
    found = str(exe) if exe.exists() else shutil.which("ansible-builder")
    assert found, "ansible-builder is a dev dependency (pyproject.toml [dev]): run make setup"
    return found


def _norm(req: str) -> str:
    """'psycopg[binary] >= 3.1' -> 'psycopg[binary]>=3.1' (case and spaces aside, the same requirement)."""
    return re.sub(r"\s+", "", req).lower()


def _pyproject_deps() -> list[str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]


def _ee_requirements(doc: dict) -> list[str]:
    dep = doc["dependencies"]
    pinned = [dep["ansible_core"]["package_pip"], dep["ansible_runner"]["package_pip"]]
    return sorted(map(_norm, [*dep["python"], *pinned]))


def test_ee_requirements_are_pyprojects_dependencies() -> None:
    doc = yaml.safe_load(EE.read_text(encoding="utf-8"))
    assert _ee_requirements(doc) == sorted(map(_norm, _pyproject_deps()))
    assert "ansible-builder" in " ".join(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
                                         ["optional-dependencies"]["dev"])


def test_ansible_builder_create_makes_the_build_context(tmp_path: Path) -> None:
    ctx = tmp_path / "context"
    r = subprocess.run([_builder(), "create", "-f", str(EE), "-c", str(ctx), "--output-filename", "Containerfile"],
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    containerfile = (ctx / "Containerfile").read_text()
    assert "quay.io/centos/centos:stream9" in containerfile and 'PYCMD="/usr/bin/python3.11"' in containerfile
    assert "ansible-core>=2.17,<2.20 ansible-runner>=2.3" in containerfile
    assert "community.postgresql.postgresql_db" in containerfile  # the collections check step
    reqs = [x for x in (ctx / "_build" / "requirements.txt").read_text().splitlines() if x.strip()]
    core = {_norm(x) for x in _pyproject_deps() if x.startswith(("ansible-core", "ansible-runner"))}
    assert sorted(map(_norm, reqs)) == sorted(_norm(x) for x in _pyproject_deps() if _norm(x) not in core)
    bindep = (ctx / "_build" / "bindep.txt").read_text()
    assert "graphviz [platform:rpm]" in bindep and "openssh-clients" in bindep


def test_a_drifted_requirement_is_caught() -> None:
    """The comparison can fail: drop one dependency from a copy and it no longer matches."""
    doc = yaml.safe_load(EE.read_text(encoding="utf-8"))
    doc["dependencies"]["python"].remove("zfec>=1.5")
    assert _ee_requirements(doc) != sorted(map(_norm, _pyproject_deps()))
    doc["dependencies"]["python"].append("zfec>=1.6")
    assert _ee_requirements(doc) != sorted(map(_norm, _pyproject_deps()))
