"""Benchmark: DR drills in the lab, measured by the witness — switchover and failover, asynchronous and
synchronous replication; RTO and RPO each, beside what Patroni's defaults would need.

The lab is tests/disaster/drlab.py's (`jbdr`: the 100000-DC production database, its standby cluster on the
100000-DR database server), built with `jinbao dr build`; every drill is `jinbao dr drill` (playbooks/dr
through ansible-runner, the witness committing numbered rows through the client path) and each switchover or
failover is followed by a failback to return production. Patroni's defaults: ttl 30 s (the leader key must
expire before a replica may take over) + loop_wait 10 s (how often a replica looks) — an unplanned failover
needs 30-40 s before promotion even starts, and across two data centres Patroni's docs require a standby
cluster promoted by hand. A planned Patroni switchover is not bounded by the ttl, so only failovers get a
ratio. Takes the lab lock; ends by taking its lab down.

    .venv/bin/python bench/dr_drill.py [--rounds N] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lab import runtime  # noqa: E402
from tests.disaster import drlab  # noqa: E402
from tests.lablock import lab_lock  # noqa: E402

PATRONI_TTL, PATRONI_LOOP = 30.0, 10.0


def drill(plan: Path, mode: str, out: Path) -> dict:
    r = drlab.jinbao("dr", "drill", "--lab", drlab.LAB, "--plan", str(plan), "--site", drlab.PRIMARY_SITE,
                     "--mode", mode, "--json", "--out", str(out))
    rep = json.loads(r.stdout)
    if rep["outcome"] != "passed" and rep.get("figures") is None:
        raise SystemExit(f"{mode}: {rep['outcome']}: {rep['reason']}")
    return rep


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=1, help="drills of each kind per mode")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="jinbao-bench-dr-") as tmp, lab_lock():
        work = Path(tmp)
        try:
            drlab.up(work)
            for mode in ("async", "sync"):
                plan = drlab.write_plan(drlab.lab_pairs(mode), work / f"plan-{mode}.json")
                r = drlab.jinbao("dr", "build", "--lab", drlab.LAB, "--plan", str(plan), "--json")
                if r.returncode != 0:
                    raise SystemExit(f"dr build ({mode}) failed: {r.stderr[-2000:]}")
                for kind in ("switchover", "failover"):
                    for _ in range(args.rounds):
                        rep = drill(plan, kind, work)
                        f = rep["figures"]
                        rows.append({"mode": mode, "kind": kind, "outcome": rep["outcome"], "rto_s": f["rto_s"],
                                     "rpo_commits": f["rpo_commits"], "rpo_s": f["rpo_s"],
                                     "acks": f["acks_old"] + f["acks_new"]})
                        print(f"{mode} {kind}: RTO {f['rto_s']:.3f} s, RPO {f['rpo_commits']} commits",
                              file=sys.stderr)
                        back = drill(plan, "failback", work)  # a missed target is not a failed return
                        if any(st["ok"] is False for st in back["steps"]) or not back.get("figures"):
                            raise SystemExit(f"failback after {kind} failed: {back['reason']}")
        finally:
            runtime.down(drlab.LAB)
    summary = []
    for mode in ("async", "sync"):
        for kind in ("switchover", "failover"):
            sel = [r for r in rows if r["mode"] == mode and r["kind"] == kind]
            rto = statistics.median(r["rto_s"] for r in sel)
            summary.append({"mode": mode, "kind": kind, "drills": len(sel), "rto_s": round(rto, 3),
                            "rpo_commits_max": max(r["rpo_commits"] for r in sel),
                            "rpo_s_max": max(r["rpo_s"] for r in sel),
                            "patroni_s": None if kind == "switchover" else [PATRONI_TTL, PATRONI_TTL + PATRONI_LOOP],
                            "patroni_ratio": None if kind == "switchover" else
                            [round(PATRONI_TTL / rto, 1), round((PATRONI_TTL + PATRONI_LOOP) / rto, 1)]})
    if args.json:
        print(json.dumps({"rows": rows, "summary": summary}, indent=1))
        return
    print(f"{'mode':<6} {'drill':<11} {'n':>2} {'RTO s':>7} {'RPO commits':>12} {'RPO s':>7}   Patroni defaults")
    for s in summary:
        pat = ("n/a (not ttl-bound; cross-DC: standby cluster promoted by hand)" if s["patroni_s"] is None else
               f"{s['patroni_s'][0]:.0f}-{s['patroni_s'][1]:.0f} s before promotion: "
               f"{s['patroni_ratio'][0]}x-{s['patroni_ratio'][1]}x ours")
        print(f"{s['mode']:<6} {s['kind']:<11} {s['drills']:>2} {s['rto_s']:>7.3f} {s['rpo_commits_max']:>12} "
              f"{s['rpo_s_max']:>7.3f}   {pat}")
    print("targets: switchover RPO 0, RTO < 5 s; failover RTO < 10 s; sync failover RPO 0")


if __name__ == "__main__":
    main()
