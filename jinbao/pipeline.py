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

    result = {"ok": not findings, "steps": steps, "ipplan": summary(reg),
              "findings": [f.as_dict() for f in findings[:100]]}
    atomic_write_text(out_dir / "summary.json", json.dumps(result, ensure_ascii=False, indent=1) + "\n")
    atomic_write_text(out_dir / "summary.md", "# jinbao run\n\n" + summary_markdown(reg) + "\n")
    log(f"summary: {out_dir / 'summary.json'}")
    return result
