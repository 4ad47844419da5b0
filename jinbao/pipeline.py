"""`make run`: the whole job on an inventory, step by step, each step's result in one summary.

The static half (inventory, IP plan, renders, static verification, zone policy, diagrams) runs on the nation
and needs nothing but this machine (`jinbao run --static`); the lab half (jinbao/labrun.py, the DR drill in
jinbao/labdr.py) brings a lab slice up and acts on it as on the real network, then tears it down (unless `keep`,
KEEP_LAB=1). `out/index.html` links every report with the headline figures, and the run's last step checks it in
headless Chromium (out/index.png, every link resolves); a target a step measured and missed
without failing (the drill's RTO under load) is listed as `targets_missed` in the summary and on the index.

`out/` never mixes runs: a run first marks `summary.json` as running (`ok: false`) and removes the previous
run's step outputs; a failing step leaves `summary.json` with `ok: false`, the failing step and its error,
next to the outputs of the steps that did complete in this run, and nothing older.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import JinbaoError
from core.fsutil import atomic_write_text

if TYPE_CHECKING:
    from jinbao.labrun import LabRun
    from lab.slice import LabPlan
    from network.workspace import Workspace

# what each step writes into out/ (directories end in "/"); the regional diagram is diagram-<scope>.svg
OUTPUTS = {"export": ("ipplan.json", "netbox/", "ipplan.md"), "render": ("configs/",),
           "verify": ("verify.json",), "policy": ("policy-verify.json",),
           "diagram": ("diagram-nation.svg", "diagram-*.svg"), "vm-provision": ("vsphere.json",),
           "servers": ("servers.json", "servers-recap.txt"), "deploy": ("deploy.json",),
           "routing": ("routing.json",), "isolation": ("isolation.json",),
           "compliance": ("compliance.html", "compliance.json", "compliance.junit.xml"), "dr-build": ("dr/",),
           "ferry": ("ferry.json",), "index": ("index.html",), "index-check": ("index.png",)}
DIAGRAM_SCOPE = "140000"  # Shanxi: the province the lab slice and the docs use


def run_all(inventory_dir: Path, out_dir: Path, log: Callable[[str], None] = print,
            diagram_scope: str = DIAGRAM_SCOPE, lab: LabRun | None = None,
            status: Callable[[str], None] | None = None) -> dict:
    """The whole job on the nation; `diagram_scope` (any `--scope` form) is drawn as a second diagram.
    Without `lab`, only the static half (`jinbao run --static`). `log` gets one line per finished step (with
    its elapsed time), `status` the progress inside a step."""
    out_dir = Path(out_dir)
    _start(out_dir)
    steps: list[dict] = []
    current = ["preflight" if lab else "inventory"]  # the step in progress, for the failure summary
    say = status or (lambda _m: None)
    built: list[str] = []  # whether this run got as far as bringing its lab up (only then is it torn down)

    def begin(name: str) -> float:
        current[0] = name
        if name == "lab-up":
            built.append(name)
        say(f"{name}…")
        return time.perf_counter()

    def step(name: str, t0: float, **info: object) -> None:
        seconds = round(time.perf_counter() - t0, 3)
        steps.append({"step": name, "seconds": seconds, **info})
        log(f"[green]✓[/] [bold]{name:<12}[/] {seconds:7.1f} s  " + _info(info))
        for miss in _missed(info):  # a measured result, not a failure: said loudly all the same
            log(f"[bold yellow]! {name}: target missed: {miss}[/]")

    try:
        return _run(inventory_dir, out_dir, log, begin, step, steps, diagram_scope, lab, say)
    except BaseException as e:
        log(f"[red]✗ {current[0]}[/]: {' '.join(str(e).split()) or type(e).__name__}")
        _fail(out_dir, steps, current[0], e, log, index=lab is not None)
        if lab is not None:
            _write_index(out_dir, steps, lab, failed=current[0], error=str(e))
        raise
    finally:
        if lab is not None and built and not lab.keep:
            _teardown(lab, log)


def _start(out_dir: Path) -> None:
    """Mark the run as in progress, then remove the previous run's outputs: from here on, `out/` holds only
    what this run wrote."""
    running = {"ok": False, "status": "running", "steps": []}
    try:
        atomic_write_text(out_dir / "summary.json", json.dumps(running, indent=1) + "\n")
        atomic_write_text(out_dir / "summary.md", "# jinbao run\n\nrunning…\n")
        for name in (n for outs in OUTPUTS.values() for n in outs):
            for path in sorted(out_dir.glob(name.rstrip("/"))):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink(missing_ok=True)
    except OSError as e:
        raise JinbaoError(f"cannot write the run's outputs here: {e.strerror or e}", file=str(out_dir),
                          entry="--out") from None


def _fail(out_dir: Path, steps: list[dict], failed: str, e: BaseException, log: Callable[[str], None],
          index: bool = False) -> None:
    """Leave a summary that says the run failed, where and why (best effort: the error is re-raised)."""
    error = str(e) if isinstance(e, JinbaoError) else f"{type(e).__name__}: {e}".rstrip(": ")
    error = " ".join(error.split())  # one line
    result = {"ok": False, "status": "failed", "failed_step": failed, "error": error, "steps": steps,
              "targets_missed": targets_missed(steps)}
    if index:  # the lab run's index says the same, with whatever figures the run got
        result["index"] = str(out_dir / "index.html")
    lines = ["# jinbao run", "", f"**failed** at step `{failed}`: {error}", "",
             "Outputs of the steps below are from this run; nothing from an earlier run is left.", "",
             _missed_markdown(steps) + _steps_markdown(steps)]
    try:
        atomic_write_text(out_dir / "summary.json", json.dumps(result, ensure_ascii=False, indent=1) + "\n")
        atomic_write_text(out_dir / "summary.md", "\n".join(lines) + "\n")
    except OSError as we:  # the original error matters more; say only that the summary is missing
        log(f"[red]could not write the failure summary: {we}[/]")


def _teardown(lab: LabRun, log: Callable[[str], None]) -> None:
    """The lab goes down after every run, passed or failed (KEEP_LAB=1 keeps it for a look)."""
    from jinbao.labrun import lab_down

    t0 = time.perf_counter()
    try:
        lab_down(lab)
    except Exception as e:  # the run's own outcome matters more; say the lab may be left
        log(f"[red]lab {lab.name}: teardown failed: {e}; run `jinbao lab down --name {lab.name}`[/]")
        return
    log(f"[green]✓[/] [bold]{'lab-down':<12}[/] {time.perf_counter() - t0:7.1f} s  lab {lab.name} removed")


def _run(inventory_dir: Path, out_dir: Path, log: Callable[[str], None], begin: Callable[[str], float],
         step: Callable[..., None], steps: list[dict], diagram_scope: str, lab: LabRun | None,
         say: Callable[[str], None]) -> dict:
    from inventory.scope import sites_in_scope
    from ipplan.check import JSON as FINDING_JSON
    from ipplan.export import render, summary, summary_markdown
    from ipplan.netbox import write_netbox
    from ipplan.service import check
    from network.workspace import Workspace

    ws = Workspace(inventory_dir)  # every step, the lab half's too, reads through it: each file once
    if lab is not None:
        from jinbao.labrun import preflight

        t = begin("preflight")
        pair = preflight(lab, ws)
        step("preflight", t, lab=lab.name, slice=lab.slice, mgmt_net=lab.mgmt_net, dr_pair=pair)
    t = begin("inventory")
    state = ws.plan_state
    inv = ws.inventory
    sites_in_scope(inv, diagram_scope)  # a bad --diagram-scope fails here, before any work
    step("inventory", t, sites=len(inv.sites), devices=len(inv.devices), links=len(inv.links))

    t = begin("allocate")
    reg, report, ports, port_report = ws.allocate()
    step("allocate", t, allocations=len(reg), added=len(report.added),
         decommissioned=len(report.decommissioned), ports_added=len(port_report.added))

    t = begin("check")
    findings = check(state, reg, ports)
    step("check", t, findings=len(findings))
    if lab is not None and findings:  # a record that fails its checks is no base to configure a lab on
        raise JinbaoError(f"the IP plan has {len(findings)} findings (first: {findings[0].as_dict(FINDING_JSON)})")

    t = begin("export")
    out_dir.mkdir(parents=True, exist_ok=True)
    for fmt, name in (("json", "ipplan.json"), ("markdown", "ipplan.md")):
        atomic_write_text(out_dir / name, render(reg, fmt))
    netbox = write_netbox(reg, inv, out_dir / "netbox")
    step("export", t, files=2 + len(netbox), out=str(out_dir))

    net = _network_steps(ws, out_dir, begin, step, log, diagram_scope)
    if lab is not None and not net["ok"]:
        raise JinbaoError(f"static verification: {net['findings']} findings (out/verify.json)")
    pol = _policy_step(ws, net["intents"], out_dir, begin, step, say)
    result = {"ok": not findings and net["ok"] and pol["ok"], "status": "done", "steps": steps,
              "ipplan": summary(reg), "findings": [f.as_dict(FINDING_JSON) for f in findings[:100]],
              "verify": net["verify"],
              "policy": pol}
    if lab is not None:
        if not pol["ok"]:
            raise JinbaoError(f"zone policy verification: {pol['findings']} findings (out/policy-verify.json)")
        result["figures"] = _lab_half(ws, out_dir, lab, begin, step, say, steps)
        result["lab"] = {"name": lab.name, "slice": lab.slice, "mgmt_net": lab.mgmt_net, "kept": lab.keep}
        result["targets_missed"] = targets_missed(steps)
        result["index"] = str(out_dir / "index.html")
    atomic_write_text(out_dir / "summary.json", json.dumps(result, ensure_ascii=False, indent=1) + "\n")
    atomic_write_text(out_dir / "summary.md", "# jinbao run\n\n" + _missed_markdown(steps)
                      + summary_markdown(reg) + "\n\n" + _steps_markdown(steps) + "\n")
    log(f"summary: {out_dir / 'summary.json'}")
    return result


def _network_steps(ws: Workspace, out_dir: Path, begin: Callable[[str], float], step: Callable[..., None],
                   log: Callable[[str], None], diagram_scope: str) -> dict:
    """Plan, render (with LAB-ONLY secrets: make run has no vault), verify and draw the nation."""
    from inventory.scope import normalise_scope, sites_in_scope, with_parents
    from network.diagram import draw
    from network.plan import build_intents
    from network.render import render_many
    from network.secrets import LabTestSecrets
    from network.verify import verify

    t = begin("plan")
    p = ws.network  # on the records the allocate step produced
    intents = build_intents(p)
    step("plan", t, routers=len(intents))

    t = begin("render")
    log("[yellow]rendering with LAB-ONLY test secrets (no vault in make run): not for real devices[/]")
    manifest = render_many(intents.values(), LabTestSecrets(), out_dir / "configs")
    step("render", t, configs=len(manifest["devices"]), out=str(out_dir / "configs"))

    t = begin("verify")
    report = verify(p, intents, progress=lambda m: log(f"  verify: {m}"))
    atomic_write_text(out_dir / "verify.json", json.dumps(report.as_dict(), ensure_ascii=False, indent=1) + "\n")
    step("verify", t, findings=len(report.findings), checks=sum(report.checked.values()))

    t = begin("diagram")
    draw(p.inv, sites_in_scope(p.inv, None), out_dir / "diagram-nation.svg")
    region = with_parents(p.inv, sites_in_scope(p.inv, diagram_scope))  # and where it hangs, as `jinbao diagram`
    draw(p.inv, region, out_dir / f"diagram-{normalise_scope(diagram_scope)}.svg")
    step("diagram", t, files=2)
    return {"ok": report.ok, "verify": report.as_dict()["checked"], "findings": len(report.findings),
            "intents": intents}


def _policy_step(ws: Workspace, intents: dict, out_dir: Path, begin: Callable[[str], float],
                 step: Callable[..., None], say: Callable[[str], None]) -> dict:
    """`jinbao policy verify` on the nation: every firewall site's compiled rules proved against the zone
    policy on every platform, and no routing path into the office network (on the run's records, read once)."""
    from network.plan import build_firewall_intents
    from network.policy.compile import PLATFORMS
    from network.policy.separation import JSON as SEPARATION_JSON
    from network.policy.separation import office_pools, separation_findings
    from network.policy.service import firewall_sites, verify_sites

    t = begin("policy")
    p = ws.network
    world = ws.zone_world
    sites = firewall_sites(world, None)
    report = verify_sites(world, sites, PLATFORMS, progress=lambda i, n: say(f"policy: {i}/{n} sites"))
    devices = intents | build_firewall_intents(p)
    paths = separation_findings(devices, office_pools(p.addr.reg))
    ok = not report.findings and not paths
    separation = {"devices_checked": len(devices), "findings": [x.as_dict(SEPARATION_JSON) for x in paths]}
    atomic_write_text(out_dir / "policy-verify.json", json.dumps(
        report.as_dict() | {"ok": ok, "separation": separation}, ensure_ascii=False, indent=1) + "\n")
    step("policy", t, sites=len(sites), platforms=len(PLATFORMS), rule_lines=report.rule_lines,
         findings=len(report.findings) + len(paths))
    return {"ok": ok, "sites": len(sites), "rule_lines": report.rule_lines,
            "findings": len(report.findings) + len(paths)}


def _lab_half(ws: Workspace, out_dir: Path, lab: LabRun, begin: Callable[[str], float], step: Callable[..., None],
              say: Callable[[str], None], steps: list[dict]) -> dict:
    """The lab steps, then the index of every report, then (the last step) the index checked in Chromium."""
    figures = _lab_steps(ws, out_dir, lab, begin, step, say)
    _write_index(out_dir, steps, lab)
    figures["index-check"] = _index_check(out_dir, begin, step)
    return figures


def _lab_steps(ws: Workspace, out_dir: Path, lab: LabRun, begin: Callable[[str], float],
               step: Callable[..., None], say: Callable[[str], None]) -> dict:
    """The lab half, in order; each step's figures go into the summary and the index."""
    figures: dict[str, dict] = {}
    for name, fn in lab_steps(ws, out_dir, lab, say):
        t = begin(name)
        figures[name] = fn()
        step(name, t, **figures[name])
    return figures


def lab_steps(ws: Workspace, out_dir: Path, lab: LabRun, say: Callable[[str], None],
              ) -> list[tuple[str, Callable[[], dict]]]:
    """The lab half's steps in order, each on the run's workspace: the inventory, the records and the plan
    are not read again (the lab plan is built on `ws.network` in lab-up, the deploy engine's Nornir inventory
    is handed the same plan, plugins.hostvars.share_network)."""
    from jinbao import labdr, labrun
    from plugins.hostvars import share_network

    dr: list[labdr.DrSetup] = []  # the drilled pair and its variables: the server build needs them too
    planned: list[tuple[LabPlan, dict[str, str]]] = []  # the slice's lab plan and its record, from lab-up on

    def up() -> dict:
        planned.append(labrun.lab_plan(ws, lab))
        share_network(ws.directory, ws.network)
        return labrun.lab_up(ws.directory, lab, planned[0][0], say)

    def servers() -> dict:
        dr.append(labdr.dr_setup(ws, lab.name, lab.slice))
        return labrun.servers_build(lab, out_dir, say, extra_vars=dr[0].variables)

    # the network first (isolation proves the zone policy by traffic before the servers' own default-deny host
    # firewalls are up: behind them a dropped probe would say nothing about the network); then everything is
    # built (servers, the drilled pair's replication) before the audit, which checks what an operator runs
    return [
        ("lab-up", up),
        ("vm-provision", lambda: labrun.vm_provision(ws, lab, out_dir, say)),
        ("deploy", lambda: labrun.deploy(ws, lab, planned[0], out_dir, say)),
        ("routing", lambda: labrun.verify_routing(lab, planned[0][0], out_dir, say)),
        ("isolation", lambda: labrun.verify_isolation(lab, ws.zone_world, planned[0][0], out_dir, say)),
        ("servers", servers),
        # the replication plan's pair in the slice: replication built and streaming
        ("dr-build", lambda: labdr.dr_build(dr[0], lab.name, out_dir, say)),
        # `check all`: network, config, every server's testinfra suites, the pair's replication
        ("compliance", lambda: labrun.verify_compliance(lab, planned[0], out_dir, say, [dr[0].pair])),
        # switchover with the witness, failback
        ("dr-drill", lambda: labdr.dr_drill(dr[0], lab.name, out_dir, say)),
        ("ferry", lambda: labrun.ferry(ws, lab, out_dir, say)),
    ]


def _index_check(out_dir: Path, begin: Callable[[str], float], step: Callable[..., None]) -> dict:
    """The last step, on the index just written: headless Chromium screenshots it to out/index.png and every
    local link resolves to a file in out/ (jinbao/indexcheck.py); a failure fails the run, naming the step."""
    from jinbao.indexcheck import check_index

    t = begin("index-check")
    figures = check_index(out_dir / "index.html", out_dir / "index.png")
    step("index-check", t, **figures)
    return figures


def _write_index(out_dir: Path, steps: list[dict], lab: LabRun, failed: str | None = None, error: str = "") -> None:
    from jinbao.index import render_index

    try:
        figures = {s["step"]: s for s in steps}  # each step's figures, as far as the run got
        atomic_write_text(out_dir / "index.html", render_index(out_dir, steps, figures, lab, failed, error))
    except OSError:
        pass


def _value(v: object) -> str:
    if isinstance(v, list):  # a step's list figure (targets missed): readable, not a Python repr
        return "; ".join(map(str, v)) or "none"
    return str(v)


def _info(info: dict) -> str:
    return ", ".join(f"{k} {_value(v)}" for k, v in info.items())


def _missed(info: dict) -> list[str]:
    return [str(m) for m in info.get("targets_missed") or []]


def targets_missed(steps: list[dict]) -> list[dict[str, str]]:
    """Every target a step measured and missed without failing (the DR drill's RTO under load)."""
    return [{"step": s["step"], "missed": m} for s in steps for m in _missed(s)]


def _missed_markdown(steps: list[dict]) -> str:
    return "".join(f"**Target missed** ({m['step']}): {m['missed']}\n\n" for m in targets_missed(steps))


def _steps_markdown(steps: list[dict]) -> str:
    lines = ["| step | seconds | result |", "|---|---|---|"]
    for s in steps:
        info = _info({k: v for k, v in s.items() if k not in ("step", "seconds")})
        lines.append(f"| {s['step']} | {s['seconds']} | {info} |")
    return "\n".join(lines)
