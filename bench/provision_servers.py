"""Benchmark: building the lab's servers with playbooks/site.yml — first build and idempotent second run.

Two settings:
- the project's: ansible.cfg's forks (20) with SSH pipelining on;
- Ansible's defaults: forks 5, pipelining off.
Full mode (default): each setting on a freshly started server lab (bare hosts: sshd, Python, the deploy
account), first build then second run. `--reuse`: one lab, built once with the project's settings, then the
idempotent second run under each setting (what the issue's target is about; a third of the time).
Prints wall seconds per run, the ratio of the defaults to the project's settings, and the slowest tasks of
the project's second run. The target of issue 12 is a second run under 60 s over the lab's servers.
`--ref REV` (with --reuse): also the second run of that git revision's playbooks and roles on the same lab, at
the project's settings, right after this tree's (a before/after at the same load; the revision's tree is
exported to a scratch directory and run by its own code).
(The VM half, against the vSphere simulator, is bench/provision_vms.py.) Takes the lab lock (the lab
tests'); ends by taking its lab down. Inventory: the source-of-truth plugin with the lab selected.

    .venv/bin/python bench/provision_servers.py [--sites 100000-DC,...] [--reuse [--ref main]] [--json]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.playbooks import LAB_VAULT_PASSWORD  # noqa: E402
from jinbao.provision import BuildResult, run_playbook  # noqa: E402
from lab import runtime  # noqa: E402
from lab.servers import running_spec, servers_of, up, write_inventory  # noqa: E402

LAB, MGMT = "jbprov", "100.126.236.0/24"
LOCK = "/run/lock/jinbao-lab-tests.lock"  # shared with the lab tests: one lab run at a time
PROJECT, DEFAULTS = "project (forks 20, pipelining on)", "ansible defaults (forks 5, no pipelining)"
SETTINGS = {PROJECT: (20, True), DEFAULTS: (5, False)}
DEFAULT_SITES = ("100000-DC",)  # the servers lab of tests/servers: production DB, exchange EX, decision DS


def slowest_tasks(artifacts: Path, top: int = 8) -> list[tuple[str, float]]:
    """Wall time per task (from one task's start to the next's) in a run's ansible-runner events."""
    starts: list[tuple[float, str]] = []
    end = 0.0
    for f in artifacts.rglob("job_events/*.json"):
        ev = json.loads(f.read_text())
        ts = datetime.fromisoformat(ev["created"]).timestamp() if ev.get("created") else 0.0
        end = max(end, ts)
        if ev.get("event") in ("playbook_on_task_start", "playbook_on_handler_task_start"):
            starts.append((ts, ev["event_data"].get("task", "")))
    starts.sort()
    spans: dict[str, float] = {}
    for (ts, name), nxt in zip(starts, [*(s[0] for s in starts[1:]), end], strict=True):
        spans[name] = spans.get(name, 0.0) + nxt - ts
    return sorted(((n, round(s, 1)) for n, s in spans.items()), key=lambda x: -x[1])[:top]


LOADS: list[tuple[str, float]] = []  # (run, 1-minute load average at its start): the machine is shared


def build(inv: Path, forks: int, pipelining: bool, say: Callable[[str], None], label: str,
          artifacts: Path | None = None) -> BuildResult:
    LOADS.append((label, round(os.getloadavg()[0], 1)))
    say(f"{label}: forks {forks}, pipelining {pipelining}, load {LOADS[-1][1]}")
    if artifacts is not None:
        artifacts.mkdir(parents=True, exist_ok=True)  # ansible-runner refuses a private_data_dir that is not there
    r = run_playbook("site", inv, forks=forks, pipelining=pipelining, vault_password_file=LAB_VAULT_PASSWORD,
                     artifacts=artifacts)
    if not r.ok:
        raise SystemExit(f"{label} failed: {r.recap}")
    say(f"{label}: {r.seconds} s, changed {r.changed}")
    return r


# Run in the exported tree by its own code: the revision's playbooks, roles and ansible.cfg.
REF_RUN = """
import json, sys
from pathlib import Path
from jinbao.provision import run_playbook
from core.playbooks import LAB_VAULT_PASSWORD
r = run_playbook("site", Path(sys.argv[1]), forks=int(sys.argv[2]), pipelining=True,
                 vault_password_file=LAB_VAULT_PASSWORD)
print(json.dumps({"seconds": r.seconds, "changed": r.changed, "ok": r.ok, "recap": r.recap}))
"""


def export_ref(ref: str, dest: Path) -> Path:
    """The revision's tree (git archive) in a scratch directory."""
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], capture_output=True, check=False)
    if archive.returncode != 0:
        raise SystemExit(f"--ref {ref}: {archive.stderr.decode().strip()}")
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest


def ref_second_run(tree: Path, inv: Path, forks: int, say: Callable[[str], None], label: str) -> dict[str, object]:
    LOADS.append((label, round(os.getloadavg()[0], 1)))
    say(f"{label}: forks {forks}, pipelining True, load {LOADS[-1][1]}")
    r = subprocess.run([sys.executable, "-c", REF_RUN, str(inv), str(forks)], cwd=tree, capture_output=True,
                       text=True, env={**os.environ, "PYTHONPATH": str(tree)}, timeout=3000)
    try:
        out: dict[str, object] = json.loads(r.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        raise SystemExit(f"{label} failed (rc {r.returncode}): {r.stderr[-2000:]}") from None
    if not out["ok"]:
        raise SystemExit(f"{label} failed: {out['recap']}")
    say(f"{label}: {out['seconds']} s, changed {out['changed']}")
    return out


def lab_up(sites: tuple[str, ...], say: Callable[[str], None]) -> tuple[int, float]:
    runtime.down(LAB)
    t0 = time.monotonic()
    spec = up(ROOT / "inventory", "minimal", LAB, MGMT, sites)
    say(f"lab {LAB} up: {len(servers_of(spec))} servers")
    return len(servers_of(spec)), round(time.monotonic() - t0, 1)


def measure_fresh(sites: tuple[str, ...], forks: int, pipelining: bool, say: Callable[[str], None],
                  tmp: Path) -> dict[str, float | int]:
    n, up_s = lab_up(sites, say)
    inv = write_inventory(running_spec(LAB), tmp / f"inv-{forks}")
    out: dict[str, float | int] = {"servers": n, "lab_up_s": up_s}
    for run in ("first", "second"):
        r = build(inv, forks, pipelining, say, f"{run} build", tmp / f"art-{forks}-{run}")
        out[f"{run}_s"], out[f"{run}_changed"] = r.seconds, r.changed
    runtime.down(LAB)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", help=f"comma-separated site ids (default: {','.join(DEFAULT_SITES)})")
    ap.add_argument("--reuse", action="store_true", help="one lab: first build once, second run per setting")
    ap.add_argument("--ref", help="with --reuse: also the second run of this git revision's roles (e.g. main)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.ref and not args.reuse:
        raise SystemExit("--ref: only with --reuse (one lab, second runs compared)")
    sites = tuple(args.sites.split(",")) if args.sites else DEFAULT_SITES
    say = (lambda m: print(m, file=sys.stderr, flush=True)) if not args.json else (lambda m: None)
    results: dict[str, dict[str, float | int]] = {}
    with open(LOCK, "w") as lock, tempfile.TemporaryDirectory(prefix="jinbao-bench-") as tmpdir:
        tmp = Path(tmpdir)
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if args.reuse:
                n, up_s = lab_up(sites, say)
                inv = write_inventory(running_spec(LAB), tmp / "inv")
                first = build(inv, *SETTINGS[PROJECT], say, "first build")
                for name, (forks, pipelining) in SETTINGS.items():
                    r = build(inv, forks, pipelining, say, f"second run ({name})", tmp / f"art-{forks}-second")
                    results[name] = {"servers": n, "lab_up_s": up_s, "first_s": first.seconds if name == PROJECT
                                     else "-", "first_changed": first.changed if name == PROJECT else "-",
                                     "second_s": r.seconds, "second_changed": r.changed}
                if args.ref:
                    tree = export_ref(args.ref, tmp / "ref")
                    forks = SETTINGS[PROJECT][0]
                    for label in ("a", "b"):  # twice, around this tree's second run again: load drifts
                        out = ref_second_run(tree, inv, forks, say, f"second run ({args.ref}'s roles, {label})")
                        results[f"{args.ref}'s roles {label} (forks {forks}, pipelining on)"] = {
                            "servers": n, "lab_up_s": up_s, "first_s": "-", "first_changed": "-",
                            "second_s": out["seconds"], "second_changed": out["changed"]}
                        if label == "a":
                            r = build(inv, *SETTINGS[PROJECT], say, "second run (this tree, again)")
                            results[f"{PROJECT}, again"] = {
                                "servers": n, "lab_up_s": up_s, "first_s": "-", "first_changed": "-",
                                "second_s": r.seconds, "second_changed": r.changed}
            else:
                for name, (forks, pipelining) in SETTINGS.items():
                    results[name] = measure_fresh(sites, forks, pipelining, say, tmp)
            slow = slowest_tasks(tmp / "art-20-second")
        finally:
            runtime.down(LAB)
    mine, base = results[PROJECT], results[DEFAULTS]
    ratios = {f"{run}_defaults_over_project": round(float(base[f"{run}_s"]) / float(mine[f"{run}_s"]), 2)
              for run in ("first", "second") if base[f"{run}_s"] != "-"}
    if args.ref:
        refs = [float(r["second_s"]) for k, r in results.items() if k.startswith(f"{args.ref}'s roles")]
        ours = [float(mine["second_s"]), float(results[f"{PROJECT}, again"]["second_s"])]
        ratios[f"second_{args.ref}_over_this_tree"] = round(sum(refs) / sum(ours), 2)
    if args.json:
        print(json.dumps({"sites": sites, "reuse": args.reuse, "results": results, "ratios": ratios,
                          "slowest_second_run_tasks": slow, "target_second_run_s": 60, "load_at_start": LOADS},
                         indent=1))
        return 0
    print(f"sites {','.join(sites)}{' (one lab, second runs compared)' if args.reuse else ''}")
    print(f"{'setting':<44} {'servers':>7} {'first s':>8} {'changed':>8} {'second s':>9} {'changed':>8}")
    for name, r in results.items():
        print(f"{name:<44} {r['servers']:>7} {r['first_s']:>8} {r['first_changed']:>8} {r['second_s']:>9} "
              f"{r['second_changed']:>8}")
    print("Ansible defaults / project settings: " + ", ".join(f"{k.split('_')[0]} x{v}" for k, v in ratios.items()
                                                               if k.endswith("_defaults_over_project"))
          + f" (target: second run <= 60 s; project's: {mine['second_s']} s)")
    if args.ref:
        print(f"second run, {args.ref}'s roles / this tree's (same lab, interleaved): "
              f"x{ratios[f'second_{args.ref}_over_this_tree']}")
    print("load average (1 min) at each run's start: " + ", ".join(f"{k} {v}" for k, v in LOADS))
    print("slowest tasks of the project's second run: " + "; ".join(f"{n} {s} s" for n, s in slow))
    return 0


if __name__ == "__main__":
    sys.exit(main())
