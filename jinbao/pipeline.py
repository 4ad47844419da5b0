"""`make run`: the whole job on an inventory, step by step, each step's result in one summary.

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
    from network.workspace import Workspace

# what each step writes into out/ (directories end in "/"); the regional diagram is diagram-<scope>.svg
OUTPUTS = {"export": ("ipplan.json", "netbox/", "ipplan.md"), "render": ("configs/",),
           "verify": ("verify.json",), "diagram": ("diagram-nation.svg", "diagram-*.svg")}
DIAGRAM_SCOPE = "140000"  # Shanxi: the province the lab slice and the docs use


def run_all(inventory_dir: Path, out_dir: Path, log: Callable[[str], None] = print,
            diagram_scope: str = DIAGRAM_SCOPE) -> dict:
    """The whole job on the nation; `diagram_scope` (any `--scope` form) is drawn as a second diagram."""
    out_dir = Path(out_dir)
    _start(out_dir)
    steps: list[dict] = []
    current = ["inventory"]  # the step in progress, for the failure summary

    def begin(name: str) -> float:
        current[0] = name
        return time.perf_counter()

    def step(name: str, t0: float, **info: object) -> None:
        steps.append({"step": name, "seconds": round(time.perf_counter() - t0, 3), **info})
        log(f"[bold]{name}[/]: " + ", ".join(f"{k} {v}" for k, v in info.items()))

    try:
        return _run(inventory_dir, out_dir, log, begin, step, steps, diagram_scope)
    except BaseException as e:
        _fail(out_dir, steps, current[0], e, log)
        raise


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


def _fail(out_dir: Path, steps: list[dict], failed: str, e: BaseException, log: Callable[[str], None]) -> None:
    """Leave a summary that says the run failed, where and why (best effort: the error is re-raised)."""
    error = str(e) if isinstance(e, JinbaoError) else f"{type(e).__name__}: {e}".rstrip(": ")
    error = " ".join(error.split())  # one line
    result = {"ok": False, "status": "failed", "failed_step": failed, "error": error, "steps": steps}
    lines = ["# jinbao run", "", f"**failed** at step `{failed}`: {error}", "",
             "Outputs of the steps below are from this run; nothing from an earlier run is left.", "",
             _steps_markdown(steps)]
    try:
        atomic_write_text(out_dir / "summary.json", json.dumps(result, ensure_ascii=False, indent=1) + "\n")
        atomic_write_text(out_dir / "summary.md", "\n".join(lines) + "\n")
    except OSError as we:  # the original error matters more; say only that the summary is missing
        log(f"[red]could not write the failure summary: {we}[/]")


def _run(inventory_dir: Path, out_dir: Path, log: Callable[[str], None], begin: Callable[[str], float],
         step: Callable[..., None], steps: list[dict], diagram_scope: str) -> dict:
    from inventory.scope import sites_in_scope
    from ipplan.check import JSON as FINDING_JSON
    from ipplan.export import render, summary, summary_markdown
    from ipplan.netbox import write_netbox
    from ipplan.service import check
    from network.workspace import Workspace

    t = begin("inventory")
    ws = Workspace(inventory_dir)  # every step reads through it: each file once
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

    t = begin("export")
    out_dir.mkdir(parents=True, exist_ok=True)
    for fmt, name in (("json", "ipplan.json"), ("markdown", "ipplan.md")):
        atomic_write_text(out_dir / name, render(reg, fmt))
    netbox = write_netbox(reg, inv, out_dir / "netbox")
    step("export", t, files=2 + len(netbox), out=str(out_dir))

    net = _network_steps(ws, out_dir, begin, step, log, diagram_scope)
    result = {"ok": not findings and net["ok"], "status": "done", "steps": steps, "ipplan": summary(reg),
              "findings": [f.as_dict(FINDING_JSON) for f in findings[:100]], "verify": net["verify"]}
    atomic_write_text(out_dir / "summary.json", json.dumps(result, ensure_ascii=False, indent=1) + "\n")
    atomic_write_text(out_dir / "summary.md", "# jinbao run\n\n" + summary_markdown(reg) + "\n\n"
                      + _steps_markdown(steps) + "\n")
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
    return {"ok": report.ok, "verify": report.as_dict()["checked"]}


def _steps_markdown(steps: list[dict]) -> str:
    lines = ["| step | seconds | result |", "|---|---|---|"]
    for s in steps:
        info = ", ".join(f"{k} {v}" for k, v in s.items() if k not in ("step", "seconds"))
        lines.append(f"| {s['step']} | {s['seconds']} | {info} |")
    return "\n".join(lines)
