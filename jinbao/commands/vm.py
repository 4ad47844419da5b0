"""`jinbao vm`: the servers' VMs on vSphere (provision, list). Thin: options in, vsphere.* does the work."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(no_args_is_help=True, help="Server VMs on vSphere from the source of truth (docs/vsphere.md).")
out = Console()
err = Console(stderr=True)

ScopeOpt = Annotated[str | None, typer.Option("--scope", help="Site id, city, province or 100000.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="Placement and sizes.",
                                                show_default="<inventory>/vsphere.yaml, else the defaults")]


def _wanted(ctx: typer.Context, scope: str | None, config: Path | None):  # type: ignore[no-untyped-def]
    from jinbao.commands.base import inventory_dir
    from plugins.hostvars import load_view
    from vsphere.config import CONFIG_FILE, load_config
    from vsphere.plan import wanted_vms

    directory = inventory_dir(ctx)
    cfg, source = load_config(config or directory / CONFIG_FILE)
    view = load_view(directory, scope=scope)
    return cfg, source, wanted_vms(view.hosts, cfg, source)


def _emit(data: object) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=1) + "\n")


@app.command("provision")
def provision_cmd(
    ctx: typer.Context,
    scope: ScopeOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check placement, say what would be created.")] = False,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Clones at once.")] = 4,
    wait: Annotated[float | None, typer.Option("--wait", help="Seconds to wait for each guest's address.")] = None,
) -> None:
    """Clone every missing server VM from its template, place, size, address, power on and wait.

    VMs that exist are left alone (reported unchanged, or differs with what differs)."""
    from vsphere.client import Endpoint, connect
    from vsphere.provision import provision

    cfg, source, wanted = _wanted(ctx, scope, config)
    ep = Endpoint.from_env()
    with connect(ep) as si, err.status(f"provisioning {len(wanted)} VMs on {ep.label}") as status:
        results = provision(si, ep.label, wanted, cfg, source, dry_run=dry_run, workers=workers, wait_seconds=wait,
                            progress=lambda n, m: status.update(f"{n}: {m}"))
    counts = Counter(r.action for r in results)
    changed = counts.get("created", 0)
    if as_json:
        _emit({"vcenter": ep.label, "dry_run": dry_run, "changed": changed, "summary": dict(counts),
               "vms": [r.__dict__ for r in results]})
    else:
        table = Table("vm", "action", "detail", "s")
        for r in results:
            table.add_row(r.name, r.action, r.error or "; ".join(r.detail), f"{r.seconds:.1f}")
        out.print(table)
        summary = ", ".join(f"{n} {a}" for a, n in sorted(counts.items()))
        out.print(f"{ep.label}: {summary}" + ("" if changed or dry_run else " - nothing changed"))
    if counts.get("failed"):
        raise typer.Exit(1)


@app.command("list")
def list_cmd(ctx: typer.Context, scope: ScopeOpt = None, as_json: JsonOpt = False, config: ConfigOpt = None) -> None:
    """What vCenter has versus what the inventory wants: missing, extra (jinbao-made, not wanted), differing."""
    from vsphere.client import Endpoint, connect, read_vms
    from vsphere.plan import compare

    _, _, wanted = _wanted(ctx, scope, config)
    ep = Endpoint.from_env()
    with connect(ep) as si:
        existing = read_vms(si)
    cmp = compare(wanted, existing, {w.folder for w in wanted} if scope else None)
    vms = {w.name: existing[w.name] for w in wanted if w.name in existing} | {n: existing[n] for n in cmp.extra}
    if as_json:
        _emit({"vcenter": ep.label, "wanted": len(wanted), "existing": {n: v.__dict__ for n, v in vms.items()},
               **cmp.as_dict()})
        return
    table = Table("vm", "state", "where", "size", "address")
    for w in wanted:
        v = existing.get(w.name)
        state = "missing" if v is None else ("differs: " + "; ".join(cmp.differing[w.name])
                                             if w.name in cmp.differing else "ok")
        where = f"{v.datacenter}/{v.cluster}/{v.folder}" if v else ""
        size = f"{v.cpu} cpu {v.memory_mb} MB {v.disk_gb} GB" if v else ""
        table.add_row(w.name, state, where, size, (v.ip or "") if v else "")
    for n in cmp.extra:
        v = existing[n]
        table.add_row(n, "extra (not in the inventory)", f"{v.datacenter}/{v.cluster}/{v.folder}", "", v.ip or "")
    out.print(table)
    out.print(f"{ep.label}: {len(cmp.matching)} ok, {len(cmp.missing)} missing, {len(cmp.differing)} differing, "
              f"{len(cmp.extra)} extra")
