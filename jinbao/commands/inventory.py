"""`jinbao inventory …`: the source of truth."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

import typer

from jinbao.commands.base import JsonOpt, emit_json, out, row, table, workspace

app = typer.Typer(no_args_is_help=True, help="The source of truth: sites, devices, links.",
                  epilog="Examples:\n\n  jinbao inventory validate --json\n\n"
                         "  jinbao inventory show --scope 14   (Shanxi: GB/T 2260 short form)")


@app.command("validate")
def inventory_validate(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Load and validate the inventory; print what it holds."""
    inv = workspace(ctx).inventory
    counts = {"sites": len(inv.sites), "devices": len(inv.devices), "links": len(inv.links),
              "sites_by_tier": dict(Counter(s.tier for s in inv.sites))}
    if as_json:
        emit_json({"valid": True, **counts})
        return
    out.print(f"[green]valid[/]: {counts['sites']} sites, {counts['devices']} devices, {counts['links']} links "
              f"({', '.join(f'{n} {t}' for t, n in counts['sites_by_tier'].items())})")


@app.command("show")
def inventory_show(
    ctx: typer.Context,
    as_json: JsonOpt = False,
    scope: Annotated[str | None, typer.Option(
        help="Site id or region code and everything under it (default: the nation).")] = None,
) -> None:
    """Show sites, devices and links (JSON contract: docs/inventory.md)."""
    from ipplan.inventory_export import inventory_dict

    ws = workspace(ctx)
    data = inventory_dict(ws.inventory, ws.registry, scope)
    if as_json:
        emit_json(data)
        return
    t = table("site", "tier", "kind", "parent", "name", "devices")
    per_site = Counter(dev["site"] for dev in data["devices"])
    for s in data["sites"]:
        row(t, s["id"], s["tier"], s["kind"], s["parent"] or "-", f"{s['name_zh']} / {s['name_en']}",
            per_site[s["id"]])
    out.print(t)
    t = table("device", "site", "role", "platform", "management IPv4", "management IPv6")
    for dev in data["devices"]:
        row(t, dev["hostname"], dev["site"], dev["role"], dev["platform"], dev["mgmt_ip"] or "-",
            dev["mgmt_ipv6"] or "-")
    out.print(t)
    t = table("link", "kind", "a", "b")
    for lk in data["links"]:
        row(t, lk["id"], lk["kind"], lk["a"], lk["b"])
    out.print(t)
    out.print(f"{len(data['sites'])} sites, {len(data['devices'])} devices, {len(data['links'])} links")
