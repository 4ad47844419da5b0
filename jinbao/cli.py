"""`jinbao` — one command line for the whole suite. Thin: parses options, calls a module, prints."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from jinbao.errors import JinbaoError
from jinbao.fsutil import atomic_write_text

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__, pretty_exceptions_enable=False)
inventory_app = typer.Typer(no_args_is_help=True, help="The source of truth: sites, devices, links.")
ipplan_app = typer.Typer(no_args_is_help=True, help="The IP plan and its registration record (备案).")
app.add_typer(inventory_app, name="inventory")
app.add_typer(ipplan_app, name="ipplan")

out = Console()
err = Console(stderr=True)


class _State:
    inventory_dir: Path | None = None


STATE = _State()
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]


def inventory_dir() -> Path:
    from inventory.load import default_inventory_dir

    return STATE.inventory_dir or default_inventory_dir()


@app.callback()
def _main(
    inventory: Annotated[Path | None, typer.Option("--inventory", "-i", help="Inventory directory.",
                                                   show_default="inventory/")] = None,
) -> None:
    STATE.inventory_dir = inventory


def emit_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=1) + "\n")


# -- inventory -------------------------------------------------------------------------------------
@inventory_app.command("validate")
def inventory_validate(as_json: JsonOpt = False) -> None:
    """Load and validate the inventory; print what it holds."""
    from inventory.load import load

    inv = load(inventory_dir()).inventory
    counts = {"sites": len(inv.sites), "devices": len(inv.devices), "links": len(inv.links),
              "sites_by_tier": dict(Counter(s.tier for s in inv.sites))}
    if as_json:
        emit_json({"valid": True, **counts})
        return
    out.print(f"[green]valid[/]: {counts['sites']} sites, {counts['devices']} devices, {counts['links']} links "
              f"({', '.join(f'{n} {t}' for t, n in counts['sites_by_tier'].items())})")


@inventory_app.command("show")
def inventory_show(
    as_json: JsonOpt = False,
    scope: Annotated[str | None, typer.Option(help="Only sites whose id or region code starts with this.")] = None,
) -> None:
    """Show sites, devices and links (JSON contract: docs/inventory.md)."""
    from inventory.export import inventory_dict
    from inventory.load import load
    from ipplan.config import REGISTRY_FILE
    from ipplan.registry import load_registry

    d = inventory_dir()
    loaded = load(d)
    data = inventory_dict(loaded.inventory, load_registry(d / REGISTRY_FILE), scope)
    if as_json:
        emit_json(data)
        return
    t = Table("site", "tier", "kind", "parent", "name", "devices")
    per_site = Counter(dev["site"] for dev in data["devices"])
    for s in data["sites"]:
        t.add_row(s["id"], s["tier"], s["kind"], s["parent"] or "-", f"{s['name_zh']} / {s['name_en']}",
                  str(per_site[s["id"]]))
    out.print(t)
    out.print(f"{len(data['sites'])} sites, {len(data['devices'])} devices, {len(data['links'])} links")


# -- ipplan ------------------------------------------------------------------------------------------
@ipplan_app.command("allocate")
def ipplan_allocate(as_json: JsonOpt = False) -> None:
    """Allocate whatever the inventory needs and is not yet registered. Only ever adds."""
    from ipplan.service import allocate_and_save, open_plan

    with err.status("allocating the IP plan…"):
        state = open_plan(inventory_dir())
        reg, report = allocate_and_save(state)
    result = {"registry": str(state.registry_path), "allocations": len(reg), "added": len(report.added),
              "reactivated": len(report.reactivated), "decommissioned": len(report.decommissioned),
              "changed": report.changed}
    if as_json:
        emit_json({**result, "added_keys": report.added, "decommissioned_keys": report.decommissioned})
        return
    out.print(f"{result['allocations']} allocations in {result['registry']}: {result['added']} added, "
              f"{result['reactivated']} reactivated, {result['decommissioned']} decommissioned"
              + ("" if report.changed else " (unchanged)"))


@ipplan_app.command("check")
def ipplan_check(as_json: JsonOpt = False) -> None:
    """Check the registry: containment, overlaps, reservations, coverage of the inventory."""
    from ipplan.service import check, open_plan

    with err.status("checking the IP plan…"):
        state = open_plan(inventory_dir())
        findings = check(state)
    if as_json:
        emit_json({"ok": not findings, "allocations": len(state.registry),
                   "findings": [f.as_dict() for f in findings]})
    elif findings:
        for f in findings[:50]:
            err.print(f"[red]{f.rule}[/] {f.key}: {f.message}")
        if len(findings) > 50:
            err.print(f"… and {len(findings) - 50} more")
    else:
        out.print(f"[green]ok[/]: {len(state.registry)} allocations consistent and covering the inventory")
    if findings:
        raise typer.Exit(1)


@ipplan_app.command("export")
def ipplan_export(
    fmt: Annotated[str, typer.Option("--format", "-f", help="json | netbox-csv | markdown")] = "json",
    out_file: Annotated[Path | None, typer.Option("--out", "-o", help="Write here instead of stdout.")] = None,
) -> None:
    """Export the registration record."""
    from ipplan.config import REGISTRY_FILE
    from ipplan.export import FORMATS, render
    from ipplan.registry import load_registry

    if fmt not in FORMATS:
        raise JinbaoError(f"--format {fmt!r}: one of {', '.join(FORMATS)}")
    text = render(load_registry(inventory_dir() / REGISTRY_FILE), fmt)
    if out_file is None:
        sys.stdout.write(text)
    else:
        atomic_write_text(out_file, text)
        err.print(f"wrote {out_file}")


# -- the main job ----------------------------------------------------------------------------------
@app.command("run")
def run(
    out_dir: Annotated[Path, typer.Option("--out", help="Where exports and reports go.")] = Path("out"),
    as_json: JsonOpt = False,
) -> None:
    """The whole job on the inventory: validate, allocate, check, export, summarise."""
    from jinbao.pipeline import run_all

    summary = run_all(inventory_dir(), out_dir, log=err.print)
    if as_json:
        emit_json(summary)
    if not summary["ok"]:
        raise typer.Exit(1)


def main() -> None:
    try:
        app()
    except JinbaoError as e:
        err.print(f"error: {e}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
