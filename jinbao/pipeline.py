"""`make run`: the whole job on an inventory, step by step, each step's result in one summary."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from jinbao.fsutil import atomic_write_text


def run_all(inventory_dir: Path, out_dir: Path, log: Callable[[str], None] = print) -> dict:
    from ipplan.export import render, summary, summary_markdown
    from ipplan.service import allocate_and_save, check, open_plan

    steps: list[dict] = []

    def step(name: str, t0: float, **info: object) -> None:
        steps.append({"step": name, "seconds": round(time.perf_counter() - t0, 3), **info})
        log(f"[bold]{name}[/]: " + ", ".join(f"{k} {v}" for k, v in info.items()))

    t = time.perf_counter()
    state = open_plan(inventory_dir)
    inv = state.loaded.inventory
    step("inventory", t, sites=len(inv.sites), devices=len(inv.devices), links=len(inv.links))

    t = time.perf_counter()
    reg, report = allocate_and_save(state)
    step("allocate", t, allocations=len(reg), added=len(report.added),
         decommissioned=len(report.decommissioned))

    t = time.perf_counter()
    findings = check(state, reg)
    step("check", t, findings=len(findings))

    t = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    for fmt, name in (("json", "ipplan.json"), ("netbox-csv", "ipplan-netbox.csv"), ("markdown", "ipplan.md")):
        atomic_write_text(out_dir / name, render(reg, fmt))
    step("export", t, files=3, out=str(out_dir))

    net = _network_steps(inventory_dir, out_dir, step, log)
    result = {"ok": not findings and net["ok"], "steps": steps, "ipplan": summary(reg),
              "findings": [f.as_dict() for f in findings[:100]], "verify": net["verify"]}
    atomic_write_text(out_dir / "summary.json", json.dumps(result, ensure_ascii=False, indent=1) + "\n")
    atomic_write_text(out_dir / "summary.md", "# jinbao run\n\n" + summary_markdown(reg) + "\n\n"
                      + _steps_markdown(steps) + "\n")
    log(f"summary: {out_dir / 'summary.json'}")
    return result


def _network_steps(inventory_dir: Path, out_dir: Path, step: Callable[..., None],
                   log: Callable[[str], None]) -> dict:
    """Plan, render (with LAB-ONLY secrets: make run has no vault), verify and draw the nation."""
    from network.diagram import draw
    from network.plan import build_intents
    from network.render import render_many
    from network.scope import sites_in_scope
    from network.secrets import LabTestSecrets
    from network.service import open_network
    from network.verify import verify

    t = time.perf_counter()
    p = open_network(inventory_dir)
    intents = build_intents(p)
    step("plan", t, routers=len(intents))

    t = time.perf_counter()
    log("[yellow]rendering with LAB-ONLY test secrets (no vault in make run): not for real devices[/]")
    manifest = render_many(intents.values(), LabTestSecrets(), out_dir / "configs")
    step("render", t, configs=len(manifest["devices"]), out=str(out_dir / "configs"))

    t = time.perf_counter()
    report = verify(p, intents, progress=lambda m: log(f"  verify: {m}"))
    atomic_write_text(out_dir / "verify.json", json.dumps(report.as_dict(), ensure_ascii=False, indent=1) + "\n")
    step("verify", t, findings=len(report.findings), checks=sum(report.checked.values()))

    t = time.perf_counter()
    draw(p.inv, sites_in_scope(p.inv, None), out_dir / "diagram-nation.svg")
    shanxi = sites_in_scope(p.inv, "140000") | {"100000-DC"}
    draw(p.inv, shanxi, out_dir / "diagram-140000.svg")
    step("diagram", t, files=2)
    return {"ok": report.ok, "verify": report.as_dict()["checked"]}


def _steps_markdown(steps: list[dict]) -> str:
    lines = ["| step | seconds | result |", "|---|---|---|"]
    for s in steps:
        info = ", ".join(f"{k} {v}" for k, v in s.items() if k not in ("step", "seconds"))
        lines.append(f"| {s['step']} | {s['seconds']} | {info} |")
    return "\n".join(lines)
