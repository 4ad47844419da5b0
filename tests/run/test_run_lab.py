"""`make run` end to end: the Makefile's target itself (its setup, then `jinbao run`: the whole job, the
`minimal` slice: every role), in lab `jbrun` on management net 100.126.212.0/24 (RUN_ARGS): it builds the
servers and replication for the ministry's production database, audits everything built (network, configs,
every server's testinfra suites, the pair's replication), then switches over to the national DR centre with the
witness writing and fails back. Then nothing of it is left on the host, and the run's last step checked the
index it wrote in headless Chromium (out/index.png, every link resolving).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from checks.catalogue import default_catalogue
from inventory.naming import parse_hostname
from jinbao.indexcheck import local_links
from lab import names, runtime
from lab.ferry_link import OneWayLink
from tests.conftest import ROOT
from tests.lab.conftest import leftovers, snapshot
from tests.lablock import lab_lock

LAB, MGMT_NET = "jbrun", "100.126.212.0/24"
LAB_STEPS = ["preflight", "inventory", "allocate", "check", "export", "plan", "render", "verify", "diagram",
             "policy", "lab-up", "vm-provision", "deploy", "routing", "isolation", "servers", "dr-build", "compliance",
             "dr-drill", "ferry", "index-check"]
REPORTS = ("summary.json", "summary.md", "ipplan.json", "ipplan.md", "verify.json", "policy-verify.json",
           "diagram-nation.svg", "diagram-140000.svg", "vsphere.json", "servers.json", "servers-recap.txt",
           "deploy.json", "routing.json", "isolation.json", "compliance.html", "compliance.json",
           "compliance.junit.xml", "ferry.json", "index.html", "dr/drill-100000-DC-switchover.json",
           "dr/drill-100000-DC-switchover.html", "dr/drill-100000-DC-failback.json", "dr/drill-100000-DC-failback.html",
           "dr/replication-recap.txt", "index.png")

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (namespaces, mounts)"),
              pytest.mark.timeout(3600)]  # the static half on the nation, the lab half, and a wait for the lock


def _processes_of(paths: tuple[str, ...]) -> list[str]:
    """Live processes whose root, working directory or command line is in one of `paths`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            where = [os.readlink(proc / "root"), os.readlink(proc / "cwd"),
                     (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")]
        except OSError:
            continue
        if any(p in w for p in paths for w in where):
            found.append(f"{proc.name}: {where[2][:120]}")
    return found


def _make_env() -> dict[str, str]:
    """The environment of a `make run` typed in a shell: no KEEP_LAB, and not a sub-make of `make test`."""
    return {k: v for k, v in os.environ.items() if k not in ("KEEP_LAB", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")}


def _make_run(argv: list[str], env: dict[str, str], timeout: float, logs: Path) -> subprocess.CompletedProcess[str]:
    """make and the `jinbao run` under it, in a process group of their own: on a timeout both are stopped (a
    killed make alone would leave the run working on the lab), first as an operator's Ctrl-C would. Output goes
    to files: a grandchild that kept a pipe open could not hold the test after make has exited."""
    out, err = logs / "make-run.out", logs / "make-run.err"
    with out.open("w") as fo, err.open("w") as fe, subprocess.Popen(argv, stdout=fo, stderr=fe, env=env,
                                                                      start_new_session=True) as p:
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGINT)
            try:
                p.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
            raise
    return subprocess.CompletedProcess(argv, p.returncode, out.read_text(errors="replace"),
                                       err.read_text(errors="replace"))


def test_make_run_end_to_end(tmp_path: Path) -> None:
    """`make run` itself (its setup, then `jinbao run`), in a lab of its own through RUN_ARGS."""
    out = tmp_path / "out"
    env = _make_env()
    # make run's setup must find the venv installed (`make test` ran setup): a stale stamp would reinstall the
    # venv this suite runs in, under it
    stamp = subprocess.run(["make", "-q", "-C", str(ROOT), ".venv/.jinbao-installed"], capture_output=True,
                           text=True, env=env, timeout=60)
    assert stamp.returncode == 0, "the venv's stamp is older than pyproject.toml: run `make setup` first"
    # nor may it install Debian packages on the host under the suite: every one must be there already
    pkgs = subprocess.run(["bash", str(ROOT / "scripts" / "setup-host.sh"), "--check"], capture_output=True,
                          text=True, timeout=120)
    assert pkgs.returncode == 0, f"{pkgs.stderr.strip()}: run `make setup` first"
    ferry = OneWayLink(LAB[:6])
    with lab_lock():
        runtime.down(LAB)  # whatever an aborted run left
        ferry.down()
        before = snapshot()
        t0 = time.monotonic()
        try:
            r = _make_run(["make", "-s", "-C", str(ROOT), "run", f"OUT={out}",
                           f"RUN_ARGS=--lab-name {LAB} --mgmt-net {MGMT_NET}"], env,
                          timeout=3300, logs=tmp_path)  # under the parallel suite the Ansible builds took 30 min once
        except subprocess.TimeoutExpired:
            runtime.down(LAB)  # killed, it could not tear its lab down: nothing left for the runs after this one
            ferry.down()
            raise
        wall = time.monotonic() - t0
        # the run tore its lab down: no namespace, link, mount, state or process of it is left
        left = leftovers(LAB, before, {"objects": []})
        procs = _processes_of((str(names.lab_dir(LAB)), str(ROOT / "lab" / ".cache" / "vcsim"), "jbfy-jbrun-"))
        assert not ferry.exists()
    print(f"make run wall time: {wall:.0f} s")
    # a failing setup (host packages, the venv) fails make before `jinbao run` starts: non-zero here too
    assert r.returncode == 0, (r.stdout[-2000:], r.stderr[-4000:])
    assert left == {} and procs == [], (left, procs)
    assert "setup-host: " in r.stdout  # make's setup ran first (scripts/setup-host.sh says what it found)
    said = " ".join(r.stdout.split())  # rich wraps jinbao run's summary lines at 80 columns off a terminal
    assert "(checked in headless Chromium:" in said and "links resolve, screenshot" in said  # jinbao run's
    summary = json.loads((out / "summary.json").read_text())  # stdout also carries make's and setup's lines
    assert summary["ok"] and summary["status"] == "done"
    assert [s["step"] for s in summary["steps"]] == LAB_STEPS
    f = summary["figures"]
    up, planned = map(int, f["routing"]["sessions"].split("/"))
    assert up == planned > 0
    reached, expected = map(int, f["routing"]["reachable"].split("/"))
    assert reached == expected > 0
    assert f["isolation"]["fail"] == 0 and f["isolation"]["pass"] > 100
    assert f["compliance"]["score_pct"] == 100.0 and f["compliance"]["results"] > 100
    # the audit after the builds covers the servers (every applicable testinfra control on every server the
    # servers step built, their own snmpd by SNMP) and the drilled pair's replication
    built = set(json.loads((out / "servers.json").read_text())["recap"])
    report = json.loads((out / "compliance.json").read_text())["results"]
    cat = default_catalogue()
    want = {(h, c.id) for h in built for c in cat.of_kind("testinfra") if c.applies_to.matches(parse_hostname(h)[1])}
    kind = {c.id: c.kind for c in cat.controls}
    got = {(r["node"], r["control"]) for r in report if kind[r["control"]] == "testinfra"}
    assert len(built) == f["servers"]["servers"] == f["compliance"]["servers"] and want and got == want
    assert {r["node"] for r in report if kind[r["control"]] == "snmp"} >= built
    assert {(r["node"], r["control"]) for r in report if kind[r["control"]] == "dr"} == {
        ("JB-100000-DC-DB01", c.id) for c in cat.of_kind("dr")}
    assert all(r["status"] == "pass" for r in report)
    junit = (out / "compliance.junit.xml").read_text()
    assert 'name="JB-SRV-SSH-KEYS-ONLY"' in junit and 'name="JB-DR-REPLICA-STREAMING"' in junit
    assert f["dr-build"]["pair"] == "JB-100000-DC-DB01 -> JB-100000-DR-DB01" and f["dr-build"]["state"] == "streaming"
    assert f["deploy"]["rulesets"] >= 2 and f["vm-provision"]["created"] == f["vm-provision"]["vms"] > 0
    assert f["ferry"]["throughput_mbit_s"] > 1 and f["servers"]["servers"] >= 6
    # the upload in the decision database of the lab's decision server: every row, every region once
    db = json.loads((out / "ferry.json").read_text())["decision_db"]
    assert f["ferry"]["rows_loaded"] == db["rows"] > 0 and f["ferry"]["regions"] == db["query"]["regions"] > 0
    assert db["rows"] == 96 * db["query"]["regions"] and db["query"]["contributors"] > 0
    for name in REPORTS:
        assert (out / name).is_file(), name
    assert len(list((out / "netbox").glob("*.csv"))) == 6
    # the DR drill: the plan's pair in the slice, a switchover that lost nothing, production back after failback
    d = f["dr-drill"]
    assert d["pair"] == "JB-100000-DC-DB01 -> JB-100000-DR-DB01" and d["failback"] == "done"
    assert d["rpo_commits"] == 0 and d["failback_rpo_commits"] == 0 and d["rto_s"] > 0
    so = json.loads((out / "dr" / "drill-100000-DC-switchover.json").read_text())
    fb = json.loads((out / "dr" / "drill-100000-DC-failback.json").read_text())
    assert so["figures"]["rpo_commits"] == 0 and so["figures"]["acks_old"] > 0 and so["figures"]["acks_new"] > 0
    # writes moved to the DR centre's cluster and back to production's (the witness's cluster_name)
    assert so["figures"]["old"] == fb["figures"]["new"] != so["figures"]["new"] == fb["figures"]["old"]
    assert so["figures"]["new"].endswith("jb_100000_dc_db01")
    assert not [s for s in so["steps"] + fb["steps"] if s["ok"] is False]
    assert (so["verdicts"]["rto"], fb["verdicts"]["rto"]) == (d["rto_met"], d["failback_rto_met"])
    assert summary["targets_missed"] == [{"step": "dr-drill", "missed": m} for m in d["targets_missed"]]
    print(f"DR: switchover RTO {d['rto_s']} s (load {d['load_1m']}), failback RTO {d['failback_rto_s']} s; "
          f"targets missed: {d['targets_missed']}")
    index = (out / "index.html").read_text()
    assert "BGP sessions up" in index and f"{d['rto_s']} s / 0 commits" in index
    assert 'href="dr/drill-100000-DC-switchover.html"' in index and 'href="dr/drill-100000-DC-failback.html"' in index
    # the run's own last step checked the index in headless Chromium: its screenshot, every local link
    hrefs = local_links(index)
    assert set(REPORTS) - {"index.html", "index.png"} <= set(hrefs)
    ix = f["index-check"]
    assert ix["screenshot"] == str(out / "index.png") and ix["links_checked"] == len(hrefs)
    assert (out / "index.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and ix["screenshot_bytes"] > 20_000
