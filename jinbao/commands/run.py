"""`jinbao run`: the whole job (what `make run` runs); the steps live in `jinbao.pipeline`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from jinbao.commands.base import JsonOpt, emit_json, err, inventory_dir

app = typer.Typer()


@app.command("run")
def run(
    ctx: typer.Context,
    out_dir: Annotated[Path, typer.Option("--out", help="Where exports and reports go.")] = Path("out"),
    as_json: JsonOpt = False,
    diagram_scope: Annotated[str, typer.Option(
        "--diagram-scope", help="Region drawn as the second diagram (any --scope form).")] = "140000",
) -> None:
    """The whole job on the inventory: validate, allocate, check, export, summarise."""
    from jinbao.pipeline import run_all

    summary = run_all(inventory_dir(ctx), out_dir, log=err.print, diagram_scope=diagram_scope)
    if as_json:
        emit_json(summary)
    if not summary["ok"]:
        raise typer.Exit(1)
