"""The servers and dr kinds without a lab: the catalogue maps every suite test exactly once, JUnit outcomes
become results (skipped = not applicable, no report = error, never pass), and every dr control's pass and
fail scenario gives that verdict."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from checks.catalogue import default_catalogue
from checks.dr_rules import ASYNC_RPO_S, HEALTHY_FACTS, HEALTHY_STATUS, apply_scenario, evaluate
from checks.servers import results_from_junit, suite_tests

CAT = default_catalogue()
HOST = "JB-140100-DC-DB01"


def test_every_suite_test_is_mapped_by_exactly_one_control() -> None:
    checks = Counter(c.check for c in CAT.of_kind("testinfra"))
    assert set(checks) == suite_tests(), "a suite test without a control, or a control naming no test"
    assert all(n == 1 for n in checks.values())


def _junit(cases: list[tuple[str, str, str]]) -> str:
    rows = []
    for module, test, outcome in cases:
        inner = {"pass": "", "skip": '<skipped type="pytest.skip" message="not a database server"/>',
                 "fail": '<failure message="AssertionError: assert &apos;yes&apos; == &apos;no&apos;">'
                         "sshd = {...}\n\n"
                         "&gt;       assert sshd[&quot;passwordauthentication&quot;] == &quot;no&quot;\n"
                         "E       AssertionError: assert &apos;yes&apos; == &apos;no&apos;\n</failure>",
                 "error": '<error message="failed on setup with &quot;RuntimeError: unreachable&quot;">'
                          "E   RuntimeError: unreachable</error>"}[outcome]
        rows.append(f'<testcase classname="checks.testinfra.{module}" name="{test}[ansible://{HOST}]">{inner}'
                    "</testcase>")
    return f'<?xml version="1.0"?><testsuites><testsuite name="pytest">{"".join(rows)}</testsuite></testsuites>'


def test_junit_outcomes_become_results() -> None:
    cases = [(t.split("::")[0][:-3], t.split("::")[1], "pass") for t in sorted(suite_tests())]
    cases = [(m, t, "fail" if t == "test_sshd_keys_only" else "error" if t == "test_audit_rules"
              else "skip" if m == "test_postgresql" else o) for m, t, o in cases]
    got = {r.control: r for r in results_from_junit(CAT, HOST, "DB", _junit(cases))}
    # the catalogue applies the PostgreSQL controls to a DB server: the suite skipping them is an error
    pg = [r for c, r in got.items() if c.startswith("JB-SRV-PG-")]
    assert len(pg) == 5 and {r.status for r in pg} == {"error"}
    assert all("skipped on a DB host" in r.evidence for r in pg)
    assert got["JB-SRV-SSH-KEYS-ONLY"].status == "fail"
    ev = got["JB-SRV-SSH-KEYS-ONLY"].evidence
    assert "passwordauthentication" in ev and "'yes' == 'no'" in ev and "\n" not in ev
    assert got["JB-SRV-AUDITD"].status == "error" and "unreachable" in got["JB-SRV-AUDITD"].evidence
    assert got["JB-SRV-SSH-NO-ROOT-LOGIN"].status == "pass"
    assert {r.kind for r in got.values()} == {"testinfra"} and {r.site for r in got.values()} == {"140100-DC"}
    assert all(r.clause == CAT.control(r.control).clause for r in got.values())


def _run_pg_suite(tmp_path: Path, hosts: dict[str, str]) -> str:
    """The real PostgreSQL suite (pytest + testinfra's ansible backend, as checks/servers.py runs it) against a
    hand inventory: its JUnit XML. Nothing is run on the hosts: what is asserted happens before that."""
    import os
    import subprocess
    import sys

    from checks.servers import ROOT, SUITES

    inv = tmp_path / "hosts.yml"
    inv.write_text("all:\n  children:\n    servers:\n      hosts:\n"
                   + "".join(f"        {h}: {v}\n" for h, v in hosts.items()))
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
           "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    junit = tmp_path / "suite.xml"
    subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-o", "addopts=",
                    "-o", "junit_family=xunit1", f"--junitxml={junit}", "--hosts=ansible://servers",
                    f"--ansible-inventory={inv}", str(SUITES / "test_postgresql.py")],
                   cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    return junit.read_text(encoding="utf-8")


def test_pg_suite_selects_by_role_and_errors_on_a_database_without_its_variables(tmp_path: Path) -> None:
    """A DB server outside `databases` without the PostgreSQL variables, and a host without the source of
    truth's variables, make every PostgreSQL test an error (not a skip); a management server is skipped."""
    from xml.etree import ElementTree as ET

    xml = _run_pg_suite(tmp_path, {"JB-140100-DC-DB01": "{jinbao_role: DB}",
                                   "JB-140100-DC-EX01": "{ansible_host: 192.0.2.1}",
                                   "JB-140100-DC-NM01": "{jinbao_role: NM}"})
    by_host: dict[str, list[ET.Element]] = {}
    for case in ET.fromstring(xml).iter("testcase"):
        by_host.setdefault(case.get("name", "").split("ansible://")[-1].rstrip("]"), []).append(case)

    def outcomes(host: str) -> tuple[set[str], str]:
        cases = by_host.get(host, [])
        assert len(cases) == 5, xml
        text = " ".join(ET.tostring(c, encoding="unicode") for c in cases)
        return {next((t for t in ("error", "failure", "skipped") if c.find(t) is not None), "pass")
                for c in cases}, text

    got, text = outcomes("JB-140100-DC-DB01")
    assert got == {"error"} and "lacks postgresql_databases, postgresql_app_roles, group databases" in text
    got, text = outcomes("JB-140100-DC-EX01")
    assert got == {"error"} and "no jinbao_role" in text
    assert outcomes("JB-140100-DC-NM01")[0] == {"skipped"}
    one = "".join(ET.tostring(c, encoding="unicode") for c in by_host["JB-140100-DC-DB01"])  # what `one` host gives
    rs = results_from_junit(CAT, "JB-140100-DC-DB01", "DB", f"<testsuites><testsuite>{one}</testsuite></testsuites>")
    pg = [r for r in rs if r.control.startswith("JB-SRV-PG-")]
    assert len(pg) == 5 and {r.status for r in pg} == {"error"}
    assert all("group databases" in r.evidence for r in pg), pg


@pytest.mark.parametrize("xml", ["", "<testsuites><oops"])
def test_no_or_broken_junit_is_an_error_on_every_control_never_a_pass(xml: str) -> None:
    rs = results_from_junit(CAT, HOST, "DB", xml)
    assert {r.control for r in rs} == {c.id for c in CAT.of_kind("testinfra")}
    assert {r.status for r in rs} == {"error"}


def test_a_test_missing_from_the_report_is_an_error() -> None:
    rs = results_from_junit(CAT, HOST, "DB", _junit([("test_baseline", "test_sshd_no_root_login", "pass")]))
    status = {r.control: r.status for r in rs}
    assert status.pop("JB-SRV-SSH-NO-ROOT-LOGIN") == "pass" and set(status.values()) == {"error"}


@pytest.mark.parametrize("control", [c.id for c in CAT.of_kind("dr")])
def test_dr_control_scenarios(control: str) -> None:
    c = CAT.control(control)
    assert evaluate(c.check or "", *apply_scenario(c.scenarios.pass_))[0] == "pass"
    status, evidence = evaluate(c.check or "", *apply_scenario(c.scenarios.fail))
    assert status == "fail", evidence


def test_dr_unreachable_is_an_error_and_sync_needs_a_sync_standby() -> None:
    down = {**HEALTHY_STATUS, "state": "unreachable", "error": "connection refused"}
    assert {evaluate(c.check or "", down, HEALTHY_FACTS)[0] for c in CAT.of_kind("dr")
            if c.check in ("streaming", "lag_within_rpo")} == {"error"}
    sync_potential = {**HEALTHY_STATUS, "mode": "sync", "sync_state": "potential"}
    assert evaluate("lag_within_rpo", sync_potential, HEALTHY_FACTS)[0] == "fail"
    assert evaluate("lag_within_rpo", {**sync_potential, "sync_state": "sync"}, HEALTHY_FACTS)[0] == "pass"


@pytest.mark.parametrize(("facts", "why"), [
    ({"archived_count": 0, "archived_age_s": None}, "never archived"),
    ({"archived_count": 0, "archived_age_s": None, "failed_count": 7, "archive_failing": True}, "never archived"),
    ({"archived_count": None, "archived_age_s": None}, "never archived"),
    ({"archived_count": 5, "archived_age_s": None}, "never archived"),  # no last_archived_time: nothing to trust
    ({"failed_count": 3, "archive_failing": True, "last_failed_wal": "00000001000000000000002A"},
     "last attempt failed"),
    ({"archive_mode": "off"}, "archive_mode=off"),
])
def test_wal_archive_fails_when_nothing_was_archived_or_it_failed_since(facts: dict, why: str) -> None:
    """pg_stat_archiver with no archived WAL (archived_count 0, last_archived_time NULL) is a fail, as is a
    failure after the last success; the evidence names the archiver's counts."""
    status, evidence = evaluate("wal_archive", HEALTHY_STATUS, {**HEALTHY_FACTS, **facts})
    assert status == "fail" and why in evidence, evidence
    assert f"archived_count={facts.get('archived_count', HEALTHY_FACTS['archived_count'])}" in evidence
    assert f"failed_count={facts.get('failed_count', HEALTHY_FACTS['failed_count'])}" in evidence


def test_wal_archive_passes_after_a_failure_that_a_later_success_cleared() -> None:
    status, evidence = evaluate("wal_archive", HEALTHY_STATUS, {**HEALTHY_FACTS, "failed_count": 2})
    assert status == "pass" and "archived_count=42, failed_count=2" in evidence, evidence


def test_dr_records_are_the_fields_dr_status_gives() -> None:
    """checks/ reads dr/'s records as mappings (peer layers): the healthy records have exactly their fields."""
    import dataclasses

    from dr.status import PairFacts, PairStatus

    assert set(HEALTHY_STATUS) == {f.name for f in dataclasses.fields(PairStatus)}
    assert set(HEALTHY_FACTS) == {f.name for f in dataclasses.fields(PairFacts)}


def test_cli_default_rpo_is_the_checks_one() -> None:
    from jinbao.commands import check

    assert check.ASYNC_RPO_S == ASYNC_RPO_S


def test_inventory_servers_reads_a_group_and_its_children(tmp_path: Path) -> None:
    from checks.servers import inventory_servers

    inv = tmp_path / "hosts.yml"
    inv.write_text("all:\n  children:\n    servers:\n      children:\n        role_db:\n          hosts:\n"
                   "            JB-140100-DC-DB01: {}\n        role_ex:\n          hosts:\n"
                   "            JB-140100-DC-EX01: {}\n    routers:\n      hosts:\n        JB-140100-DC-WR01: {}\n")
    assert inventory_servers(inv, None) == ["JB-140100-DC-DB01", "JB-140100-DC-EX01"]
    assert inventory_servers(inv, None, "role_db") == ["JB-140100-DC-DB01"]
    assert inventory_servers(inv, None, "nope") == []


def test_a_hung_host_times_out_alone(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """One host whose suites never finish gives no JUnit (its controls become errors); the others still run."""
    from checks import servers

    def argv(inventory, host, junit):  # type: ignore[no-untyped-def]
        return ["sleep", "30"] if host == "hung" else ["sh", "-c", f"echo '<testsuite/>' > {junit}"]

    monkeypatch.setattr(servers, "pytest_argv", argv)
    monkeypatch.setattr(servers, "TIMEOUT_S", 1)
    said: list[str] = []
    out = servers.run_suites(tmp_path, ["hung", "fine"], None, progress=said.append)
    assert out == {"fine": "<testsuite/>\n", "hung": ""}
    assert "hung: suites timed out after 1 s" in said
