"""Benchmark: building the lab's servers with playbooks/site.yml — first build and idempotent second run.

Two settings, each on a freshly started server lab (bare hosts: sshd, Python, the deploy account):
- the project's: ansible.cfg's forks (20) with SSH pipelining on;
- Ansible's defaults: forks 5, pipelining off.
Prints wall seconds per run and the ratio of the defaults to the project's settings. The target of issue 12
is a second run under 60 s over all the lab's servers. (The VM half, against the vSphere simulator, is
issue 12 item 2's.) Takes the lab lock; ends by taking its lab down.

    .venv/bin/python bench/provision_servers.py [--sites 100000-DC,...] [--json]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jinbao.provision import LAB_VAULT_PASSWORD, run_playbook  # noqa: E402
from lab import runtime  # noqa: E402
from lab.servers import running_spec, servers_of, up, write_inventory  # noqa: E402

LAB, MGMT = "jbprov", "100.126.236.0/24"
LOCK = "/run/lock/jinbao-lab-tests.lock"  # shared with the lab tests: one lab run at a time
SETTINGS = {"project (forks 20, pipelining on)": (20, True), "ansible defaults (forks 5, no pipelining)": (5, False)}


def measure(sites: tuple[str, ...] | None, forks: int, pipelining: bool, say: callable) -> dict[str, float | int]:
    runtime.down(LAB)
    t0 = time.monotonic()
    spec = up(ROOT / "inventory", "minimal", LAB, MGMT, sites)
    up_s = time.monotonic() - t0
    with tempfile.TemporaryDirectory() as tmp:
        inv = write_inventory(running_spec(LAB), Path(tmp))
        out: dict[str, float | int] = {"servers": len(servers_of(spec)), "lab_up_s": round(up_s, 1)}
        for run in ("first", "second"):
            say(f"{run} build, forks {forks}, pipelining {pipelining}")
            r = run_playbook("site", inv, forks=forks, pipelining=pipelining, vault_password_file=LAB_VAULT_PASSWORD)
            if not r.ok:
                raise SystemExit(f"{run} build failed: {r.recap}")
            out[f"{run}_s"], out[f"{run}_changed"] = r.seconds, r.changed
    runtime.down(LAB)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", help="comma-separated site ids (default: every server of the minimal slice)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    sites = tuple(args.sites.split(",")) if args.sites else None
    say = (lambda m: print(m, file=sys.stderr)) if not args.json else (lambda m: None)
    results: dict[str, dict[str, float | int]] = {}
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            for name, (forks, pipelining) in SETTINGS.items():
                results[name] = measure(sites, forks, pipelining, say)
        finally:
            runtime.down(LAB)
    mine, base = (results[k] for k in SETTINGS)
    ratios = {f"{run}_defaults_over_project": round(float(base[f"{run}_s"]) / float(mine[f"{run}_s"]), 2)
              for run in ("first", "second")}
    if args.json:
        print(json.dumps({"results": results, "ratios": ratios, "target_second_run_s": 60}, indent=1))
        return 0
    print(f"{'setting':<44} {'servers':>7} {'first s':>8} {'changed':>8} {'second s':>9} {'changed':>8}")
    for name, r in results.items():
        print(f"{name:<44} {r['servers']:>7} {r['first_s']:>8} {r['first_changed']:>8} {r['second_s']:>9} "
              f"{r['second_changed']:>8}")
    print(f"Ansible defaults / project settings: first build x{ratios['first_defaults_over_project']}, "
          f"second run x{ratios['second_defaults_over_project']} (target: second run < 60 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
