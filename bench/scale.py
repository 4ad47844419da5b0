"""Benchmark: how planning, rendering and static verification grow with the number of sites.

The embedded national inventory with its access-site counts multiplied by 1, 2 and 4 (every city's
`per_city` and `overrides` counts; the WAN of data centres is the same), each from an empty IP record, through
the steps `make run` takes on one workspace: allocate + check the IP plan, build the router intents, render
and validate every config (`render_many`, forked workers), and statically verify the whole plan
(`network.verify`: sessions, reachability both ways, every single WAN-link failure, filters). Prints seconds
per step and each factor's time as a multiple of the 1x time (the named alternative: the same work at 1x),
in wall seconds and in CPU seconds (this process and its render workers), which a busy machine does not
inflate the way it inflates wall time. One process; render uses every core.

    .venv/bin/python bench/scale.py [--factors 1,2,4] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ipplan.service import check  # noqa: E402
from network.plan import build_intents  # noqa: E402
from network.render import render_many  # noqa: E402
from network.secrets import LabTestSecrets  # noqa: E402
from network.verify import verify  # noqa: E402
from network.workspace import Workspace  # noqa: E402

RECORDS = ("ip-registry.tsv", "port-registry.tsv")  # left out: every factor allocates from an empty record
STEPS = ("ipplan", "intents", "render", "verify")


def scaled_inventory(dest: Path, factor: int) -> Path:
    """A copy of the embedded inventory's data files with `factor` times the access sites of every city."""
    dest.mkdir(parents=True)
    for f in (ROOT / "inventory").iterdir():
        if f.is_file() and f.suffix in (".yaml", ".yml", ".csv", ".md", ".tsv") and f.name not in RECORDS:
            shutil.copy(f, dest / f.name)
    doc = yaml.safe_load((dest / "jinbao.yaml").read_text(encoding="utf-8"))
    acc = doc["access_sites"]
    acc["per_city"] = {k: v * factor for k, v in acc["per_city"].items()}
    acc["overrides"] = {c: {k: v * factor for k, v in o.items()} for c, o in acc["overrides"].items()}
    (dest / "jinbao.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return dest


def _cpu() -> float:
    """CPU seconds of this process and its reaped children (the render workers): what load does not inflate."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def run(factor: int, work: Path, say: Callable[[str], None]) -> dict:
    d = scaled_inventory(work / f"x{factor}", factor)
    sec: dict[str, float] = {}
    cpu: dict[str, float] = {}
    c = _cpu()
    t = time.perf_counter()
    ws = Workspace(d)
    state = ws.plan_state
    reg, _report, ports, _ports_report = ws.allocate()
    findings = check(state, reg, ports)
    sec["ipplan"] = time.perf_counter() - t
    cpu["ipplan"], c = _cpu() - c, _cpu()
    if findings:
        raise SystemExit(f"x{factor}: IP plan check: {findings[0]}")
    say(f"x{factor}: {len(ws.inventory.sites)} sites, {len(reg)} allocations in {sec['ipplan']:.1f} s")
    t = time.perf_counter()
    p = ws.network
    intents = build_intents(p)
    sec["intents"] = time.perf_counter() - t
    cpu["intents"], c = _cpu() - c, _cpu()
    t = time.perf_counter()
    manifest = render_many(intents.values(), LabTestSecrets(), work / f"configs-x{factor}")
    sec["render"] = time.perf_counter() - t
    cpu["render"], c = _cpu() - c, _cpu()
    say(f"x{factor}: {len(manifest['devices'])} configs rendered and validated in {sec['render']:.1f} s")
    shutil.rmtree(work / f"configs-x{factor}")
    t = time.perf_counter()
    report = verify(p, intents)
    sec["verify"] = time.perf_counter() - t
    cpu["verify"] = _cpu() - c
    say(f"x{factor}: verified in {sec['verify']:.1f} s ({len(report.findings)} findings)")
    if not report.ok:
        raise SystemExit(f"x{factor}: verify: {report.findings[0].rule}: {report.findings[0].message}")
    return {"factor": factor, "sites": len(ws.inventory.sites), "routers": len(intents), "allocations": len(reg),
            "checks": sum(report.checked.values()), "seconds": {k: round(v, 2) for k, v in sec.items()},
            "total_s": round(sum(sec.values()), 2), "cpu_s": {k: round(v, 2) for k, v in cpu.items()},
            "total_cpu_s": round(sum(cpu.values()), 2), "load_avg_1m": round(os.getloadavg()[0], 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--factors", default="1,2,4", help="access-site multipliers; the first is the baseline")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    factors = [int(x) for x in a.factors.split(",")]

    def say(m: str) -> None:
        print(m, file=sys.stderr, flush=True)

    (ROOT / "out").mkdir(exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="jinbao-bench-scale-", dir=ROOT / "out") as tmp:  # /tmp is slow here
        for f in factors:
            rows.append(run(f, Path(tmp), say))
    base = rows[0]
    for r in rows:
        r["x_sites"] = round(r["sites"] / base["sites"], 2)
        r["x_time"] = {k: round(r["seconds"][k] / base["seconds"][k], 2) if base["seconds"][k] else None
                       for k in STEPS}
        r["x_total"] = round(r["total_s"] / base["total_s"], 2)
        r["x_cpu"] = round(r["total_cpu_s"] / base["total_cpu_s"], 2)
    res = {"rows": rows, "cores": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 1)}
    if a.json:
        print(json.dumps(res, indent=1))
        return
    print(f"{'access':>6} {'sites':>6} {'routers':>7} {'allocs':>7} " + " ".join(f"{s + ' s':>9}" for s in STEPS)
          + f" {'total s':>8} {'x sites':>7} {'x time':>7}")
    for r in rows:
        print(f"{'x' + str(r['factor']):>6} {r['sites']:>6} {r['routers']:>7} {r['allocations']:>7} "
              + " ".join(f"{r['seconds'][s]:>9}" for s in STEPS)
              + f" {r['total_s']:>8} {r['x_sites']:>7} {r['x_total']:>7}  (CPU {r['total_cpu_s']} s, x{r['x_cpu']};"
              f" load {r['load_avg_1m']})")
    print(f"load average {res['load_avg_1m']} on {res['cores']} cores (shared machine)")


if __name__ == "__main__":
    main()
