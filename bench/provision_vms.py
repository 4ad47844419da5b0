"""Benchmark: provisioning (issue 12 item 8). VM half: server VMs cloned on VMware's vSphere simulator.

For one scope (default Shanxi, 140000: 13 sites, 52 server VMs) on a fresh simulator each time, the same
`vsphere.provision.provision` call that `jinbao vm provision` makes:
- concurrent: N clone pipelines at once (the CLI's --workers, default 4; here --workers, default 8);
- sequential: one VM after the other (--workers 1), the named alternative - what a plain loop (or
  community.vmware's vmware_guest task run over hosts with forks=1) does;
then the idempotent second run (read everything, compare, change nothing) on the concurrent result.
Prints VMs, wall seconds, VMs/s and the ratio. The simulator answers in microseconds: the figures measure
jinbao's own API round trips (clone, reconfigure, customise, power on, poll), not vCenter's clone work.

    .venv/bin/python bench/provision_vms.py [--scope 140000] [--workers 8] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from plugins.hostvars import load_view  # noqa: E402
from vsphere import simulator  # noqa: E402
from vsphere.client import Endpoint, connect  # noqa: E402
from vsphere.config import VsphereConfig  # noqa: E402
from vsphere.plan import wanted_vms  # noqa: E402
from vsphere.provision import provision  # noqa: E402


def one_run(scope: str, workers: int, again: bool = False) -> dict:
    view = load_view(ROOT / "inventory", scope=scope)
    cfg = VsphereConfig()
    wanted = wanted_vms(view.hosts, cfg)
    sites = sorted({w.site for w in wanted})
    provinces = sorted({h.vars["jinbao_province"] for h in view.hosts.values()})
    if len(provinces) != 1:
        raise SystemExit("--scope must lie inside one province (one simulated datacenter)")
    with simulator.running(clusters=len(sites)) as sim:
        simulator.shape(sim, f"JB-{provinces[0]}", sites)
        ep = Endpoint.from_env(sim.env())
        with connect(ep) as si:
            t0 = time.perf_counter()
            res = provision(si, ep.label, wanted, cfg, "defaults", workers=workers, wait_seconds=30)
            took = time.perf_counter() - t0
            failed = [r for r in res if r.action != "created"]
            if failed:
                raise SystemExit(f"{failed[0].name}: {failed[0].action} {failed[0].error}")
            out = {"workers": workers, "vms": len(res), "seconds": round(took, 3),
                   "vms_per_s": round(len(res) / took, 1)}
            if again:
                t0 = time.perf_counter()
                res2 = provision(si, ep.label, wanted, cfg, "defaults", workers=workers)
                out["second_run_seconds"] = round(time.perf_counter() - t0, 3)
                out["second_run_changed"] = sum(1 for r in res2 if r.action != "unchanged")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scope", default="140000")
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    simulator.build()
    build_s = time.perf_counter() - t0
    print(f"simulator binary ready in {build_s:.1f}s", file=sys.stderr)
    concurrent = one_run(args.scope, args.workers, again=True)
    print(f"concurrent done: {concurrent}", file=sys.stderr)
    sequential = one_run(args.scope, 1)
    print(f"sequential done: {sequential}", file=sys.stderr)
    ratio = round(concurrent["vms_per_s"] / sequential["vms_per_s"], 2)
    result = {"scope": args.scope, "concurrent": concurrent, "sequential": sequential,
              "speedup_concurrent_vs_sequential": ratio}
    if args.json:
        print(json.dumps(result, indent=1))
        return
    print(f"VMs on the vSphere simulator, scope {args.scope} ({concurrent['vms']} server VMs)")
    label = f"concurrent ({args.workers} workers):"
    print(f"  {label:26s}{concurrent['seconds']:7.2f} s  {concurrent['vms_per_s']:6.1f} VMs/s")
    print(f"  {'sequential (1 worker):':26s}{sequential['seconds']:7.2f} s  {sequential['vms_per_s']:6.1f} VMs/s")
    print(f"  ratio: concurrent is {ratio}x sequential")
    print(f"  second (idempotent) run: {concurrent['second_run_seconds']:.2f} s, "
          f"{concurrent['second_run_changed']} changed")


if __name__ == "__main__":
    main()
