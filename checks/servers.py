"""`jinbao check servers`: the testinfra suites (checks/testinfra) run against the servers of an Ansible
inventory (a lab's or the real one), their outcomes mapped to the catalogue's `testinfra` controls.

A control's `check` names one suite test, `<file>::<test>` (e.g. `test_baseline.py::test_sshd_keys_only`);
every suite test is mapped by exactly one control (tests/compliance/test_servers_dr_units.py). Hosts are
checked in parallel, one pytest process per host (testinfra's ansible backend, `--sudo`), each writing JUnit
XML, which is then read here: passed -> pass, failed -> fail (the assertion as evidence), error (the host
unreachable, a fixture broke, a database server's inventory incomplete) -> error. Only controls that apply to
the host's role are read; a suite that skipped one of those (e.g. the PostgreSQL suite deciding a DB server is
not a database) is an error too: what the catalogue says applies is never silently left out.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from xml.etree import ElementTree as ET

from checks.catalogue import Catalogue, Control
from checks.results import Result, site_of

ROOT = Path(__file__).resolve().parent.parent
SUITES = Path(__file__).parent / "testinfra"
TIMEOUT_S = 900


def suite_tests() -> set[str]:
    """Every test of the suites, as `<file>::<test>` (what a control's `check` names)."""
    import ast

    out = set()
    for f in sorted(SUITES.glob("test_*.py")):
        tree = ast.parse(f.read_text(encoding="utf-8"))
        out |= {f"{f.name}::{n.name}" for n in tree.body
                if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")}
    return out


def pytest_argv(inventory: Path, host: str, junit: Path) -> list[str]:
    return [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--no-header", "-o", "addopts=",
            "-o", "junit_family=xunit1", f"--junitxml={junit}", f"--hosts=ansible://{host}",
            f"--ansible-inventory={inventory}", "--sudo", str(SUITES.relative_to(ROOT))]


def run_suites(inventory: Path, hosts: Iterable[str], vault_password_file: Path | None, workers: int = 4,
               progress: Callable[[str], None] | None = None) -> dict[str, str]:
    """host -> JUnit XML of the suites run against it ('' when pytest wrote none)."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
           "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    if vault_password_file:
        env["ANSIBLE_VAULT_PASSWORD_FILE"] = str(vault_password_file)

    def one(host: str, tmp: Path) -> tuple[str, str]:
        junit = tmp / f"{host}.xml"
        try:
            r = subprocess.run(pytest_argv(inventory, host, junit), capture_output=True, text=True, cwd=ROOT,
                               env=env, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:  # one hung host: its controls become errors, the others still report
            if progress:
                progress(f"{host}: suites timed out after {TIMEOUT_S} s")
            return host, ""
        if progress:
            progress(f"{host}: suites done (pytest exit {r.returncode})")
        if junit.exists():
            return host, junit.read_text(encoding="utf-8")
        return host, ""

    hosts = sorted(hosts)
    with tempfile.TemporaryDirectory(prefix="jinbao-testinfra-") as t, \
            ThreadPoolExecutor(max(1, min(workers, len(hosts) or 1))) as ex:
        return dict(ex.map(lambda h: one(h, Path(t)), hosts))


def _outcome(case: ET.Element) -> tuple[str, str] | None:
    """(status, evidence) of one JUnit test case; None when skipped."""
    for tag, status in (("failure", "fail"), ("error", "error")):
        el = case.find(tag)
        if el is not None:
            message = (el.get("message") or "").strip().splitlines()
            body = (el.text or "").splitlines()
            # pytest's traceback marks the failing source line with ">" and the explanation with "E"
            where = [ln[1:].strip() for ln in body if ln.startswith(">")][-1:]
            why = [ln[1:].strip() for ln in body if ln.startswith("E ") and ln[1:].strip()][:1] or message[:1]
            return status, (" | ".join(where + why) or tag)[:400]
    if case.find("skipped") is not None:
        return None
    return "pass", "passed"


def results_from_junit(cat: Catalogue, host: str, role: str, xml: str) -> list[Result]:
    """One host's suite outcomes -> one Result per applicable control. A control that applies to the host's
    role but whose test did not run at all (pytest crashed, no JUnit) or was skipped is an error, never a pass."""
    controls = [c for c in cat.of_kind("testinfra") if c.applies_to.matches(role)]
    by_test: dict[str, Control] = {c.check or "": c for c in controls}
    seen: dict[str, tuple[str, str] | None] = {}
    why = "the suites did not run (no JUnit report: host unreachable or pytest failed)"
    if xml.strip():
        try:
            root = ET.fromstring(xml)
        except ET.ParseError as e:
            why = f"unreadable JUnit XML: {e}"
        else:
            for case in root.iter("testcase"):
                module = (case.get("classname") or "").rsplit(".", 1)[-1]
                test = f"{module}.py::{(case.get('name') or '').split('[', 1)[0]}"
                if test in by_test:
                    seen[test] = _outcome(case)
    out = []
    for test, c in sorted(by_test.items(), key=lambda kv: kv[1].id):
        if test in seen:
            got = seen[test]
            if got is None:  # the catalogue says it applies to this role: the suite disagreeing is an error
                status, evidence = "error", f"{test}: skipped on a {role} host, to which the control applies"
            else:
                status, evidence = got
                evidence = f"{test}: {evidence}"
        else:
            status, evidence = "error", f"{test}: no outcome ({why if not seen else 'test not collected'})"
        out.append(Result(host, c.id, c.clause, status, evidence, site_of(host), "testinfra"))  # type: ignore[arg-type]
    return out


def inventory_servers(inventory: Path, vault_password_file: Path | None, group: str = "servers") -> list[str]:
    """The hosts of `group` in any inventory Ansible reads (a lab's generated file or the plugin's)."""
    import json

    from core.errors import JinbaoError

    vault = ["--vault-password-file", str(vault_password_file)] if vault_password_file else []
    r = subprocess.run([str(Path(sys.executable).parent / "ansible-inventory"), "-i", str(inventory), "--list",
                        *vault], capture_output=True, text=True, cwd=ROOT,
                       env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}, timeout=120)
    if r.returncode != 0:
        last = (r.stderr or r.stdout).strip().splitlines()[-1:] or ["no output"]
        raise JinbaoError(f"ansible-inventory failed: {last[0]}", file=str(inventory))
    data = json.loads(r.stdout)
    hosts: set[str] = set()
    todo = [group]
    while todo:  # a group's hosts and its children's
        g = data.get(todo.pop(), {})
        hosts |= set(g.get("hosts", []))
        todo += g.get("children", [])
    return sorted(hosts)
