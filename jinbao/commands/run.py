"""`jinbao run`: the whole job (what `make run` runs); the steps live in `jinbao.pipeline` and `jinbao.labrun`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from jinbao.commands.base import JsonOpt, emit_json, err, inventory_dir, out
from jinbao.labrun import LabRun

app = typer.Typer()


@app.command("run")
def run(
    ctx: typer.Context,
    out_dir: Annotated[Path, typer.Option("--out", help="Where exports and reports go.")] = Path("out"),
    as_json: JsonOpt = False,
    diagram_scope: Annotated[str, typer.Option(
        "--diagram-scope", help="Region drawn as the second diagram (any --scope form).")] = "140000",
    static: Annotated[bool, typer.Option(
        "--static", help="Only the offline half: inventory, IP plan, renders, verification, policy, diagrams.")
    ] = False,
    lab_name: Annotated[str, typer.Option("--lab-name", help="Name of the lab the run builds (never a lab "
                                          "`jinbao lab up` built).")] = LabRun.name,
    mgmt_net: Annotated[str, typer.Option("--mgmt-net", help="The lab's out-of-band network.")] = LabRun.mgmt_net,
    slice_name: Annotated[str, typer.Option("--slice", help="Lab slice (minimal: the smallest with every role).")
                          ] = "minimal",
    keep_lab: Annotated[bool, typer.Option("--keep-lab", help="Leave the lab up afterwards (also KEEP_LAB=1).")
                        ] = False,
) -> None:
    """The whole job: static half on the nation, then a lab slice built, deployed, verified and torn down."""
    from jinbao.pipeline import run_all

    lab = None if static else LabRun(lab_name, mgmt_net, slice_name, keep_lab or os.environ.get("KEEP_LAB") == "1")
    with err.status("jinbao run…") as status:
        summary = run_all(inventory_dir(ctx), out_dir, log=err.print, diagram_scope=diagram_scope, lab=lab,
                          status=lambda m: status.update(m[:150]))
    if as_json:
        emit_json(summary)
    elif lab is not None:
        f = summary.get("figures", {})
        r, i, c, d, fy = (f.get(k, {}) for k in ("routing", "isolation", "compliance", "dr-drill", "ferry"))
        out.print(f"sessions up {r.get('sessions')}, reachable {r.get('reachable')}, isolation {i.get('pass')} pass /"
                  f" {i.get('fail')} fail, compliance {c.get('score_pct')} %, DR switchover RTO {d.get('rto_s')} s"
                  f" RPO {d.get('rpo_commits')} (failback {d.get('failback')}), ferry {fy.get('throughput_mbit_s')}"
                  " Mbit/s")
        for m in summary.get("targets_missed", []):  # measured results, not failures: said where they are seen
            out.print(f"[bold yellow]target missed[/] ({m['step']}): {m['missed']}")
        ix = f.get("index-check", {})
        out.print(f"index: {summary['index']} (checked in headless Chromium: {ix.get('links_checked')} links resolve,"
                  f" screenshot {ix.get('screenshot')})")
    if not summary["ok"]:
        raise typer.Exit(1)
