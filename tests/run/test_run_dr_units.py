"""make run's DR step without a lab: which pair it drills, what fails the run and what is only a missed target,
and the steps' order of work (build, streaming; then switchover, failback) with the lab's I/O faked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.errors import JinbaoError
from dr.measure import Ack, figures
from dr.plan import Pair
from dr.report import DrillReport, default_targets
from dr.status import PairStatus
from jinbao import labdr
from jinbao.index import render_index
from jinbao.labrun import LabRun
from jinbao.pipeline import _missed_markdown, targets_missed
from network.workspace import Workspace
from tests.conftest import ROOT

MIN = Pair("JB-100000-DC-DB01", "JB-100000-DR-DB01", "async", "100000-DC", "100000-DR", "jb_100000_dc_db01")
SHANXI = Pair("JB-140100-DC-DB01", "JB-140000-DR-DB01", "async", "140100-DC", "140000-DR", "jb_140100_dc_db01")
OLD, NEW = "main", "jb_100000_dc_db01"


def _report(kind: str, rto: float = 1.5, lost: frozenset[int] = frozenset(), *, failed_step: str | None = None,
            outcome: str | None = None, no_figures: bool = False) -> DrillReport:
    r = DrillReport("100000-DC", kind, "async", MIN.primary, MIN.replica, targets=default_targets(kind, "async"))
    s = r.begin("pre-checks: replication state")
    r.end(s, True)
    if failed_step:
        s = r.begin(failed_step)
        r.end(s, False, "JB-100000-DR-DB01: failed: pg_ctl: could not promote\nserver")
        r.close("failed", "switchover.yml failed (see the failed step)")
        return r
    if outcome:
        r.close(outcome, "replication is not streaming (down)")
        return r
    if not no_figures:
        a, b = (OLD, NEW) if kind == "switchover" else (NEW, OLD)
        r.figures = figures([Ack(1, a, 10.0), Ack(2, a, 10.1), Ack(3, b, 10.1 + rto)], a, b, {1, 2, 3} - lost)
    r.close()
    return r


def test_the_pair_is_the_plans_first_with_both_ends_in_the_slice() -> None:
    assert labdr.pick_pair([SHANXI, MIN], {"100000-DC", "100000-DR", "140100-DC"}) == MIN
    assert labdr.pick_pair([SHANXI, MIN], {"140100-DC", "140000-DC"}) is None  # no replica end in the slice
    # the embedded inventory: the minimal slice drills the ministry's production database to the national DR centre
    assert labdr.slice_pair(Workspace(ROOT / "inventory"), "minimal") == MIN


def test_a_slice_without_a_pair_is_refused_before_any_lab_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("lab.slice", fromlist=["SLICES"]).SLICES, "dc-only", ("140100-DC", "100000-DC"))
    with pytest.raises(JinbaoError, match="no replication pair has both its database servers in the dc-only"):
        labdr.slice_pair(Workspace(ROOT / "inventory"), "dc-only")


def test_what_fails_the_run() -> None:
    assert labdr.failure(_report("switchover")) is None
    assert labdr.failure(_report("switchover", rto=7.0)) is None  # a missed RTO is a result, not a failure
    assert _report("switchover", rto=7.0).outcome == "failed"  # (the drill report keeps `dr drill`'s verdict)
    why = labdr.failure(_report("switchover", failed_step="Promote the standby"))
    assert why == ("switchover 100000-DC: step 'Promote the standby' failed: JB-100000-DR-DB01: failed: pg_ctl: "
                   "could not promote server")
    assert labdr.failure(_report("failback", outcome="refused")) == \
        "failback 100000-DC refused: replication is not streaming (down)"
    assert "aborted" in (labdr.failure(_report("switchover", outcome="aborted")) or "")
    lost = labdr.failure(_report("switchover", lost=frozenset({2})))
    assert lost == "switchover 100000-DC: 1 acknowledged commits lost (RPO target 0): [2]"
    assert "no figures" in (labdr.failure(_report("failback", no_figures=True)) or "")


def test_a_missed_rto_names_its_target_and_load() -> None:
    assert labdr.missed(_report("switchover", rto=1.5), 3.0) is None
    assert labdr.missed(_report("switchover", rto=6.25), 12.34) == \
        "switchover RTO 6.25 s, target < 5 s (load average 12.3)"


class FakeLab:
    """The DR step's I/O: the build, the pair's state and the drills, scripted."""

    def __init__(self, reports: dict[str, DrillReport], streams: bool = True) -> None:
        self.reports, self.streams = reports, streams
        self.calls: list[str] = []
        self.active = "primary"

    def install(self, mp: pytest.MonkeyPatch) -> None:
        mp.setattr("lab.servers.running_spec", lambda name: name)
        mp.setattr("lab.servers.write_inventory", lambda spec, dest: dest / "jinbao.yml")
        mp.setattr(labdr, "_build", lambda setup, inv, out, say: self.calls.append("build"))
        mp.setattr(labdr, "_access", lambda setup, lab: type("Acc", (), {"pair": setup.pair})())
        mp.setattr(labdr, "_status", self.status)
        mp.setattr(labdr, "_drill", self.drill)
        mp.setattr(labdr, "_load", lambda: 2.0)
        mp.setattr(labdr, "STREAM_TIMEOUT", 0.01)

    def status(self, acc: Any) -> PairStatus:
        return PairStatus(MIN.primary, MIN.replica, "async", "streaming" if self.streams else "down", None, 0, 0.0,
                          None, self.active)

    def drill(self, kind: str, acc: Any, setup: labdr.DrSetup, inventory: Path, say: Any) -> DrillReport:
        self.calls.append(kind)
        r = self.reports[kind]
        if labdr.failure(r) is None:
            self.active = "replica" if kind == "switchover" else "primary"
        return r


SETUP = labdr.DrSetup(MIN, {MIN.primary: "100.126.200.5", MIN.replica: "100.126.200.11"},
                      {"jb_dr_pairs": [{**MIN.as_dict(), "port": 15500}], "jb_dr_hosts": {}})


def test_build_switchover_failback_and_the_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lab = FakeLab({"switchover": _report("switchover", rto=1.25), "failback": _report("failback", rto=0.5)})
    lab.install(monkeypatch)
    b = labdr.dr_build(SETUP, "jbrun", tmp_path, lambda m: None)
    assert b == {"pair": "JB-100000-DC-DB01 -> JB-100000-DR-DB01", "mode": "async", "state": "streaming"}
    assert lab.calls == ["build"]  # the audit runs between the build and the drill (pipeline.py)
    f = labdr.dr_drill(SETUP, "jbrun", tmp_path, lambda m: None)
    assert lab.calls == ["build", "switchover", "failback"]
    assert f["rto_s"] == 1.25 and f["rpo_commits"] == 0 and f["rto_target_s"] == 5.0 and f["rpo_target_commits"] == 0
    assert f["failback"] == "done" and f["failback_rpo_commits"] == 0 and f["rto_met"] and f["failback_rto_met"]
    assert f["targets_missed"] == [] and f["load_1m"] == 2.0
    assert f["report"] == "dr/drill-100000-DC-switchover.html"
    for kind in ("switchover", "failback"):
        assert json.loads((tmp_path / "dr" / f"drill-100000-DC-{kind}.json").read_text())["kind"] == kind
        assert (tmp_path / "dr" / f"drill-100000-DC-{kind}.html").is_file()


def test_an_rto_above_target_is_reported_not_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    FakeLab({"switchover": _report("switchover", rto=6.5), "failback": _report("failback")}).install(monkeypatch)
    f = labdr.dr_drill(SETUP, "jbrun", tmp_path, lambda m: None)
    assert f["targets_missed"] == ["switchover RTO 6.50 s, target < 5 s (load average 2.0)"]
    assert not f["rto_met"] and f["failback"] == "done"
    steps = [{"step": "dr-drill", "seconds": 80.0, **f}]
    assert targets_missed(steps) == [{"step": "dr-drill", "missed": f["targets_missed"][0]}]
    assert _missed_markdown(steps).startswith("**Target missed** (dr-drill): switchover RTO 6.50 s")


def test_lost_commits_fail_the_run_and_no_failback_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lab = FakeLab({"switchover": _report("switchover", lost=frozenset({1, 2})), "failback": _report("failback")})
    lab.install(monkeypatch)
    with pytest.raises(JinbaoError, match=r"^switchover 100000-DC: 2 acknowledged commits lost .*"
                                          r"\(out/dr/drill-100000-DC-switchover.html\)$"):
        labdr.dr_drill(SETUP, "jbrun", tmp_path, lambda m: None)
    assert lab.calls == ["switchover"]
    assert (tmp_path / "dr" / "drill-100000-DC-switchover.html").is_file()  # the evidence is kept


def test_a_failed_failback_fails_the_run_naming_its_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    FakeLab({"switchover": _report("switchover"),
             "failback": _report("failback", failed_step="Rebuild the old primary")}).install(monkeypatch)
    with pytest.raises(JinbaoError, match="failback 100000-DC: step 'Rebuild the old primary' failed"):
        labdr.dr_drill(SETUP, "jbrun", tmp_path, lambda m: None)


def test_a_pair_that_does_not_stream_after_the_build_stops_the_step(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    lab = FakeLab({}, streams=False)
    lab.install(monkeypatch)
    with pytest.raises(JinbaoError, match=r"dr build: JB-100000-DC-DB01 -> JB-100000-DR-DB01 not streaming .*\(down"):
        labdr.dr_build(SETUP, "jbrun", tmp_path, lambda m: None)
    assert lab.calls == ["build"]
    with pytest.raises(JinbaoError, match=r"dr drill: JB-100000-DC-DB01 -> JB-100000-DR-DB01 not streaming .*\(down"):
        labdr.dr_drill(SETUP, "jbrun", tmp_path, lambda m: None)  # nor is a pair that stopped streaming drilled
    assert lab.calls == ["build"]


DR_STEP = {"step": "dr-drill", "seconds": 80.0, "pair": "JB-100000-DC-DB01 -> JB-100000-DR-DB01", "mode": "async",
           "rto_s": 6.5, "rto_target_s": 5.0, "rpo_commits": 0, "rpo_target_commits": 0, "load_1m": 11.2,
           "rto_met": False, "failback": "done", "failback_rto_s": 1.1, "failback_rpo_commits": 0,
           "failback_load_1m": 9.0, "failback_rto_met": True,
           "targets_missed": ["switchover RTO 6.50 s, target < 5 s (load average 11.2)"],
           "report": "dr/drill-100000-DC-switchover.html"}


def test_the_index_shows_rto_rpo_the_missed_target_and_links_the_reports(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "dr").mkdir(parents=True)
    for name in ("drill-100000-DC-switchover.html", "drill-100000-DC-failback.html", "drill-100000-DC-switchover.json",
                 "replication-recap.txt"):
        (out / "dr" / name).write_text("x\n")
    page = render_index(out, [DR_STEP], {"dr-drill": DR_STEP}, LabRun("jbx"), None, "")
    assert "6.5 s / 0 commits" in page and 'class="fig miss"' in page
    assert "RTO target &lt; 5 s: TARGET MISSED (load average 11.2)" in page and "failback done" in page
    assert 'class="verdict warn targets-missed">Target missed (dr-drill): switchover RTO 6.50 s' in page
    assert "all steps passed" in page  # a missed target is not a failed step
    for name in ("drill-100000-DC-switchover.html", "drill-100000-DC-failback.html", "drill-100000-DC-switchover.json"):
        assert f'href="dr/{name}"' in page
    met = render_index(out, [], {"dr-drill": {**DR_STEP, "rto_s": 1.2, "rto_met": True, "targets_missed": []}},
                       LabRun("jbx"), None, "")
    assert "1.2 s / 0 commits" in met and "targets-missed" not in met and "fig miss" not in met
    failed = render_index(out, [], {}, LabRun("jbx"), "dr-drill", "switchover 100000-DC: step 'x' failed")
    assert 'class="fig bad"' in failed and "FAILED at step dr-drill" in failed
