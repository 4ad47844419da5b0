"""Benchmark: the lab slice — bring-up per node, deployment, and the traffic-loss window of a failing line.

Builds the default slice from the inventory (lab `jbbench`), deploys it with commit-confirm, then fails
Shanxi's primary line to the ministry while a fast probe stream (`ping -D -i 0.01`, production DB of the
ministry to Taiyuan's) crosses it, two ways: carrier loss (`ip link set down`) and a silent black hole
(nftables netdev ingress drop on both ends: carrier stays up). Each with BFD at the plan's timers and with
BFD removed from that line's sessions (BGP's hold timer only). The outage is the largest gap between two
consecutive replies' timestamps. Ends by taking the lab down.

    .venv/bin/python bench/lab.py [--json] [--slice default|minimal]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lab import runtime  # noqa: E402
from lab.slice import LabPlan, build_lab, node_name  # noqa: E402
from network.deploy import DeployTarget, deploy  # noqa: E402
from network.secrets import LabTestSecrets  # noqa: E402
from network.targets import Access, build_targets  # noqa: E402

LAB, MGMT = "jbbench", "100.126.220.0/24"
LOCK = "/run/lock/jinbao-lab-tests.lock"  # shared with the lab tests: one lab run at a time
SRC, DST_HOST = "JB-100000-DC-DB01", "JB-140100-DC-DB01"
UPPER, LOWER = "JB-100000-DC-WR01", "JB-140000-DC-WR01"
_TS = re.compile(r"^\[(\d+\.\d+)\] \d+ bytes from .* icmp_seq=(\d+)")


def sh(host: str, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return runtime.exec(LAB, node_name(host), list(argv), timeout=timeout)


def _line(lp: LabPlan, upper: str, lower: str) -> tuple[str, str, str, str]:
    """(upper's interface, lower's interface, upper's address, lower's address) of their primary line."""
    up = next(i for i in lp.intents[upper].interfaces if i.peer == lower and i.link_kind == "primary")
    lo = next(i for i in lp.intents[lower].interfaces if i.peer == upper and i.link_kind == "primary")
    return up.name, lo.name, up.ipv4.split("/")[0], lo.ipv4.split("/")[0]


def outage(dst: str, fail: Callable[[], None], restore: Callable[[], None], fail_after: float, watch: float,
           ) -> float:
    """Largest gap (s) between replies of a 10 ms probe stream while `fail` happens, then `restore`."""
    count = int((fail_after + watch) / 0.016) + 50  # this kernel really sends every ~16 ms
    out: dict[str, str] = {}

    def probe() -> None:
        r = sh(SRC, "ping", "-D", "-n", "-i", "0.01", "-W", "1", "-c", str(count), dst,
               timeout=fail_after + watch + 30)
        out["text"] = r.stdout

    t = threading.Thread(target=probe)
    t.start()
    time.sleep(fail_after)
    fail()
    t.join()
    restore()
    stamps = [float(m.group(1)) for line in out["text"].splitlines() if (m := _TS.match(line))]
    if len(stamps) < 10:
        raise SystemExit(f"probe stream got {len(stamps)} replies: the path is broken before the failure")
    return max(b - a for a, b in pairwise(stamps))


def wait_established(host: str, peer: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = json.loads(sh(host, "vtysh", "-c", "show bgp neighbors json").stdout or "{}")
        if data.get(peer, {}).get("bgpState") == "Established":
            return
        time.sleep(0.2)
    raise SystemExit(f"{host}: session to {peer} did not come back")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--slice", default="default")
    args = ap.parse_args()
    lp = build_lab(ROOT / "inventory", args.slice, LAB, MGMT, production_bfd=True)  # the loss window is measured
    res: dict = {"slice": args.slice, "nodes": len(lp.spec.nodes)}
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        runtime.down(LAB)
        try:
            t0 = time.perf_counter()
            runtime.up(lp.spec)
            res["up_s"] = round(time.perf_counter() - t0, 2)
            res["up_per_node_s"] = round(res["up_s"] / len(lp.spec.nodes), 3)
            access = Access("root", runtime.ssh_key(LAB), known_hosts=runtime.known_hosts(LAB), lab=True)
            targets = build_targets(lp.intents, LabTestSecrets(), lp.mgmt, access)
            t0 = time.perf_counter()
            results = deploy(targets, dry_run=False, confirm_seconds=90)
            res["deploy_s"] = round(time.perf_counter() - t0, 2)
            res["deployed"] = sum(r.status == "committed" for r in results)
            if res["deployed"] != len(targets):
                bad = [(r.hostname, r.error) for r in results if r.status != "committed"]
                raise SystemExit(f"deploy failed: {bad}")
            res["loss"] = measure(lp, targets)
        finally:
            runtime.down(LAB)
    if args.json:
        print(json.dumps(res, indent=1))
        return
    print(f"lab slice {res['slice']}: {res['nodes']} nodes up in {res['up_s']} s ({res['up_per_node_s']} s/node);"
          f" {res['deployed']} devices deployed with commit-confirm in {res['deploy_s']} s")
    print("traffic loss when Shanxi's primary line fails (10 ms probes, ministry DB -> Taiyuan DB):")
    for case, v in res["loss"].items():
        print(f"  {case:<28} {v:7.3f} s")
    ratio = res["loss"]["black hole, no BFD"] / res["loss"]["black hole, BFD"]
    print(f"  BFD finds the silent failure {ratio:.0f}x sooner than BGP's hold timer (target with BFD: < 1 s)")


def measure(lp: LabPlan, targets: list[DeployTarget]) -> dict[str, float]:
    up_if, lo_if, up_ip, lo_ip = _line(lp, UPPER, LOWER)
    dst = lp.plan.addr.lan_host("140100-DC", "business", "production", 4, DST_HOST, DST_HOST).split("/")[0]
    drop = ('add table netdev jbf; add chain netdev jbf in {{ type filter hook ingress device "{}" priority 0;'
            " policy drop; }}")

    def link_down() -> None:
        sh(LOWER, "ip", "link", "set", lo_if, "down")

    def link_up() -> None:
        sh(LOWER, "ip", "link", "set", lo_if, "up")
        wait_established(LOWER, up_ip)

    def hole() -> None:
        sh(LOWER, "nft", drop.format(lo_if))
        sh(UPPER, "nft", drop.format(up_if))

    def unhole() -> None:
        sh(LOWER, "nft", "delete table netdev jbf")
        sh(UPPER, "nft", "delete table netdev jbf")
        wait_established(LOWER, up_ip)

    loss: dict[str, float] = {}
    for bfd in (True, False):
        if not bfd:  # BGP alone: take BFD off this line's sessions, both ends (restored by a redeploy)
            for host, peer in ((LOWER, up_ip), (UPPER, lo_ip)):
                asn = lp.intents[host].asn
                sh(host, "vtysh", "-c", "conf t", "-c", f"router bgp {asn}", "-c", f"no neighbor {peer} bfd")
            wait_established(LOWER, up_ip)
        tag = "BFD" if bfd else "no BFD"
        loss[f"link down, {tag}"] = outage(dst, link_down, link_up, 2, 6 if bfd else 15)
        time.sleep(3)
        loss[f"black hole, {tag}"] = outage(dst, hole, unhole, 2, 6 if bfd else 15)
        time.sleep(3)
    deploy([t for t in targets if t.hostname in (UPPER, LOWER)], dry_run=False, confirm_seconds=60)
    return {k: round(v, 3) for k, v in loss.items()}


if __name__ == "__main__":
    main()
