"""`out/index.html` without a lab: what it links and says, in headless Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jinbao.index import render_index
from jinbao.labrun import LabRun
from tests.conftest import ROOT
from tests.run.chromium import check_index

STEPS = [{"step": "routing", "seconds": 1.5, "sessions": "12/12", "reachable": "40/40", "office_isolated": 4},
         {"step": "isolation", "seconds": 9.0, "probes": 300, "pass": 300, "fail": 0, "zone_hosts": 9},
         {"step": "compliance", "seconds": 3.0, "results": 200, "pass": 200, "fail": 0, "error": 0,
          "score_pct": 100.0},
         {"step": "ferry", "seconds": 2.0, "batch": "b", "bytes": 1000, "transfer_s": 1, "throughput_mbit_s": 42.0,
          "rows_loaded": 3072, "regions": 32}]


def _out(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    (out / "netbox").mkdir(parents=True)
    for name in ("summary.json", "summary.md", "ipplan.md", "netbox/01-regions.csv", "verify.json",
                 "diagram-nation.svg", "routing.json", "compliance.html", "compliance.junit.xml", "ferry.json"):
        (out / name).write_text("{}\n")
    return out


def test_index_links_only_what_exists_and_says_what_did_not_run(tmp_path: Path) -> None:
    out = _out(tmp_path)
    figures = {s["step"]: s for s in STEPS}
    page = render_index(out, STEPS, figures, LabRun("jbx"), None, "")
    assert 'href="netbox/01-regions.csv"' in page and 'href="compliance.html"' in page
    assert "deploy.json" not in page  # not written: not linked
    assert "12/12" in page and "300 pass / 0 fail" in page and "100.0 %" in page and "42.0 Mbit/s" in page
    assert "the run stopped before the drill" in page and "all steps passed" in page  # no dr-drill step here
    assert "<span>Decision DB rows loaded</span><b>3072</b><small>32 regions" in page
    failed = render_index(out, STEPS[:1], {}, LabRun("jbx"), "isolation", "x -> y: open")
    assert "FAILED at step isolation: x -&gt; y: open" in failed and 'class="verdict bad"' in failed


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian package chromium (scripts/setup-host.sh)")
def test_index_in_headless_chromium(tmp_path: Path) -> None:
    out = _out(tmp_path)
    index = out / "index.html"
    index.write_text(render_index(out, STEPS, {s["step"]: s for s in STEPS}, LabRun("jbx"), None, ""))
    links = check_index(index, tmp_path / "index.png")
    assert {"summary.json", "netbox/01-regions.csv", "compliance.html", "ferry.json"} <= set(links)


def test_failing_step_is_named(tmp_path: Path) -> None:
    """A step that fails stops the run loudly: non-zero exit, the step named on stderr, in summary.json and in
    the index (here the first step, before any lab work: an unknown slice, or no root)."""
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "jinbao.cli", "run", "--out", str(out), "--lab-name", "jbrun",
                        "--mgmt-net", "100.126.212.0/24", "--slice", "nope"], capture_output=True, text=True,
                       cwd=ROOT, timeout=300)
    assert r.returncode != 0
    assert "✗ preflight" in r.stderr and ("--slice 'nope'" in r.stderr or "needs root" in r.stderr), r.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["failed_step"] == "preflight" and not summary["ok"] and summary["status"] == "failed"
    assert "FAILED at step preflight" in (out / "index.html").read_text()


def test_make_run_never_replaces_a_lab_that_lab_up_built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`make run` replaces only its own leftovers; an operator's lab of the same name is refused, one line."""
    from core.errors import JinbaoError
    from jinbao import labrun
    from lab import names
    from lab.fleet import LAB_META

    monkeypatch.setattr(names, "STATE_ROOT", tmp_path)
    assert LabRun().name != "jinbao"  # not `jinbao lab up`'s default
    labrun.refuse_foreign_lab("jbx")  # no such lab: fine
    (tmp_path / "jbx").mkdir()
    (tmp_path / "jbx" / LAB_META).write_text("{}\n")
    with pytest.raises(JinbaoError, match="was not built by `jinbao run`"):
        labrun.refuse_foreign_lab("jbx")
    (tmp_path / "jbx" / labrun.RUN_MARK).write_text("built by jinbao run\n")
    labrun.refuse_foreign_lab("jbx")  # an earlier run's leftover: replaced
