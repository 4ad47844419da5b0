"""Benchmark: whole-nation zone-policy analysis (issue 11, item 8, analysis part).

jinbao's path: compile every firewall of the nation for the four platforms (Aerleon + the VRP/Comware
plugin), parse the text back, and answer the three filter questions with interval arithmetic (exact: every
packet of the header space is accounted for). Timed per stage; rule lines per second.

The named alternative, in the same run: per-packet brute force (what a probe-based or sampled test does),
evaluating first-match packet by packet over a sample: for every site and platform, one packet per zone pair
(every zone the site's rules name, in both directions) per policy port, plus K random ports. It is timed, and
its cost to cover what the interval analysis covers is extrapolated (ports alone: 65,536 per protocol per
zone pair). Both then hunt the same defects: an unplanned tcp/8080 line from production to exchange slipped
into N random sites' nftables rulesets. The brute force runs over `--brute-sites` sites (every injected site
among them up to half the sample, the rest drawn at random; the ministry's DR centre alone costs minutes of it)
and its time for the whole nation is extrapolated by packet x rule-line evaluations (each site's sampled packets
times its IPv4 rule lines): over all 356 sites it would take over half an hour of CPU, which is the point of the
comparison but not worth running every time.

Lab part (issue 11 item 8, probes per second in the lab): with `--lab NAME` (a lab that is up and deployed), or
`--lab-slice SLICE` (it brings up and deploys its own lab `jbiso` on 100.126.211.0/24 under the host-wide lab
lock, and takes it down after), it runs the traffic check's probes (`jinbao check isolation`: every zone host and
the DMZ, partners and management probe hosts; several sources at once, 64 probes at once per source) and times
them. The named alternative, in the same run on the same lab: the same probes one connect at a time (one source
after another, one probe after another), timed over an evenly spread sample of `--sequential-sample` probes (all
of them would take ~1.5 s per closed probe) and extrapolated.

    .venv/bin/python bench/isolation.py [--inject 20] [--random-ports 4] [--brute-sites 48]
        [--lab NAME | --lab-slice minimal] [--sequential-sample 60] [--sites SITE,SITE] [--json]

`--sites` analyses only the firewalls of the sites named: a smoke run in seconds (tests/test_bench_isolation.py runs
it), not the benchmark's figures.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from network.policy.analyze import allowed_boxes, analyze  # noqa: E402
from network.policy.compile import PLATFORMS  # noqa: E402
from network.policy.generate import definitions, generators, render_site  # noqa: E402
from network.policy.parse import PARSERS, Ruleset  # noqa: E402
from network.policy.service import open_world  # noqa: E402
from network.policy.space import PROTO, contains  # noqa: E402
from network.policy.zones import World  # noqa: E402

LAB, LAB_MGMT = "jbiso", "100.126.211.0/24"


def _inject(text: str, world: World, site: str) -> str:
    prod = world.blocks[(site, "production")][0]
    exch = world.blocks[(site, "exchange")][0]
    from ipplan.addr import fmt

    line = f"        ip saddr {fmt(*prod)} ip daddr {fmt(*exch)} tcp dport 8080 ct state new accept\n"
    return text.replace("        jump default-deny\n", line + "        jump default-deny\n", 1)


def _reps(world: World, site: str, allowed: dict) -> list[int]:
    """One IPv4 address (the block's first) per zone this site's rules mention."""
    zones = {k for k in world.blocks if k[0] == site}
    for _box, inst in allowed[4]:
        zones |= {(inst.src_site, inst.flow.src), (inst.dst_site, inst.flow.dst)}
    # a zone that follows its replica (database-service) has no block of its own at the replica's site: its
    # addresses there are the source site's, already sampled at that site
    return [b[1] for k in sorted(zones) for b in world.blocks.get(k, ()) if b[0] == 4]


def _sample(reps: list[int], ports: list[tuple[int, int]]) -> list[tuple[int, tuple]]:
    """One packet per (zone, zone) pair of `reps`, per (protocol, port)."""
    return [(4, (s, d, p, port)) for s in reps for d in reps if s != d for p, port in ports]


def _brute_sample(sites: list[str], bad: set[str], n: int, rnd: random.Random) -> list[str]:
    """`n` sites (all if `n` is 0 or covers them): injected ones up to half the sample (at least one), the rest at
    random."""
    if not n or n >= len(sites):
        return list(sites)
    hit = rnd.sample(sorted(bad), min(len(bad), max(1, n // 2)))
    rest = rnd.sample([s for s in sites if s not in bad], n - len(hit))
    return [s for s in sites if s in set(hit) | set(rest)]


def _first_match(rs: Ruleset, af: int, pkt: tuple) -> str:
    for ln in rs.lines[af]:
        if any(contains(b, pkt) for b in ln.boxes):
            return ln.action
    return rs.default[af]


@contextlib.contextmanager
def _own_lab(slice_name: str) -> Iterator[str]:
    """`jinbao lab up` + `jinbao deploy` (routing configs and zone rulesets) of a slice, under the lab lock;
    `lab down` after, whatever happens."""
    from lab import runtime
    from tests.lablock import lab_lock

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "jinbao.cli", *args], capture_output=True, text=True, cwd=ROOT,
                              timeout=1200)

    with lab_lock():
        runtime.down(LAB)
        try:
            print(f"lab {LAB}: up ({slice_name} slice) and deploy", file=sys.stderr, flush=True)
            r = cli("lab", "up", "--name", LAB, "--mgmt-net", LAB_MGMT, "--slice", slice_name, "--json")
            if r.returncode != 0:
                raise SystemExit(f"lab up failed: {r.stderr[-1000:]}")
            r = cli("deploy", "--lab", LAB, "--confirm", "90", "--json")
            if r.returncode != 0:
                raise SystemExit(f"deploy failed: {r.stderr[-1000:]}")
            time.sleep(20)  # BGP settles (the probes' paths cross the WAN between sites)
            yield LAB
        finally:
            runtime.down(LAB)


def lab_probes(lab: str, sample: int) -> dict:
    """The check's probes on a running lab (as `jinbao check isolation` runs them), then an even sample of the
    same probes one connect at a time: probes per second each."""
    from checks.isolation import PARALLEL_SOURCES, THREADS, lab_zone_hosts, plan_probes, probe_lab, report

    world, hosts, paths = lab_zone_hosts(lab, None)
    probes = plan_probes(world, hosts, paths=paths)
    t0 = time.perf_counter()
    probe_lab(lab, hosts, probes)
    t_probe = time.perf_counter() - t0
    rep = report(probes, hosts)
    step = max(1, len(probes) // max(1, sample))
    subset = [dataclasses.replace(p, observed="") for p in probes[::step]]
    t0 = time.perf_counter()
    probe_lab(lab, hosts, subset, threads=1, parallel=1)
    t_seq = time.perf_counter() - t0
    seq_rate = len(subset) / t_seq
    same = sum(a.observed == b.observed for a, b in zip(probes[::step], subset, strict=True))
    return {"zone_hosts": len(hosts), "probe_hosts": sum(h.probe is not None for h in hosts),
            "probes": len(probes), "seconds": round(t_probe, 2), "probes_per_s": round(len(probes) / t_probe, 1),
            "mismatches": rep["mismatches"], "not_live": rep["not_live"], "decided_by": rep["decided_by"],
            "threads": THREADS, "parallel_sources": PARALLEL_SOURCES,
            "sequential": {"probes": len(subset), "seconds": round(t_seq, 2), "probes_per_s": round(seq_rate, 2),
                           "same_observed": same, "extrapolated_seconds_all": round(len(probes) / seq_rate)},
            "speedup": round(len(probes) / t_probe / seq_rate, 1)}


def analysis(world: World, sites: list[str], inject: int, random_ports: int, rnd: random.Random,
             brute_sites: int = 0) -> dict:
    """Compile, parse back and prove `sites`' firewalls with `inject` of them given an unplanned tcp/8080 line;
    then the brute-force alternative over a sample of packets on `brute_sites` of the sites (0: all), its time
    for all of them extrapolated. The benchmark's figures (timings, counts, ratio)."""
    defs = definitions(world)
    generators()
    t0 = time.perf_counter()
    texts = {s: render_site(world, defs, s) for s in sites}
    t_compile = time.perf_counter() - t0
    bad = set(rnd.sample(sites, inject))
    for s in bad:
        texts[s]["nftables"] = _inject(texts[s]["nftables"], world, s)
    t0 = time.perf_counter()
    parsed = {(s, p): PARSERS[p](texts[s][p]) for s in sites for p in PLATFORMS}
    t_parse = time.perf_counter() - t0
    lines = sum(len(v) for rs in parsed.values() for v in rs.lines.values())

    t0 = time.perf_counter()
    found_exact: set[str] = set()
    n_findings = 0
    allowed_of = {}
    for s in sites:
        allowed = allowed_of[s] = allowed_boxes(world, s)
        for p in PLATFORMS:
            fs = analyze(world, s, p, parsed[(s, p)], allowed)
            n_findings += len(fs)
            if any(f.rule == "unplanned" and f.detail["example"].get("port") == 8080 for f in fs):
                found_exact.add(s)
    t_analyze = time.perf_counter() - t0

    # the alternative: per-packet brute force over a sample (IPv4 only, to keep the run short)
    policy_ports = sorted({(PROTO[sv.protocol], lo) for sv in world.policy.services.values() for lo, _ in sv.ports})
    ports = policy_ports + [(pr, rnd.randrange(1, 65536)) for pr in (6, 17) for _ in range(random_ports)]
    reps = {s: _reps(world, s, allowed_of[s]) for s in sites}
    # the work per site, in packet x rule-line evaluations (first match scans the lines): the extrapolation's unit
    work = {s: len(reps[s]) * (len(reps[s]) - 1) * len(ports) * sum(len(parsed[(s, p)].lines[4]) for p in PLATFORMS)
            for s in sites}
    brute = _brute_sample(sites, bad, brute_sites, rnd)
    print(f"brute force over {len(brute)} of {len(sites)} sites", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    packets = 0
    found_brute: set[str] = set()
    per_unit = []  # each sampled site's seconds per packet x rule-line evaluation: how well the model holds
    for s in brute:
        t_site = time.perf_counter()
        allowed = [b for b, _ in allowed_of[s][4]]
        for p in PLATFORMS:
            rs = parsed[(s, p)]
            for af, pkt in _sample(reps[s], ports):
                packets += 1
                if _first_match(rs, af, pkt) == "accept" and not any(contains(b, pkt) for b in allowed):
                    found_brute.add(s)
        if work[s]:
            per_unit.append((time.perf_counter() - t_site) / work[s])
    t_brute = time.perf_counter() - t0
    per_unit.sort()
    t_brute_all = t_brute * sum(work.values()) / max(1, sum(work[s] for s in brute))
    pps = packets / t_brute
    pairs = sum(len(r) * (len(r) - 1) for r in reps.values()) * len(PLATFORMS)  # every site, every platform
    exhaustive_ports_s = pairs * 2 * 65536 / pps  # every port of TCP and UDP, one address per zone
    return {
        "sites": len(sites), "platforms": len(PLATFORMS), "rule_lines": lines,
        "seconds": {"compile": round(t_compile, 2), "parse": round(t_parse, 2), "analyze": round(t_analyze, 2)},
        "analysis_lines_per_s": round(lines / t_analyze),
        "findings": n_findings,
        "injected": len(bad), "found_by_analysis": len(found_exact & bad),
        "brute_force": {"sites": len(brute), "injected_in_sample": len(bad & set(brute)),
                        "packets": packets, "seconds": round(t_brute, 2), "packets_per_s": round(pps),
                        "found": len(found_brute & bad), "ports_sampled": len(ports),
                        "extrapolated_seconds_all_sites": round(t_brute_all, 1),
                        # the model's spread over the sampled sites: ns per packet x rule-line, min/median/max
                        "ns_per_evaluation": [round(per_unit[i] * 1e9, 2) for i in (0, len(per_unit) // 2, -1)]
                        if per_unit else [],
                        "extrapolated_seconds_all_ports": round(exhaustive_ports_s)},
        "ratio_time_brute_extrapolated_vs_analysis": round(t_brute_all / t_analyze, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--inject", type=int, default=20, help="sites given an unplanned tcp/8080 line")
    ap.add_argument("--random-ports", type=int, default=4, help="random ports per protocol in the sample")
    ap.add_argument("--brute-sites", type=int, default=48,
                    help="sites the brute force runs on (0: all; its time for all is extrapolated either way)")
    ap.add_argument("--sites", help="only these firewall sites, comma-separated (a smoke run, not the nation)")
    ap.add_argument("--lab", help="also probe this running, deployed lab (jinbao check isolation) and time it")
    ap.add_argument("--lab-slice", help="bring up and deploy its own lab of this slice, probe it, take it down")
    ap.add_argument("--sequential-sample", type=int, default=60, help="probes timed one connect at a time")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    t0 = time.perf_counter()
    world = open_world(ROOT / "inventory")
    t_load = time.perf_counter() - t0
    sites = list(world.firewall_sites)
    if a.sites:
        unknown = sorted(set(a.sites.split(",")) - set(sites))
        if unknown:
            raise SystemExit(f"--sites: not a firewall site: {', '.join(unknown)}")
        sites = [x for x in sites if x in a.sites.split(",")]
    if a.inject > len(sites):
        raise SystemExit(f"--inject {a.inject}: more than the {len(sites)} sites analysed")
    if a.brute_sites < 0:
        raise SystemExit(f"--brute-sites {a.brute_sites}: not a number of sites")
    res = analysis(world, sites, a.inject, a.random_ports, random.Random(8080), a.brute_sites)
    res["seconds"] = {"load": round(t_load, 2), **res["seconds"]}
    if a.lab:
        res["lab"] = {"name": a.lab, **lab_probes(a.lab, a.sequential_sample)}
    elif a.lab_slice:
        with _own_lab(a.lab_slice) as lab:
            res["lab"] = {"name": lab, "slice": a.lab_slice, **lab_probes(lab, a.sequential_sample)}
    if a.json:
        print(json.dumps(res, indent=1))
        return
    for line in text(res, "nation" if not a.sites else "sites (a smoke run)"):
        print(line)


def text(res: dict, what: str) -> list[str]:
    s, b = res["seconds"], res["brute_force"]
    out = [f"{what}: {res['sites']} firewalls x {res['platforms']} platforms = "
           f"{res['rule_lines']} rule lines",
           f"  load {s['load']:.1f} s, compile (Aerleon + plugin) {s['compile']:.1f} s, parse back {s['parse']:.1f} s",
           f"  interval analysis: {s['analyze']:.2f} s ({res['analysis_lines_per_s']:,} lines/s), exact; found "
           f"{res['found_by_analysis']}/{res['injected']} injected tcp/8080 lines, {res['findings']} findings in all",
           f"alternative, per-packet brute force over a sample ({b['ports_sampled']} ports per zone pair) on "
           f"{b['sites']} of the sites: {b['packets']:,} packets in {b['seconds']:.2f} s ({b['packets_per_s']:,} "
           f"packets/s); found {b['found']}/{b['injected_in_sample']} injected lines in its sites",
           f"  brute force (extrapolated to every site: ~{b['extrapolated_seconds_all_sites']:,.0f} s; the sampled "
           f"sites' ns per packet x rule line, min/median/max: {b['ns_per_evaluation']}) / analysis time: "
           f"{res['ratio_time_brute_extrapolated_vs_analysis']:.1f}x; every TCP and UDP port of one address per zone "
           f"would take ~{b['extrapolated_seconds_all_ports'] / 3600:,.0f} h"]
    if "lab" in res:
        lab, seq = res["lab"], res["lab"]["sequential"]
        d = lab["decided_by"]
        out += [f"lab {lab['name']}: {lab['probes']} probes between {lab['zone_hosts']} zone hosts "
                f"({lab['probe_hosts']} of them WAN-side probe hosts) in {lab['seconds']} s "
                f"({lab['probes_per_s']} probes/s), {lab['mismatches']} mismatches, {lab['not_live']} hosts not "
                f"shown live; {d['ruleset']} decided by the rulesets, {d['routing']} by routing alone",
                f"  alternative, one connect at a time: {seq['probes']} of them in {seq['seconds']} s "
                f"({seq['probes_per_s']} probes/s; all would take ~{seq['extrapolated_seconds_all']} s); "
                f"{lab['speedup']}x"]
    return out


if __name__ == "__main__":
    main()
