"""Run every benchmark in bench/ and write bench/RESULTS.md (and bench/RESULTS.json, the same, for tools).

Each benchmark runs in its own subprocess with `--json` and a timeout; its stderr is echoed as progress.
RESULTS.md gets, per benchmark, its figures beside the named alternative and the ratio, the exact command,
when it ran, how long it took and the load average at its start, under a description of the machine. A
benchmark that fails, times out or cannot get the lab lock is reported as such (never dropped) and the exit
code is non-zero. With `--only`, the other benchmarks' last results are kept (from RESULTS.json).

Lab benchmarks take the host-wide lab lock (tests/lablock.py) themselves, queueing with the lab tests; this
runner watches /proc/locks and stops one that has not got the lock within `--lock-wait` seconds (reported as
"not run"), and its timeout counts from the moment it holds the lock.

    sudo .venv/bin/python bench/run_all.py [--only NAME[,NAME]] [--quick] [--timeout S] [--lock-wait S]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import fcntl
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "bench"
RESULTS_MD = HERE / "RESULTS.md"
RESULTS_JSON = HERE / "RESULTS.json"
LAB_LOCK = "/run/lock/jinbao-lab-tests.lock"  # tests/lablock.py's: one lab run at a time on the host
PY = ".venv/bin/python"  # how the commands are written for a reader (relative to the repository root)


@dataclass(frozen=True)
class Figure:
    """One line of RESULTS.md: a figure of jinbao's beside the alternative's, and the ratio (None: n/a)."""

    what: str
    ours: str
    theirs: str = "-"
    ratio: str = "-"


@dataclass(frozen=True)
class Bench:
    name: str
    script: str
    measures: str
    alternative: str
    summarize: Callable[[dict], list[Figure]]
    args: tuple[str, ...] = ()
    quick: tuple[str, ...] = ()  # replaces args with --quick
    lab: bool = False  # brings a lab up (takes the lab lock)
    root: bool = False  # needs root even without a lab (namespaces)
    timeout: int = 1800

    def argv(self, quick: bool) -> list[str]:
        return [f"bench/{self.script}", *(self.quick if quick else self.args), "--json"]


def _x(a: float | None, b: float | None, digits: int = 1) -> str:
    """a / b as '12.3x', or '-' when it has no meaning."""
    if not a or not b:
        return "-"
    return f"{a / b:.{digits}f}x"


# -- per benchmark: its --json result -> figures ------------------------------------------------------------
def s_ipplan(r: dict) -> list[Figure]:
    out = []
    for run in r["runs"]:
        out.append(Figure(f"allocate + check the national plan from an empty record, x{run['access_factor']} "
                          f"access sites ({run['sites']} sites)",
                          f"{run['allocations']} allocations in {run['total_s']} s "
                          f"({run['allocations_per_s']} allocations/s)"))
    out.append(Figure("time growth when the access sites double", f"{r['growth_x2_access']}x"))
    c = r["check_comparison"]
    out.append(Figure(f"overlap check of {c['sample']} records", f"{c['jinbao_check_s']} s (sort + sweep)",
                      f"{c['pairwise_ipaddress_s']} s (pairwise `ipaddress.overlaps`)", f"{c['speedup']}x"))
    return out


def s_render(r: dict) -> list[Figure]:
    return [
        Figure(f"plan + render {r['devices']} routers (the nation)",
               f"{r['total_s']} s ({r['configs_per_s']} configs/s)",
               f"{r['ansible_configs_per_s']} configs/s (template module, {r['ansible_sample']} configs in "
               f"{r['ansible_s']} s; {r['ansible_identical']}/{r['ansible_sample']} identical output)",
               f"{r['ratio_per_config']}x per config"),
        Figure("validation of every rendered config (single process)", f"{r['validate_s']} s"),
    ]


def s_isolation(r: dict) -> list[Figure]:
    s, b = r["seconds"], r["brute_force"]
    out = [
        Figure(f"compile {r['sites']} firewalls x {r['platforms']} platforms (Aerleon + plugin), parse back",
               f"{r['rule_lines']} rule lines; compile {s['compile']} s, parse {s['parse']} s"),
        Figure(f"prove every rule line against the zone policy; find {r['injected']} injected tcp/8080 lines",
               f"{s['analyze']} s ({r['analysis_lines_per_s']} lines/s), found {r['found_by_analysis']}/"
               f"{r['injected']}",
               f"{b['seconds']} s for {b['packets']} sampled packets on {b['sites']} sites ({b['packets_per_s']} "
               f"packets/s), found {b['found']}/{b['injected_in_sample']} there; all sites ~"
               f"{b['extrapolated_seconds_all_sites']:.0f} s (extrapolated by packet x rule-line evaluations: "
               f"{'/'.join(map(str, b.get('ns_per_evaluation', [])))} ns each, min/median/max over its sites); "
               f"every TCP/UDP port: ~{b['extrapolated_seconds_all_ports'] / 3600:.0f} h",
               f"{r['ratio_time_brute_extrapolated_vs_analysis']}x (extrapolated: a port sample on every site)"),
    ]
    if "lab" in r:
        lab = r["lab"]
        seq = lab.get("sequential")
        out.append(Figure(f"traffic check in the lab (`jinbao check isolation`, {lab['zone_hosts']} zone hosts incl. "
                          f"{lab.get('probe_hosts', 0)} DMZ/partners/management probe hosts)",
                          f"{lab['probes']} probes in {lab['seconds']} s ({lab['probes_per_s']} probes/s), "
                          f"{lab['mismatches']} mismatches",
                          f"{seq['probes_per_s']} probes/s one connect at a time ({seq['probes']} sampled in "
                          f"{seq['seconds']} s; all: ~{seq['extrapolated_seconds_all']} s)" if seq else "-",
                          f"{lab['speedup']}x" if seq else "-"))
    return out


def s_ferry(r: dict) -> list[Figure]:
    out = []
    rows = r["rows"]
    for loss in sorted({x["loss"] for x in rows}):
        at = [x for x in rows if x["loss"] == loss]
        fec = next(x for x in at if x["tool"].startswith("jinbao"))
        for other in (x for x in at if not x["tool"].startswith("jinbao")):
            note = f"; {other['note']}" if other.get("note") else ""
            out.append(Figure(f"{r['payload_bytes'] / 1e6:.0f} MB in {r['batches']} batches at {loss} % loss",
                              f"{fec['delivered']}/{fec['of']} intact, duplicates {fec.get('duplicates', '?')}, "
                              f"{fec['mb_s']} MB/s end to end ({fec['wire_mb_s']} on the wire)",
                              f"{other['tool']}: {other['delivered']}/{other['of']} intact, {other['mb_s']} MB/s "
                              f"({other['wire_mb_s']} on the wire){note}",
                              _x(fec["mb_s"], other["mb_s"], 2)))
    return out


def s_snmp(r: dict) -> list[Figure]:
    out = []
    for row in r["sizes"]:
        p = row["pysnmp_concurrent"]
        for key, label in (("snmpget_sequential", "net-snmp snmpbulkget/snmpget"),
                           ("ezsnmp_sequential", "ezsnmp")):
            seq = row.get(key)
            if not seq:
                out.append(Figure(f"audit {row['agents']} agents", f"{p['seconds']} s", f"{label}: not installed"))
                continue
            star = f", extrapolated from {seq['measured_agents']} agents" if seq["extrapolated"] else ""
            out.append(Figure(f"audit {row['agents']} agents (SNMPv3 authPriv + 2 negative probes)",
                              f"{p['seconds']} s concurrent ({p['compliant']}/{row['agents']} compliant, "
                              f"CPU {p['cpu_s']} s)",
                              f"{label} per agent, sequential: {seq['seconds_for_n']} s{star}",
                              _x(seq["seconds_for_n"], p["seconds"])))
    return out


def s_dr(r: dict) -> list[Figure]:
    out = []
    for s in r["summary"]:
        ours = (f"RTO {s['rto_s']} s (median of {s['drills']}), RPO {s['rpo_commits_max']} commits "
                f"({s['rpo_s_max']} s)")
        if s["patroni_s"] is None:
            out.append(Figure(f"{s['kind']}, {s['mode']} replication", ours,
                              "Patroni: a planned switchover is not ttl-bound; across DCs a standby cluster is "
                              "promoted by hand"))
        else:
            lo, hi = s["patroni_s"]
            out.append(Figure(f"{s['kind']}, {s['mode']} replication", ours,
                              f"Patroni defaults: {lo:.0f}-{hi:.0f} s before promotion starts (ttl + loop_wait)",
                              f"{s['patroni_ratio'][0]}-{s['patroni_ratio'][1]}x"))
    return out


def s_lab(r: dict) -> list[Figure]:
    loss = r["loss"]
    return [
        Figure(f"lab slice `{r['slice']}` up", f"{r['nodes']} nodes in {r['up_s']} s ({r['up_per_node_s']} s/node)"),
        Figure("deploy with commit-confirm and post-checks", f"{r['deployed']} devices in {r['deploy_s']} s"),
        Figure("traffic lost when a primary line's carrier drops", f"{loss['link down, BFD']} s with BFD",
               f"{loss['link down, no BFD']} s with BGP's hold timer alone",
               _x(loss["link down, no BFD"], loss["link down, BFD"])),
        Figure("traffic lost when a primary line silently black-holes", f"{loss['black hole, BFD']} s with BFD",
               f"{loss['black hole, no BFD']} s with BGP's hold timer alone",
               _x(loss["black hole, no BFD"], loss["black hole, BFD"])),
    ]


def s_vms(r: dict) -> list[Figure]:
    c, s = r["concurrent"], r["sequential"]
    return [
        Figure(f"clone, size, address, power on {c['vms']} server VMs (scope {r['scope']}, vSphere simulator)",
               f"{c['seconds']} s, {c['vms_per_s']} VMs/s ({c['workers']} workers)",
               f"{s['seconds']} s, {s['vms_per_s']} VMs/s (one at a time)",
               f"{r['speedup_concurrent_vs_sequential']}x"),
        Figure("idempotent second run", f"{c['second_run_seconds']} s, {c['second_run_changed']} changed"),
    ]


def s_servers(r: dict) -> list[Figure]:
    (pname, p), (dname, d) = list(r["results"].items())
    out = []
    for run, label in (("first", "first build"), ("second", "idempotent second run")):
        out.append(Figure(f"`site.yml` on {p['servers']} lab servers: {label}",
                          f"{p[f'{run}_s']} s, changed {p[f'{run}_changed']} ({pname})",
                          f"{d[f'{run}_s']} s, changed {d[f'{run}_changed']} ({dname})",
                          f"{r['ratios'][f'{run}_defaults_over_project']}x"))
    return out


def s_scale(r: dict) -> list[Figure]:
    out = []
    base = r["rows"][0]["factor"]
    for row in r["rows"]:
        s = row["seconds"]
        ours = (f"ipplan {s['ipplan']} s, intents {s['intents']} s, render+validate {s['render']} s, "
                f"verify {s['verify']} s = {row['total_s']} s")
        if "total_cpu_s" in row:  # CPU seconds: what the load on a shared machine does not inflate
            ours += f" (CPU {row['total_cpu_s']} s, load {row['load_avg_1m']})"
        ratio = "-"
        if row["factor"] != base:
            cpu = f" ({row['x_cpu']}x the CPU)" if "x_cpu" in row else ""
            ratio = f"{row['x_total']}x the time{cpu} for {row['x_sites']}x the sites"
        out.append(Figure(f"x{row['factor']} access sites: {row['sites']} sites, {row['routers']} routers, "
                          f"{row['allocations']} allocations", ours,
                          "the same work at x1" if row["factor"] != base else "-", ratio))
    return out


BENCHES: tuple[Bench, ...] = (
    Bench("ipplan", "ipplan_national.py", "the national IP plan allocated and checked from an empty record",
          "pairwise `ipaddress.overlaps` on the same records", s_ipplan, quick=("--sample", "1000"), timeout=600),
    Bench("render", "render.py", "plan + render every WAN and access router of the nation",
          "Ansible's `template` module (`ansible-playbook`, local connection, forks 5) on a sample", s_render,
          quick=("--sample", "10"), timeout=900),
    Bench("scale", "scale.py", "IP plan, intents, render and static verification at 1x, 2x, 4x the access sites",
          "the same work at 1x", s_scale, quick=("--factors", "1,2"), timeout=3600),
    Bench("isolation", "isolation.py", "compile and prove the nation's zone policy (4 platforms); the traffic "
          "check's probes per second on a deployed `minimal` lab",
          "per-packet brute force over a sample; the same lab probes one connect at a time", s_isolation,
          args=("--lab-slice", "minimal"), quick=("--random-ports", "1", "--brute-sites", "16", "--lab-slice",
                                                   "minimal", "--sequential-sample", "30"),
          lab=True, root=True, timeout=1800),
    Bench("vms", "provision_vms.py", "server VMs on VMware's vSphere simulator",
          "the same clones one at a time (a plain loop; `vmware_guest` with forks 1)", s_vms,
          timeout=900),  # no smaller size: a city has 4 VMs, too few to compare; the simulator build is the cost
    Bench("snmp", "snmp_audit.py", "the SNMP compliance audit of N agents (concurrent pysnmp)",
          "net-snmp's `snmpbulkget`/`snmpget` and ezsnmp, per agent, sequentially", s_snmp,
          quick=("--agents", "50", "--sequential-max", "5"), timeout=1200),
    Bench("ferry", "ferry.py", "the one-way ferry at 0, 1, 5 % loss (Reed-Solomon 32+12)",
          "the same datagrams without FEC, and udpcast `udp-sender --async --fec`", s_ferry,
          quick=("--batches", "4", "--mb", "8"), lab=True, root=True, timeout=900),
    Bench("lab", "lab.py", "lab bring-up, deploy, traffic loss when a primary line fails",
          "the same failure without BFD (BGP hold timer only)", s_lab, quick=("--slice", "minimal"), lab=True,
          root=True, timeout=1200),
    Bench("servers", "provision_servers.py", "`playbooks/site.yml` on the lab's servers, first and second run",
          "Ansible's defaults: forks 5, no pipelining", s_servers, quick=("--sites", "100000-DC"), lab=True,
          root=True, timeout=3000),
    Bench("dr", "dr_drill.py", "DR switchover and failover drills, RTO and RPO from the witness",
          "Patroni's defaults (ttl 30 s + loop_wait 10 s)", s_dr, lab=True, root=True, timeout=1800),
)


# -- the machine -------------------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram_gb = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = next(x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal"))
        ram_gb = round(int(kb.split()[1]) / 1024 / 1024, 1)
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, check=False).stdout.strip() or "unknown"
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gb": ram_gb, "kernel": platform.release(),
            "os": _os_name(), "python": platform.python_version(), "commit": commit}


def _os_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    return platform.system()


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


# -- running one benchmark ----------------------------------------------------------------------------------
def lock_holder() -> int | None:
    """PID holding the lab lock, or None when it is free (probed without keeping it); -1: held, PID unknown."""
    with open(LAB_LOCK, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pass
        else:
            fcntl.flock(fh, fcntl.LOCK_UN)
            return None
        inode = os.fstat(fh.fileno()).st_ino
    with contextlib.suppress(OSError):
        # holders only: a waiter's line reads "N: -> FLOCK ..." (r[1] is "->")
        for r in (line.split() for line in Path("/proc/locks").read_text().splitlines()):
            if len(r) >= 6 and r[1] == "FLOCK" and r[5].endswith(f":{inode}"):
                return int(r[4])
    return -1


def _in_group(pid: int | None, pgid: int) -> bool:
    try:
        return pid is not None and pid > 0 and os.getpgid(pid) == pgid
    except ProcessLookupError:
        return False


def parse_json(stdout: str) -> dict:
    """The benchmark's --json document: the whole of stdout, or the last top-level `{` block in it."""
    text = stdout.strip()
    with contextlib.suppress(json.JSONDecodeError):
        return json.loads(text)
    start = text.rfind("\n{\n")
    if start < 0:
        raise ValueError("no JSON document on stdout")
    return json.loads(text[start + 1:])


def run_bench(b: Bench, quick: bool, timeout: float, say: Callable[[str], None],
              lock_wait: float = 900) -> dict[str, Any]:
    """Run one benchmark; a lab benchmark queues for the lab lock itself (flock) for at most `lock_wait` s,
    and its `timeout` counts from the moment it holds the lock."""
    argv = b.argv(quick)
    entry: dict[str, Any] = {"name": b.name, "command": f"{PY} {shlex.join(argv)}", "quick": quick,
                             "started": _now(), "load_at_start": [round(x, 2) for x in os.getloadavg()]}
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, str(HERE / b.script), *argv[1:]], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    tail: list[str] = []

    def echo() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            tail.append(line.rstrip())
            del tail[:-40]
            say(f"  {b.name}: {line.rstrip()[:160]}")

    reader = threading.Thread(target=echo, daemon=True)
    reader.start()
    out: list[str] = []
    collector = threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True)  # type: ignore[union-attr]
    collector.start()
    started = None if b.lab else t0  # when the work began: for a lab benchmark, once it holds the lab lock
    holder: int | None = None
    outcome = None
    loads: list[float] = []  # 1-minute load average every 10 s of its work: what it really ran under
    last_said = t0
    try:
        while True:
            try:
                proc.wait(timeout=2 if started is None else max(0.5, min(10.0, started + timeout - time.monotonic())))
                break
            except subprocess.TimeoutExpired:
                pass
            now = time.monotonic()
            if started is not None:
                loads.append(os.getloadavg()[0])
            if started is None:
                holder = lock_holder()
                if _in_group(holder, proc.pid):
                    started = now
                    entry["lock_wait_s"] = round(now - t0, 1)
                    entry["load_at_start"] = [round(x, 2) for x in os.getloadavg()]  # the load its work ran under
                    if now - t0 > 5:
                        say(f"  {b.name}: got the lab lock after {now - t0:.0f} s")
                elif now - t0 >= lock_wait:
                    outcome = ("not run",
                               f"the lab lock was held by PID {holder} (another lab run) for {lock_wait:.0f} s")
                    stop(proc, say, b.name, "no lab lock")
                    break
            elif now - started >= timeout:
                outcome = ("timed out", f"no result after {timeout:.0f} s; stopped")
                stop(proc, say, b.name, "timed out")
                break
            if now - last_said >= 60:
                last_said = now
                say(f"  {b.name}: " + ("waiting for the lab lock (held by PID "
                                       f"{holder})" if started is None else "still running") + f", {now - t0:.0f} s")
    except KeyboardInterrupt:  # the operator (SIGINT, or SIGTERM: see main) stops the run: the bench cleans up
        outcome = ("interrupted", "stopped by the operator before it finished")
        stop(proc, say, b.name, "interrupted")
    collector.join(timeout=30)
    reader.join(timeout=5)
    entry["seconds"] = round(time.monotonic() - t0, 1)
    if loads:
        entry["load_during"] = [round(min(loads), 1), round(max(loads), 1)]
    if outcome:
        entry.update(status=outcome[0], error=outcome[1], stderr_tail=tail[-15:])
        return entry
    if proc.returncode != 0:
        entry.update(status="failed", error=f"exit {proc.returncode}", stderr_tail=tail[-15:])
        return entry
    try:
        result = parse_json(out[0] if out else "")
        figures = b.summarize(result)
    except (ValueError, KeyError, TypeError, StopIteration, IndexError) as e:
        entry.update(status="failed", error=f"unreadable result: {type(e).__name__}: {e}", stderr_tail=tail[-15:])
        return entry
    entry.update(status="ok", result=result, figures=[dataclasses.asdict(f) for f in figures])
    return entry


def stop(proc: subprocess.Popen, say: Callable[[str], None], name: str, why: str) -> None:
    """SIGINT first, so the benchmark's `finally` takes its lab down; SIGKILL its process group after 120 s."""
    say(f"  {name}: {why}; interrupting (its cleanup runs)")
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        say(f"  {name}: still there after 120 s; killed (check `ip netns` for a lab left behind)")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


# -- RESULTS.md ---------------------------------------------------------------------------------------------
def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(doc: dict[str, Any]) -> str:
    m = doc["machine"]
    by_name = {e["name"]: e for e in doc["benches"]}
    lines = [
        "# Benchmark results",
        "",
        "Written by `bench/run_all.py` from each benchmark's `--json` output; do not edit by hand.",
        "Every figure was measured on the machine below, in the run dated beside it. **The machine is shared**:",
        "other work (tests, other benchmarks) ran on the same cores at the same time, so each benchmark's load",
        "average at its start is given (for a lab benchmark: when it got the lab lock); figures on an idle",
        "machine will be better. Rerun to see yours.",
        "",
        "| machine | |",
        "|---|---|",
        f"| CPU | {_cell(m['cpu'])}, {m['cores']} cores (as the kernel sees them) |",
        f"| RAM | {m['ram_gb']} GB |",
        f"| kernel, OS | Linux {_cell(m['kernel'])}, {_cell(m['os'])} |",
        f"| Python | {m['python']} |",
        f"| code | commit {m['commit']} at the latest run (`--only` runs keep older results: see each date) |",
        "",
        f"All of them: `sudo {PY} bench/run_all.py` (root: the lab benchmarks build network namespaces); one of "
        "them: `--only NAME`; `--quick` for smaller sizes (marked \"quick\" below).",
        "",
        "## Summary",
        "",
        "| benchmark | status | ran (UTC) | seconds | load avg at start (1/5/15 min) | 1-min load during (min-max) "
        "| against |",
        "|---|---|---|---|---|---|---|",
    ]
    for b in BENCHES:
        e = by_name.get(b.name)
        if e is None:
            lines.append(f"| [{b.name}](#{b.name}) | not run | - | - | - | - | {_cell(b.alternative)} |")
            continue
        status = e["status"] + (" (quick)" if e.get("quick") else "")
        load = "/".join(f"{x:.1f}" for x in e["load_at_start"]) if e.get("load_at_start") else "-"
        secs = str(e.get("seconds", "-"))
        if e.get("lock_wait_s", 0) >= 1:
            secs += f" ({e['lock_wait_s']} of them queueing for the lab lock)"
        during = "-".join(f"{x:.1f}" for x in e["load_during"]) if e.get("load_during") else "-"
        lines.append(f"| [{b.name}](#{b.name}) | {status} | {e.get('started', '-')} | {secs} | "
                     f"{load} | {during} | {_cell(b.alternative)} |")
    for b in BENCHES:
        e = by_name.get(b.name)
        lines += ["", f"## {b.name}", "", f"`bench/{b.script}`: {b.measures}. Against: {b.alternative}.", ""]
        if e is None:
            lines += ["**Not run** in this results file.", "",
                      f"Reproduce: `sudo {PY} bench/run_all.py --only {b.name}`"]
            continue
        lines += [f"Reproduce: `{'sudo ' if b.root else ''}{e['command']}` "
                  f"(or `sudo {PY} bench/run_all.py --only {b.name}{' --quick' if e.get('quick') else ''}`)", ""]
        if e["status"] != "ok":
            lines.append(f"**{e['status'].upper()}**: {_cell(e.get('error', ''))}")
            tail = e.get("stderr_tail") or []
            if tail and e["status"] != "not run":  # a bench stopped while queueing for the lock said nothing useful
                lines += ["", "Last lines it wrote:", "", "```", *tail, "```"]
            continue
        lines += ["| figure | jinbao | alternative | ratio |", "|---|---|---|---|"]
        for f in e["figures"]:
            lines.append(f"| {_cell(f['what'])} | {_cell(f['ours'])} | {_cell(f['theirs'])} | {_cell(f['ratio'])} |")
    return "\n".join(lines) + "\n"


def merge(old: dict[str, Any] | None, new_entries: list[dict[str, Any]], mach: dict[str, Any]) -> dict[str, Any]:
    """Results of this run over the previous file's (for `--only`): one entry per benchmark, newest wins."""
    keep = {e["name"]: e for e in (old or {}).get("benches", [])}
    for e in new_entries:
        keep[e["name"]] = e
    order = [b.name for b in BENCHES]
    benches = sorted(keep.values(), key=lambda e: order.index(e["name"]) if e["name"] in order else len(order))
    return {"machine": mach, "benches": benches}


def previous(path: Path | None = None) -> dict[str, Any] | None:
    """The results file as it is now (None when missing or unreadable: then it is written afresh)."""
    path = path or RESULTS_JSON
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def write_results(doc: dict[str, Any], md: Path = RESULTS_MD, js: Path = RESULTS_JSON) -> None:
    for path, text in ((js, json.dumps(doc, indent=1, ensure_ascii=False) + "\n"), (md, markdown(doc))):
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)  # atomic: a reader never sees half a file


def select(only: str | None) -> list[Bench]:
    if not only:
        return list(BENCHES)
    names = [n.strip() for n in only.split(",") if n.strip()]
    known = {b.name: b for b in BENCHES}
    bad = [n for n in names if n not in known]
    if bad:
        raise SystemExit(f"bench/run_all.py: unknown benchmark {bad[0]!r} (known: {', '.join(known)})")
    return [known[n] for n in names]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="comma-separated names: " + ", ".join(b.name for b in BENCHES))
    ap.add_argument("--quick", action="store_true", help="smaller sizes (minutes, not an hour)")
    ap.add_argument("--timeout", type=float, help="seconds per benchmark (default: each benchmark's own)")
    ap.add_argument("--lock-wait", type=float, default=900, help="seconds a lab benchmark may queue for the lab lock")
    a = ap.parse_args(argv)
    todo = select(a.only)
    if any(b.root for b in todo) and os.geteuid() != 0:
        raise SystemExit("bench/run_all.py: the lab benchmarks need root (use --only for the others)")

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    mach = machine()
    say(f"{mach['cpu']}, {mach['cores']} cores, {mach['ram_gb']} GB, Linux {mach['kernel']}; "
        f"load {os.getloadavg()[0]:.1f}")
    entries: list[dict[str, Any]] = []
    t_all = time.monotonic()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM stops like ^C: recorded, cleaned up
    for i, b in enumerate(todo, 1):
        say(f"[{i}/{len(todo)}] {b.name}: {b.measures}")
        e = run_bench(b, a.quick, a.timeout or b.timeout, say, a.lock_wait)
        entries.append(e)
        say(f"[{i}/{len(todo)}] {b.name}: {e['status']}" + (f" in {e['seconds']} s" if "seconds" in e else "")
            + (f" ({e['error']})" if e.get("error") else ""))
        # after each one, so a crash keeps what was measured; with --only, over the file's other results as
        # they are now (re-read: another --only run may have written meanwhile)
        write_results(merge(previous() if a.only else None, entries, mach))
        if e["status"] == "interrupted":
            break
    bad = [e for e in entries if e["status"] != "ok"]
    say(f"{len(entries) - len(bad)}/{len(entries)} benchmarks ok in {time.monotonic() - t_all:.0f} s; "
        f"results in {RESULTS_MD.relative_to(ROOT)}")
    if bad:
        say("not ok: " + ", ".join(f"{e['name']} ({e['status']})" for e in bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
