"""Benchmark: allocate and check the whole national IP plan from an empty registry.

Prints wall time and allocations/s for the default inventory and for one with twice the access sites,
and compares jinbao's O(n log n) overlap check with the textbook pairwise check using Python's
`ipaddress` (`overlaps` on every pair) on the same sample of records, in the same run.

    .venv/bin/python bench/ipplan_national.py [--json]
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ipplan.allocator import allocate  # noqa: E402
from ipplan.check import check_coverage, check_registry  # noqa: E402
from ipplan.registry import Registry  # noqa: E402
from ipplan.service import open_plan  # noqa: E402


def _inventory(tmp: Path, factor: int) -> Path:
    d = tmp / f"x{factor}"
    d.mkdir()
    for name in ("jinbao.yaml", "ipplan.yaml", "regions.csv"):
        shutil.copy(ROOT / "inventory" / name, d / name)
    doc = yaml.safe_load((d / "jinbao.yaml").read_text(encoding="utf-8"))
    acc = doc["access_sites"]
    acc["per_city"] = {k: v * factor for k, v in acc["per_city"].items()}
    acc["overrides"] = {c: {k: v * factor for k, v in o.items()} for c, o in acc["overrides"].items()}
    (d / "jinbao.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return d


def run(factor: int, tmp: Path) -> dict:
    d = _inventory(tmp, factor)
    t0 = time.perf_counter()
    state = open_plan(d)
    t1 = time.perf_counter()
    reg, _ = allocate(state.demand, Registry(), state.plan)
    t2 = time.perf_counter()
    findings = check_registry(reg, state.plan) + check_coverage(reg, state.demand)
    t3 = time.perf_counter()
    assert not findings, findings[:3]
    n = len(reg)
    return {"access_factor": factor, "sites": len(state.loaded.inventory.sites), "allocations": n,
            "load_s": round(t1 - t0, 3), "allocate_s": round(t2 - t1, 3), "check_s": round(t3 - t2, 3),
            "total_s": round(t3 - t0, 3), "allocations_per_s": round(n / (t2 - t1)), "registry": reg}


def compare_check(reg: Registry, plan, sample: int) -> dict:
    recs = [r for r in reg.sorted() if r.pool == "business" and r.af == 4][:sample]
    sub = Registry({r.key: r for r in recs})
    t0 = time.perf_counter()
    check_registry(sub, plan)
    ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    bad = _pairwise(recs)
    naive = time.perf_counter() - t0
    return {"sample": len(recs), "jinbao_check_s": round(ours, 4), "pairwise_ipaddress_s": round(naive, 3),
            "speedup": round(naive / ours, 1), "pairwise_violations": bad}


def _pairwise(recs: list) -> int:
    """The textbook check: every pair through ipaddress.overlaps; nesting is fine only along ancestry."""
    by_key = {r.key: r for r in recs}
    ancestors: dict[str, set[str]] = {}
    for r in recs:
        chain, k = set(), r.parent
        while k in by_key:
            chain.add(k)
            k = by_key[k].parent
        ancestors[r.key] = chain
    nets = [(ipaddress.ip_network(r.prefix), r) for r in recs]
    bad = 0
    for i, (a, ra) in enumerate(nets):
        for b, rb in nets[i + 1:]:
            if a.overlaps(b) and ra.key not in ancestors[rb.key] and rb.key not in ancestors[ra.key]:
                bad += 1
    return bad


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--sample", type=int, default=3000, help="records for the pairwise comparison")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as t:
        results = [run(f, Path(t)) for f in (1, 2)]
        plan = open_plan(ROOT / "inventory").plan
        cmp = compare_check(results[0].pop("registry"), plan, args.sample)
        results[1].pop("registry")
    growth = results[1]["total_s"] / results[0]["total_s"]
    out = {"runs": results, "check_comparison": cmp, "growth_x2_access": round(growth, 2), "target_s": 2.0}
    if args.json:
        print(json.dumps(out, indent=1))
        return
    print("jinbao IP plan, national, from an empty registry (one process, one core)")
    print(f"{'access':>7} {'sites':>6} {'allocs':>7} {'load s':>7} {'alloc s':>8} {'check s':>8} {'total s':>8}"
          f" {'allocs/s':>9}")
    for r in results:
        print(f"{'x' + str(r['access_factor']):>7} {r['sites']:>6} {r['allocations']:>7} {r['load_s']:>7}"
              f" {r['allocate_s']:>8} {r['check_s']:>8} {r['total_s']:>8} {r['allocations_per_s']:>9}")
    print(f"doubling the access sites multiplies the total time by {out['growth_x2_access']}"
          f" (target for the default: < {out['target_s']} s; default took {results[0]['total_s']} s)")
    print(f"overlap check on {cmp['sample']} records: jinbao sweep {cmp['jinbao_check_s']} s vs pairwise"
          f" ipaddress.overlaps {cmp['pairwise_ipaddress_s']} s -> {cmp['speedup']}x"
          f" (violations found by the pairwise check: {cmp['pairwise_violations']})")


if __name__ == "__main__":
    main()
