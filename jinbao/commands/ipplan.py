"""`jinbao ipplan …`: the IP plan and its registration record."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from core.errors import JinbaoError
from core.fsutil import atomic_write_text, check_out_dir, unwritable
from jinbao.commands.base import JsonOpt, emit_json, err, inventory_dir, out, workspace

app = typer.Typer(no_args_is_help=True, help="The IP plan and its registration record (备案).",
                  epilog="Examples:\n\n  jinbao ipplan allocate   (only ever adds; writes both records)\n\n"
                         "  jinbao ipplan check\n\n"
                         "  jinbao ipplan export --format netbox-csv --out netbox/   (docs/ipplan.md)")


@app.command("allocate")
def ipplan_allocate(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Allocate whatever the inventory needs and is not yet registered. Only ever adds."""
    with err.status("allocating the IP plan…"):
        ws = workspace(ctx)
        state = ws.plan_state
        reg, report, _, port_report = done = ws.allocate()
    result = {"registry": str(state.registry_path), "allocations": len(reg), "added": len(report.added),
              "reactivated": len(report.reactivated), "decommissioned": len(report.decommissioned),
              "ports_added": len(port_report.added), "ports_decommissioned": len(port_report.decommissioned),
              "changed": done.changed}
    if as_json:
        emit_json({**result, "added_keys": report.added, "decommissioned_keys": report.decommissioned})
        return
    out.print(f"{result['allocations']} allocations in {escape(result['registry'])}: {result['added']} added, "
              f"{result['reactivated']} reactivated, {result['decommissioned']} decommissioned;"
              f" {result['ports_added']} ports added" + ("" if done.changed else " (unchanged)"))


@app.command("check")
def ipplan_check(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Check the registry: containment, overlaps, reservations, coverage of the inventory."""
    from ipplan.check import JSON
    from ipplan.service import check

    with err.status("checking the IP plan…"):
        state = workspace(ctx).plan_state
        findings = check(state)
    if as_json:
        emit_json({"ok": not findings, "allocations": len(state.registry),
                   "findings": [f.as_dict(JSON) for f in findings]})
    elif findings:
        for f in findings[:50]:
            err.print(f"[red]{f.rule}[/] {escape(f.subject)}: {escape(f.message)}")
        if len(findings) > 50:
            err.print(f"… and {len(findings) - 50} more")
    else:
        out.print(f"[green]ok[/]: {len(state.registry)} allocations consistent and covering the inventory")
    if findings:
        raise typer.Exit(1)


@app.command("export")
def ipplan_export(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", "-f", help="json | netbox-csv | markdown")] = "json",
    out_file: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Write here instead of stdout (netbox-csv: a directory).")] = None,
    netbox_sites: Annotated[Path | None, typer.Option(
        "--netbox-sites", help="netbox-csv: the site list exported from your NetBox (ID, Name), for scope ids.")
    ] = None,
) -> None:
    """Export the registration record (netbox-csv: the import files for NetBox, docs/ipplan.md)."""
    from ipplan.export import FORMATS, render

    if fmt not in FORMATS:
        raise JinbaoError(f"--format {fmt!r}: one of {', '.join(FORMATS)}")
    if fmt == "netbox-csv":
        from ipplan.service import export_netbox

        if out_file is None:
            raise JinbaoError("netbox-csv is six files in import order: give --out DIR", entry="--out")
        check_out_dir(out_file)
        try:
            written = export_netbox(inventory_dir(ctx), out_file, netbox_sites)
        except OSError as e:
            raise unwritable(out_file, e) from None
        err.print(f"wrote {len(written)} files into {escape(str(out_file))}: "
                  + ", ".join(escape(p.name) for p in written))
        return
    text = render(workspace(ctx).registry, fmt)
    if out_file is None:
        sys.stdout.write(text)
    else:
        try:
            atomic_write_text(out_file, text)
        except OSError as e:  # nothing written: the temporary file is removed
            raise unwritable(out_file, e) from None
        err.print(f"wrote {escape(str(out_file))}")
