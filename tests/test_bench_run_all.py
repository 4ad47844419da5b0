"""bench/run_all.py: results of every shape become RESULTS.md rows; failures are reported, never dropped."""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT


def _load():
    spec = importlib.util.spec_from_file_location("bench_run_all", ROOT / "bench" / "run_all.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_run_all"] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


ra = _load()

# what each benchmark prints with --json, cut down to the keys the summaries read (shapes from bench/*.py)
FAKE: dict[str, dict] = {
    "ipplan": {"runs": [{"access_factor": 1, "sites": 3087, "allocations": 76932, "total_s": 1.0,
                         "allocations_per_s": 160000},
                        {"access_factor": 2, "sites": 5000, "allocations": 120000, "total_s": 2.1,
                         "allocations_per_s": 150000}],
               "growth_x2_access": 2.1,
               "check_comparison": {"sample": 3000, "jinbao_check_s": 0.01, "pairwise_ipaddress_s": 9.0,
                                    "speedup": 900.0, "pairwise_violations": 0}},
    "render": {"devices": 3119, "total_s": 5.4, "configs_per_s": 577.6, "validate_s": 12.0, "ansible_sample": 40,
               "ansible_s": 16.0, "ansible_configs_per_s": 2.5, "ansible_identical": 40, "ratio_per_config": 231.0},
    "scale": {"rows": [{"factor": 1, "sites": 3087, "routers": 3119, "allocations": 76932, "total_s": 40.0,
                        "seconds": {"ipplan": 5, "intents": 5, "render": 10, "verify": 20}, "x_sites": 1.0,
                        "x_total": 1.0},
                       {"factor": 4, "sites": 12000, "routers": 12100, "allocations": 250000, "total_s": 170.0,
                        "seconds": {"ipplan": 20, "intents": 20, "render": 40, "verify": 90}, "x_sites": 3.9,
                        "x_total": 4.25, "total_cpu_s": 160.0, "x_cpu": 4.1, "load_avg_1m": 12.0}]},
    "isolation": {"sites": 356, "platforms": 4, "rule_lines": 38748,
                  "seconds": {"load": 1, "compile": 70, "parse": 3, "analyze": 3.5}, "analysis_lines_per_s": 11000,
                  "injected": 20, "found_by_analysis": 20,
                  "brute_force": {"sites": 48, "injected_in_sample": 20, "packets": 1600000, "seconds": 231.0,
                                  "packets_per_s": 7000, "found": 20, "extrapolated_seconds_all_sites": 1700.0,
                                  "ns_per_evaluation": [20.1, 35.0, 61.2],
                                  "extrapolated_seconds_all_ports": 1800000},
                  "ratio_time_brute_extrapolated_vs_analysis": 485.7,
                  "lab": {"name": "jbiso", "slice": "minimal", "zone_hosts": 20, "probe_hosts": 8, "probes": 2528,
                          "seconds": 25.0, "probes_per_s": 101.1, "mismatches": 0, "threads": 64,
                          "parallel_sources": 8,
                          "sequential": {"probes": 60, "seconds": 80.0, "probes_per_s": 0.75, "same_observed": 60,
                                         "extrapolated_seconds_all": 3371},
                          "speedup": 134.8}},
    "vms": {"scope": "140000", "speedup_concurrent_vs_sequential": 1.4,
            "concurrent": {"workers": 8, "vms": 52, "seconds": 4.0, "vms_per_s": 13.0, "second_run_seconds": 0.6,
                           "second_run_changed": 0},
            "sequential": {"workers": 1, "vms": 52, "seconds": 5.6, "vms_per_s": 9.3}},
    "snmp": {"sizes": [{"agents": 10, "pysnmp_concurrent": {"seconds": 1.0, "compliant": 10, "cpu_s": 0.4},
                        "snmpget_sequential": {"measured_agents": 10, "seconds_for_n": 11.0, "extrapolated": False},
                        "ezsnmp_sequential": None}]},
    "ferry": {"payload_bytes": 32_000_000, "batches": 8, "rows": [
        {"tool": "jinbao ferry (RS 32+12)", "loss": 1, "mb_s": 6.0, "wire_mb_s": 7.0, "delivered": 8, "of": 8,
         "duplicates": 0},
        {"tool": "plain UDP (no FEC)", "loss": 1, "mb_s": 0.0, "wire_mb_s": 0.0, "delivered": 0, "of": 8},
        {"tool": "udpcast --async --fec 8x24/64", "loss": 1, "mb_s": 3.0, "wire_mb_s": 4.0, "delivered": 1, "of": 1}]},
    "lab": {"slice": "default", "nodes": 54, "up_s": 11.0, "up_per_node_s": 0.2, "deployed": 24, "deploy_s": 13.0,
            "loss": {"link down, BFD": 0.19, "black hole, BFD": 0.49, "link down, no BFD": 0.18,
                     "black hole, no BFD": 7.2}},
    "servers": {"results": {"project (forks 20, pipelining on)": {"servers": 3, "first_s": 300.0, "first_changed": 90,
                                                                  "second_s": 74.0, "second_changed": 0},
                            "ansible defaults (forks 5, no pipelining)": {"servers": 3, "first_s": 420.0,
                                                                          "first_changed": 90, "second_s": 110.0,
                                                                          "second_changed": 0}},
                "ratios": {"first_defaults_over_project": 1.4, "second_defaults_over_project": 1.49}},
    "dr": {"summary": [{"mode": "async", "kind": "switchover", "drills": 1, "rto_s": 2.1, "rpo_commits_max": 0,
                        "rpo_s_max": 0.0, "patroni_s": None, "patroni_ratio": None},
                       {"mode": "async", "kind": "failover", "drills": 1, "rto_s": 1.9, "rpo_commits_max": 0,
                        "rpo_s_max": 0.0, "patroni_s": [30.0, 40.0], "patroni_ratio": [15.8, 21.1]}]},
}

MACHINE = {"cpu": "AMD EPYC", "cores": 2, "ram_gb": 23.4, "kernel": "6.1.0", "os": "Debian 12", "python": "3.11",
           "commit": "abc1234"}


def test_every_benchmark_has_a_summary_and_a_fake_result() -> None:
    assert {b.name for b in ra.BENCHES} == set(FAKE)
    scripts = {b.script for b in ra.BENCHES}
    on_disk = {p.name for p in (ROOT / "bench").glob("*.py")} - {"run_all.py", "provision.py"}  # provision: a wrapper
    assert scripts == on_disk, "every benchmark in bench/ is run by run_all.py"


@pytest.mark.parametrize("name", sorted(FAKE))
def test_each_summary_names_the_figures_and_ratio(name: str) -> None:
    bench = next(b for b in ra.BENCHES if b.name == name)
    figures = bench.summarize(FAKE[name])
    assert figures and all(f.what and f.ours for f in figures)
    assert any(f.ratio != "-" for f in figures), f"{name}: every benchmark compares with something"



def test_ratios_are_the_alternatives_over_ours() -> None:
    lab = next(b for b in ra.BENCHES if b.name == "lab").summarize(FAKE["lab"])
    hole = next(f for f in lab if "black-holes" in f.what)
    assert hole.ratio == "14.7x" and "7.2 s" in hole.theirs and "0.49 s" in hole.ours
    snmp = ra.s_snmp(FAKE["snmp"])
    assert [f.ratio for f in snmp] == ["11.0x", "-"] and "not installed" in snmp[1].theirs
    iso = ra.s_isolation(FAKE["isolation"])[-1]  # the lab probes: against one connect at a time
    assert iso.ratio == "134.8x" and "8 DMZ/partners/management probe hosts" in iso.what and "0.75" in iso.theirs
    ferry = ra.s_ferry(FAKE["ferry"])
    assert [f.ratio for f in ferry] == ["-", "2.00x"]  # plain UDP delivered nothing: no ratio, not infinity
    assert all("8/8 intact, duplicates 0," in f.ours for f in ferry)  # issue 11: duplicates 0, shown


def _entry(name: str, status: str = "ok", **kw) -> dict:
    e = {"name": name, "command": f".venv/bin/python bench/{name}.py --json", "quick": False,
         "started": "2026-12-02 14:30 UTC", "load_at_start": [3.1, 2.0, 1.5], "seconds": 12.3, "status": status}
    if status == "ok":
        e["load_during"] = [2.5, 4.0]
    if status == "ok":
        bench = next(b for b in ra.BENCHES if b.name == name)
        e["figures"] = [f.__dict__ for f in bench.summarize(FAKE[name])]
    e.update(kw)
    return e


def test_markdown_reports_failed_and_missing_benchmarks() -> None:
    doc = ra.merge(None, [_entry("render"), _entry("dr", "failed", error="exit 1", stderr_tail=["boom: WAL"]),
                          _entry("lab", "not run", error="the lab lock was still held by PID 42")], MACHINE)
    md = ra.markdown(doc)
    assert "AMD EPYC, 2 cores" in md and "23.4 GB" in md and "Linux 6.1.0" in md and "abc1234" in md
    assert "| [render](#render) | ok | 2026-12-02 14:30 UTC | 12.3 | 3.1/2.0/1.5 | 2.5-4.0 |" in md
    assert "| [dr](#dr) | failed |" in md and "**FAILED**: exit 1" in md and "boom: WAL" in md
    assert "**NOT RUN**: the lab lock was still held by PID 42" in md
    assert "| [ferry](#ferry) | not run | - |" in md  # never attempted: still listed
    assert "| [lab](#lab) | not run | 2026-12-02 14:30 UTC | 12.3 | 3.1/2.0/1.5 | - |" in md
    assert "231.0x per config" in md and "Ansible" in md
    assert "Reproduce: `.venv/bin/python bench/render.py --json`" in md
    assert "Reproduce: `sudo .venv/bin/python bench/dr.py --json`" in md  # lab benchmarks need root


def test_only_keeps_the_other_benchmarks_results() -> None:
    old = ra.merge(None, [_entry("render"), _entry("lab", "not run", error="lock")], MACHINE)
    new = ra.merge(old, [_entry("lab")], MACHINE)
    assert [e["name"] for e in new["benches"]] == ["render", "lab"]
    assert all(e["status"] == "ok" for e in new["benches"])


def test_write_results_is_complete_json_and_markdown(tmp_path: Path) -> None:
    doc = ra.merge(None, [_entry("ipplan")], MACHINE)
    ra.write_results(doc, tmp_path / "R.md", tmp_path / "R.json")
    assert json.loads((tmp_path / "R.json").read_text()) == doc
    assert (tmp_path / "R.md").read_text() == ra.markdown(doc)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["R.json", "R.md"]  # no temporary file left


def test_parse_json_skips_noise_before_the_document() -> None:
    assert ra.parse_json('{"a": 1}\n') == {"a": 1}
    assert ra.parse_json('progress 1\n{\n "a": {"b": 2}\n}\n') == {"a": {"b": 2}}
    with pytest.raises(ValueError):
        ra.parse_json("no json here\n")


def test_unknown_only_name_is_one_line_error() -> None:
    with pytest.raises(SystemExit, match="unknown benchmark 'nope'"):
        ra.select("render,nope")


def _fake(tmp_path: Path, body: str, name: str = "fake", timeout: int = 60, lab: bool = False):
    script = tmp_path / f"{name}.py"
    script.write_text("import fcntl, json, sys, time\n" + body)
    return ra.Bench(name, str(script), "a fake", "nothing", lambda r: [ra.Figure("x", str(r["x"]), "y", "2x")],
                    timeout=timeout, lab=lab)


def test_run_bench_reads_the_json_result(tmp_path: Path) -> None:
    b = _fake(tmp_path, 'print("working", file=sys.stderr)\nprint(json.dumps({"x": 7}))\n')
    said: list[str] = []
    e = ra.run_bench(b, False, b.timeout, said.append)
    assert e["status"] == "ok" and e["figures"][0]["ours"] == "7" and e["result"] == {"x": 7}
    assert any("working" in s for s in said)  # stderr shown as progress


def test_run_bench_reports_a_failure_with_its_last_words(tmp_path: Path) -> None:
    b = _fake(tmp_path, 'print("lab did not come up", file=sys.stderr)\nsys.exit(3)\n')
    e = ra.run_bench(b, False, b.timeout, lambda m: None)
    assert e["status"] == "failed" and e["error"] == "exit 3" and e["stderr_tail"] == ["lab did not come up"]


def test_run_bench_reports_an_unreadable_result(tmp_path: Path) -> None:
    b = _fake(tmp_path, 'print("done, no json")\n')
    e = ra.run_bench(b, False, b.timeout, lambda m: None)
    assert e["status"] == "failed" and e["error"].startswith("unreadable result")


def test_run_bench_interrupts_a_benchmark_past_its_timeout(tmp_path: Path) -> None:
    # SIGINT first (its `finally` runs: here it leaves a mark), so a lab benchmark takes its lab down
    mark = tmp_path / "cleaned"
    # 10 s: time for the interpreter to reach the try block even on a loaded machine
    b = _fake(tmp_path, f"try:\n    time.sleep(300)\nfinally:\n    open({str(mark)!r}, 'w').write('y')\n", timeout=10)
    t = time.monotonic()
    e = ra.run_bench(b, False, 10, lambda m: None)
    assert e["status"] == "timed out" and mark.exists()
    assert time.monotonic() - t < 90


LOCKING = 'fh = open({lock!r}, "w")\nfcntl.flock(fh, fcntl.LOCK_EX)\ntime.sleep(3)\nprint(json.dumps({{"x": 1}}))\n'


def test_a_lab_benchmark_that_never_gets_the_lock_is_not_run(tmp_path: Path, monkeypatch) -> None:
    lock = tmp_path / "lab.lock"
    monkeypatch.setattr(ra, "LAB_LOCK", str(lock))
    b = _fake(tmp_path, LOCKING.format(lock=str(lock)), lab=True)
    with open(lock, "w") as fh:  # another lab run holds it
        fcntl.flock(fh, fcntl.LOCK_EX)
        e = ra.run_bench(b, False, 60, lambda m: None, lock_wait=4)
    assert e["status"] == "not run" and f"PID {os.getpid()}" in e["error"]
    assert "**NOT RUN**" in ra.markdown(ra.merge(None, [e | {"name": "lab"}], MACHINE))


def test_a_lab_benchmark_times_from_when_it_holds_the_lock(tmp_path: Path, monkeypatch) -> None:
    lock = tmp_path / "lab.lock"
    monkeypatch.setattr(ra, "LAB_LOCK", str(lock))
    b = _fake(tmp_path, LOCKING.format(lock=str(lock)), lab=True)
    e = ra.run_bench(b, False, 60, lambda m: None, lock_wait=30)
    assert e["status"] == "ok" and e["result"] == {"x": 1} and "lock_wait_s" in e


def test_scale_gives_cpu_beside_wall_time_when_measured() -> None:
    x1, x4 = ra.s_scale(FAKE["scale"])
    assert x1.ratio == "-" and "CPU" not in x1.ours
    assert "(CPU 160.0 s, load 12.0)" in x4.ours and x4.ratio == "4.25x the time (4.1x the CPU) for 3.9x the sites"


def test_an_interrupted_run_stops_the_benchmark_and_says_so(tmp_path: Path) -> None:
    import _thread
    import threading

    mark, started = tmp_path / "cleaned", tmp_path / "started"
    b = _fake(tmp_path, f"try:\n    open({str(started)!r}, 'w').write('y')\n    time.sleep(300)\n"
                        f"finally:\n    open({str(mark)!r}, 'w').write('y')\n")

    def interrupt_once_it_runs() -> None:  # not after a fixed delay: a loaded machine starts Python slowly
        while not started.exists():
            time.sleep(0.05)
        _thread.interrupt_main()  # ^C (SIGTERM is mapped to it by main) while it runs

    # ^C as a Python program gets it: code an earlier test ran in this worker may have left SIGINT ignored
    # (interrupt_main() then does nothing and the fake sleeps its 300 s out)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        threading.Thread(target=interrupt_once_it_runs, daemon=True).start()
        # the bench's own timeout is far beyond the interrupt: a loaded CI machine took over 60 s to start it
        e = ra.run_bench(b, False, 600, lambda m: None)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert e["status"] == "interrupted" and mark.exists(), e
