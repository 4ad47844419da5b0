"""`jinbao dr …` — disaster recovery: the replication plan."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(no_args_is_help=True, help="Disaster recovery: replication plan.")
out = Console()


@app.command("plan")
def plan_cmd(
    ctx: typer.Context,
    scope: Annotated[str | None, typer.Option("--scope", help="Primaries in this site id or region code.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")] = False,
) -> None:
    """Every production database and the DR centre that holds its replica.

    Examples: `jinbao dr plan --json`, `jinbao dr plan --scope 140000`.
    """
    from dr.config import load_dr_config
    from dr.plan import replication_plan
    from inventory.load import default_inventory_dir, load
    from network.scope import sites_in_scope

    directory = ctx.find_root().params.get("inventory") or default_inventory_dir()
    inv = load(directory).inventory
    doc, path = load_dr_config(directory)
    pairs = replication_plan(inv, doc, str(path))
    inside = sites_in_scope(inv, scope)
    pairs = [p for p in pairs if p.primary_site in inside]
    if as_json:
        sys.stdout.write(json.dumps({"pairs": [p.as_dict() for p in pairs]}, ensure_ascii=False, indent=1) + "\n")
        return
    t = Table("primary", "replica", "mode", "slot")
    for p in pairs:
        t.add_row(p.primary, p.replica, p.mode, p.slot)
    out.print(t)
    out.print(f"{len(pairs)} pairs, {sum(p.mode == 'sync' for p in pairs)} synchronous")
