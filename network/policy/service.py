"""The policy's edges: load inventory + record + policy into a `World`; render sites to files (all or
nothing); verify sites (render, parse back, analyse), the nation in parallel on every core."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from core import procpool
from core.errors import JinbaoError
from core.findings import Finding
from network.policy.analyze import JSON, allowed_boxes, analyze, finding_at
from network.policy.compile import PLATFORMS, SUFFIX
from network.policy.parse import PARSERS, parse_zone_policy, zone_policy_problems
from network.policy.zones import World, build_world


def open_world(directory: Path) -> World:
    from inventory.drpolicy import load_dr_config
    from inventory.load import load
    from ipplan.config import REGISTRY_FILE
    from ipplan.registry import load_registry
    from network.policy.model import load_policy

    directory = Path(directory)
    policy = load_policy(directory)  # first: a bad policy file fails fast
    return build_world(policy, load(directory).inventory, load_registry(directory / REGISTRY_FILE),
                       load_dr_config(directory)[0])


def firewall_sites(world: World, scope: str | None) -> list[str]:
    from inventory.scope import sites_in_scope

    if scope is not None and world.inv.has_site(scope) and scope not in world.firewall_sites:
        raise JinbaoError(f"{scope} has no firewall (only data and DR centres have one)", entry="--scope")
    in_scope = sites_in_scope(world.inv, scope)
    return [s for s in world.firewall_sites if s in in_scope]


def render_to_dir(world: World, sites: list[str], targets: tuple[str, ...], out_dir: Path) -> dict:
    """Write <site>/<site><suffix> per target plus manifest.json into out_dir; all or nothing (built in
    a temporary directory beside it, then moved into place)."""
    from network.policy.generate import definitions, render_site

    defs = definitions(world)
    rendered = {s: render_site(world, defs, s, targets) for s in sites}
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        files = []
        for s, texts in rendered.items():
            for t, text in texts.items():
                rel = f"{s}/{s}{SUFFIX[t]}"
                (tmp / s).mkdir(exist_ok=True)
                (tmp / rel).write_text(text, encoding="utf-8")
                files.append({"site": s, "platform": t, "file": rel, "lines": text.count("\n")})
        manifest = {"sites": sites, "platforms": list(targets), "files": files}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        out_dir.mkdir(exist_ok=True)
        for item in tmp.iterdir():
            dest = out_dir / item.name
            if dest.is_dir():
                shutil.rmtree(dest)
            os.replace(item, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest


def firewall_rulesets(inventory_dir: Path, intents: dict, world: World | None = None) -> dict[str, str]:
    """The nftables zone ruleset of every linux_nftables firewall among `intents` (hostname -> text). `world`:
    the inventory's zone world when the caller holds it already (`jinbao run`'s workspace), else read here."""
    from network.policy.generate import definitions, render_site

    sites = {h: i.site for h, i in intents.items() if i.platform == "linux_nftables"}
    if not sites:
        return {}
    world = world if world is not None else open_world(inventory_dir)
    defs = definitions(world)
    return {h: render_site(world, defs, s, ("nftables",))["nftables"] for h, s in sites.items()}


def separation_check(inventory_dir: Path, scope: str | None = None) -> tuple[int, list[Finding]]:
    """Plan every router and firewall in scope and look for paths into the office network (separation.py)."""
    from inventory.scope import hosts_in_scope
    from network.plan import build_firewall_intents, build_intents
    from network.policy.separation import office_pools, separation_findings
    from network.service import open_network

    p = open_network(inventory_dir)
    keep = hosts_in_scope(p.inv, scope)
    intents = build_intents(p, keep) | build_firewall_intents(p, keep)
    return len(intents), separation_findings(intents, office_pools(p.addr.reg))


# -- verification -----------------------------------------------------------------------------------
@dataclass
class SiteReport:
    site: str
    lines: dict[str, int]  # platform -> rule lines analysed
    findings: list[Finding]

    def as_dict(self) -> dict:
        return {"site": self.site, "ok": not self.findings, "lines": self.lines,
                "findings": [f.as_dict(JSON) for f in self.findings]}


def verify_texts(world: World, site: str, texts: dict[str, str], files: dict[str, str] | None = None,
                 device: bool = False) -> SiteReport:
    """Analyse rulesets (generated, or read from a device) of one site against the policy. `device`: the
    texts are devices' whole running configurations (`--config`): on Cisco, VRP and Comware only the plan's
    ACLs and zone policy are judged (device.py), and what the plan renders but the device lacks (`absent`),
    or an ACL bound inbound on no interface (`unbound`), is a finding too."""
    from network.policy.device import completeness_problems, read_device_config

    allowed = allowed_boxes(world, site)
    findings: list[Finding] = []
    lines = {}
    for t, text in texts.items():
        file = (files or {}).get(t, f"{site}{SUFFIX[t]}")
        dc = read_device_config(text, t, file) if device and t != "nftables" else None
        if dc is not None:
            text = dc.text
        rs = PARSERS[t](text, file)
        lines[t] = sum(len(v) for v in rs.lines.values())
        findings += analyze(world, site, t, rs, allowed)
        zp = parse_zone_policy(text, file) if t in ("huawei", "h3c") else None
        # a device's configuration holds its built-in zones even without any zone policy: that is `absent`,
        # not one zone-policy finding per ACL term
        ruled = zp is not None and bool(zp.rules)
        if zp is not None and (ruled or dc is None):
            # the zone policy must mean the ACL the analysis just judged (parse.zone_policy_problems)
            findings += [finding_at(site, t, "zone-policy", msg, line=n or None)
                         for n, msg in zone_policy_problems(zp, rs)]
        if dc is not None:
            findings += [finding_at(site, t, kind, msg) for kind, msg in completeness_problems(dc, t, ruled)]
    return SiteReport(site, lines, findings)


_W: World | None = None  # the world and naming definitions of this worker (set by _init_worker)
_D = None


def _init_worker(world: World, defs: object) -> None:
    global _W, _D
    _W, _D = world, defs


def _verify_one(args: tuple[str, tuple[str, ...]]) -> tuple[SiteReport, float, float]:
    from network.policy.generate import render_site

    site, targets = args
    t0 = time.perf_counter()
    texts = render_site(_W, _D, site, targets)
    t1 = time.perf_counter()
    rep = verify_texts(_W, site, texts)
    return rep, t1 - t0, time.perf_counter() - t1


@dataclass
class NationReport:
    sites: list[SiteReport]
    compile_s: float  # summed over workers
    analyze_s: float
    wall_s: float
    workers: int

    @property
    def findings(self) -> list[Finding]:
        return [f for s in self.sites for f in s.findings]

    @property
    def rule_lines(self) -> int:
        return sum(sum(s.lines.values()) for s in self.sites)

    def as_dict(self) -> dict:
        return {"ok": not self.findings, "sites_checked": len(self.sites), "rule_lines": self.rule_lines,
                "findings": len(self.findings), "seconds": {"wall": round(self.wall_s, 3),
                "compile_cpu": round(self.compile_s, 3), "analyze_cpu": round(self.analyze_s, 3)},
                "workers": self.workers, "sites": [s.as_dict() for s in self.sites]}


def verify_sites(world: World, sites: list[str], targets: tuple[str, ...] = PLATFORMS,
                 progress: Callable[[int, int], None] | None = None, workers: int | None = None) -> NationReport:
    """Compile and analyse every site; sites are independent, so they spread over the cores (core/procpool)."""
    from network.policy.generate import definitions, generators

    defs = definitions(world)
    generators()  # plugin discovery once, before forking
    workers = workers or min(os.cpu_count() or 1, 8)
    jobs = [(s, targets) for s in sites]
    t0 = time.perf_counter()
    reports: list[SiteReport] = []
    comp = anal = 0.0

    def collect(results: Iterable[tuple[SiteReport, float, float]]) -> None:
        nonlocal comp, anal
        for i, (rep, c, a) in enumerate(results, start=1):
            reports.append(rep)
            comp, anal = comp + c, anal + a
            if progress:
                progress(i, len(jobs))

    if workers > 1 and len(jobs) > 8:
        with procpool.context().Pool(workers, _init_worker, (world, defs)) as pool:
            collect(pool.imap(_verify_one, jobs, chunksize=4))
    else:
        workers = 1
        _init_worker(world, defs)
        collect(map(_verify_one, jobs))
    return NationReport(reports, comp, anal, time.perf_counter() - t0, workers)
