"""`out/index.html` without a lab: what it links and says, and the run's last step that checks it in headless
Chromium (jinbao/indexcheck.py), with the lab's I/O faked."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.errors import JinbaoError
from jinbao import indexcheck, pipeline
from jinbao.index import render_index
from jinbao.indexcheck import check_index
from jinbao.labrun import LabRun
from tests.conftest import ROOT

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


def test_chromium_is_installed() -> None:
    """The index check (and the compliance report's) needs it: its absence is a failure, never a skip."""
    assert shutil.which("chromium"), ("chromium is not installed: run `make setup` (scripts/setup-host.sh installs "
                                      "the Debian package); make run checks its index in it")


def _index(tmp_path: Path) -> Path:
    out = _out(tmp_path)
    index = out / "index.html"
    index.write_text(render_index(out, STEPS, {s["step"]: s for s in STEPS}, LabRun("jbx"), None, ""))
    return index


def test_index_in_headless_chromium(tmp_path: Path) -> None:
    """The screenshot is written (a real PNG of the window), every local link of the page is checked."""
    index = _index(tmp_path)
    hrefs = indexcheck.local_links(index.read_text())
    assert {"summary.json", "netbox/01-regions.csv", "compliance.html", "ferry.json"} <= set(hrefs)
    figures = check_index(index)
    shot = index.parent / "index.png"
    assert figures == {"links_checked": len(hrefs), "screenshot": str(shot), "screenshot_bytes": shot.stat().st_size}
    head = shot.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", head[16:24]) == (1280, 1600)
    assert sorted(p.name for p in index.parent.glob("*.png")) == ["index.png"]  # no temporary file left


def test_a_relative_out_as_make_run_gives_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`make run` passes `--out out`: Chromium's file URI needs the absolute path (the first real make run with the
    step failed here, with a traceback)."""
    index = _index(tmp_path)
    monkeypatch.chdir(index.parent.parent)
    rel = Path(index.parent.name) / "index.html"
    figures = check_index(rel, rel.with_suffix(".png"))
    assert figures["links_checked"] > 0 and Path(str(figures["screenshot"])) == index.with_suffix(".png").resolve()
    assert index.with_suffix(".png").is_file()


def test_links_are_read_wherever_href_sits_and_web_addresses_are_not_local() -> None:
    dom = ('<a class="x" href="a.json">a</a><a href=\'b%20c.html\' title="t">b</a><A HREF="d.csv?x=1&amp;y=2">d</A>'
           '<a href="https://example.org/">w</a><a name="top">no href</a>')
    assert indexcheck.local_links(dom) == ["a.json", "b%20c.html", "d.csv?x=1&y=2"]


def test_a_link_that_does_not_resolve_fails_naming_it(tmp_path: Path) -> None:
    index = _index(tmp_path)
    (index.parent / "ferry.json").unlink()  # linked when the page was written, gone now
    with pytest.raises(JinbaoError, match=r"index.html: links ferry.json, which is not a file in ") as e:
        check_index(index)
    assert "\n" not in str(e.value) and not (index.parent / "index.png").exists()
    # a link out of out/ does not count as resolving, even to a file that exists
    outside = index.read_text().replace('href="summary.json"', 'href="../outside.txt"')
    (tmp_path / "outside.txt").write_text("x\n")
    (index.parent / "ferry.json").write_text("{}\n")
    index.write_text(outside)
    with pytest.raises(JinbaoError, match=r"links \.\./outside.txt, which is not a file in "):
        check_index(index)


def test_no_chromium_is_a_one_line_error_saying_make_setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index = _index(tmp_path)
    monkeypatch.setattr(indexcheck.shutil, "which", lambda _name: None)
    with pytest.raises(JinbaoError, match=r"^chromium is not installed .*run `make setup`") as e:
        check_index(index)
    assert "\n" not in str(e.value) and not (index.parent / "index.png").exists()


# --- the step in the run: run_all's lab half with the lab's I/O faked (the static half is not run here) -------

def _fake_run(monkeypatch: pytest.MonkeyPatch, downs: list[str], fail: str | None = None) -> None:
    """run_all with the lab half only: the lab steps write what their reports would be and return STEPS'
    figures; the real index, the real Chromium check, the real failure and teardown handling."""
    def lab_steps(ws: object, out_dir: Path, lab: LabRun, say: object) -> list:
        def fake(name: str) -> dict:
            (out_dir / "netbox").mkdir(parents=True, exist_ok=True)
            for f in ("netbox/01-regions.csv", "routing.json", "compliance.html", "ferry.json"):
                (out_dir / f).write_text("{}\n")
            if name == fail:
                raise JinbaoError(f"{name} exploded")
            return {k: v for k, v in next((s for s in STEPS if s["step"] == name), {}).items()
                    if k not in ("step", "seconds")}
        return [(n, lambda n=n: fake(n)) for n in ("lab-up", "routing", "isolation", "compliance", "ferry")]

    def run(inventory_dir: Path, out_dir: Path, log: object, begin: object, step: object, steps: list,
            diagram_scope: str, lab: LabRun, say: object) -> dict:
        figures = pipeline._lab_half(None, out_dir, lab, begin, step, say, steps)  # type: ignore[arg-type]
        return {"ok": True, "status": "done", "steps": steps, "figures": figures}

    monkeypatch.setattr(pipeline, "lab_steps", lab_steps)
    monkeypatch.setattr(pipeline, "_run", run)
    monkeypatch.setattr("jinbao.labrun.lab_down", lambda lab: downs.append(lab.name) or {"lab": lab.name})


def test_the_runs_last_step_checks_the_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    downs: list[str] = []
    _fake_run(monkeypatch, downs)
    out = tmp_path / "out"
    result = pipeline.run_all(ROOT / "inventory", out, log=lambda _m: None, lab=LabRun("jbx"))
    names = [s["step"] for s in result["steps"]]
    assert names == ["lab-up", "routing", "isolation", "compliance", "ferry", "index-check"]
    ix = result["figures"]["index-check"]
    assert ix == {k: v for k, v in result["steps"][-1].items() if k not in ("step", "seconds")}
    assert ix["screenshot"] == str(out / "index.png") and (out / "index.png").stat().st_size > 20_000
    assert ix["links_checked"] == len(indexcheck.local_links((out / "index.html").read_text())) >= 4
    assert downs == ["jbx"]  # torn down after the check


def test_a_failed_index_check_fails_the_run_naming_the_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    downs: list[str] = []
    _fake_run(monkeypatch, downs)
    write = pipeline._write_index

    def write_then_lose_a_report(out_dir: Path, steps: list, lab: LabRun, failed: str | None = None,
                                 error: str = "") -> None:
        write(out_dir, steps, lab, failed, error)
        (out_dir / "routing.json").unlink(missing_ok=True)  # the page links a report that is then gone

    monkeypatch.setattr(pipeline, "_write_index", write_then_lose_a_report)
    out = tmp_path / "out"
    with pytest.raises(JinbaoError, match=r"links routing\.json, which is not a file"):
        pipeline.run_all(ROOT / "inventory", out, log=lambda _m: None, lab=LabRun("jbx"))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["failed_step"] == "index-check" and not summary["ok"] and "routing.json" in summary["error"]
    assert "FAILED at step index-check" in (out / "index.html").read_text()
    assert not (out / "index.png").exists()  # no screenshot of a page that failed its check
    assert downs == ["jbx"]


def test_no_chromium_fails_the_runs_index_check_and_its_preflight(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    downs: list[str] = []
    _fake_run(monkeypatch, downs)
    monkeypatch.setattr(indexcheck.shutil, "which", lambda _name: None)
    out = tmp_path / "out"
    with pytest.raises(JinbaoError, match="run `make setup`"):
        pipeline.run_all(ROOT / "inventory", out, log=lambda _m: None, lab=LabRun("jbx"))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["failed_step"] == "index-check" and "chromium is not installed" in summary["error"]
    # and before any lab work: the run's preflight says the same (as root; otherwise root is what it asks for)
    from jinbao.labrun import preflight
    from network.workspace import Workspace

    monkeypatch.setattr("os.geteuid", lambda: 0)
    with pytest.raises(JinbaoError, match=r"^chromium is not installed .*run `make setup`"):
        preflight(LabRun("jbx"), Workspace(ROOT / "inventory"))


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


# --- KEEP_LAB=1 / --keep-lab: the run's decision to leave its lab up ---------------------------------------------

@pytest.mark.parametrize(("env", "args", "keep"), [({}, [], False), ({"KEEP_LAB": "1"}, [], True),
                                                   ({}, ["--keep-lab"], True), ({"KEEP_LAB": "0"}, [], False)])
def test_keep_lab_from_the_environment_or_the_option(env: dict[str, str], args: list[str], keep: bool,
                                                     tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jinbao.cli import app

    seen: list[LabRun | None] = []

    def run_all(inventory_dir: Path, out_dir: Path, **kw: object) -> dict:
        seen.append(kw["lab"])  # type: ignore[arg-type]
        return {"ok": True, "status": "done", "steps": [], "figures": {}, "targets_missed": [], "index": "i"}

    monkeypatch.delenv("KEEP_LAB", raising=False)
    monkeypatch.setattr(pipeline, "run_all", run_all)
    r = CliRunner().invoke(app, ["run", "--out", str(tmp_path / "out"), *args], env=env)
    assert r.exit_code == 0, r.output
    assert seen[0] is not None and seen[0].keep is keep


@pytest.mark.parametrize("fail", [None, "isolation"])
def test_a_kept_lab_is_not_torn_down_passed_or_failed(fail: str | None, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    for keep, torn in ((True, []), (False, ["jbx"])):
        downs: list[str] = []
        _fake_run(monkeypatch, downs, fail)
        try:
            pipeline.run_all(ROOT / "inventory", tmp_path / "out", log=lambda _m: None, lab=LabRun("jbx", keep=keep))
        except JinbaoError:
            assert fail is not None
        assert downs == torn, (keep, fail)
