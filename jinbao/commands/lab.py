"""`jinbao lab …`: an emulated slice of the network on this machine."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from core.errors import JinbaoError
from jinbao.commands.base import JsonOpt, emit_json, err, inventory_dir, out

app = typer.Typer(no_args_is_help=True, help="An emulated slice of the network on this machine (root).")
LabNameOpt = Annotated[str, typer.Option("--name", help="Lab name (up to 8 letters/digits).")]


@app.command("up")
def lab_up(
    ctx: typer.Context,
    slice_name: Annotated[str, typer.Option("--slice", help="default | minimal")] = "default",
    name: LabNameOpt = "jinbao",
    mgmt_net: Annotated[str, typer.Option("--mgmt-net", help="The lab's out-of-band network.")] = "100.127.0.0/24",
    production_bfd: Annotated[bool | None, typer.Option(
        "--production-bfd/--lab-bfd",
        help="BFD at the routing plan's timers or at bfd.lab_interval_ms (docs/lab.md); default: as recorded for "
             "a lab that is up, else the lab's.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Build the lab slice from the inventory: containers, links, LANs, management network. Idempotent."""
    from lab import runtime
    from lab.fleet import record_lab, recorded_production_bfd
    from lab.slice import SLICES, build_lab

    if slice_name not in SLICES:
        raise JinbaoError(f"--slice {slice_name!r}: one of {', '.join(SLICES)}")
    if production_bfd is None:  # an idempotent `up` again must not change what the routers were deployed with
        production_bfd = recorded_production_bfd(name)
    lp = build_lab(inventory_dir(ctx), slice_name, name, mgmt_net, production_bfd)
    with err.status(f"lab {name}: starting {len(lp.spec.nodes)} nodes…") as status:
        info = runtime.up(lp.spec, progress=lambda m: status.update(m))
    record_lab(name, slice_name, inventory_dir(ctx), mgmt_net, production_bfd)
    result = {"lab": name, "slice": slice_name, "nodes": len(lp.spec.nodes), "changed": info["changed"],
              "seconds": round(info["seconds"], 2)}
    if as_json:
        emit_json(result)
        return
    out.print(f"lab {name} ({slice_name}): {result['nodes']} nodes up in {result['seconds']} s"
              + ("" if info["changed"] else " (already up)"))


@app.command("status")
def lab_status(name: LabNameOpt = "jinbao", as_json: JsonOpt = False) -> None:
    """Nodes of the lab with their management address and state (name = inventory hostname)."""
    from lab import runtime

    rows = [{**r, "node": r["name"], "name": r.get("hostname", r["name"])} for r in runtime.status(name)]
    if as_json:
        emit_json({"lab": name, "nodes": rows})
        return
    t = Table("name", "role", "mgmt_ip", "state")
    for r in rows:
        t.add_row(r["name"], r["role"], r["mgmt_ip"], r["state"])
    out.print(t)


@app.command("down")
def lab_down(name: LabNameOpt = "jinbao", as_json: JsonOpt = False) -> None:
    """Remove everything the lab created (namespaces, links, mounts, processes)."""
    from lab import runtime

    with err.status(f"lab {name}: tearing down…"):
        info = runtime.down(name)
    if as_json:
        emit_json(info)
        return
    out.print(f"lab {name}: down")


@app.command("exec", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def lab_exec(ctx: typer.Context, node: str, name: LabNameOpt = "jinbao") -> None:
    """Run a command inside a node (its namespaces and root filesystem): `jinbao lab exec HOST -- CMD…`."""
    from lab import runtime
    from lab.slice import node_name

    argv = [a for a in ctx.args if a != "--"] if ctx.args and ctx.args[0] == "--" else list(ctx.args)
    if not argv:
        raise JinbaoError("lab exec: give a command after --")
    r = runtime.exec(name, node_name(node), argv, text=False)
    sys.stdout.buffer.write(r.stdout or b"")
    sys.stderr.buffer.write(r.stderr or b"")
    raise typer.Exit(r.returncode)
