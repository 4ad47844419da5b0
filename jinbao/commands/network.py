"""`jinbao intent | render | verify | diagram`: device intents, configurations, static verification,
diagrams (commands of the root, no group)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from core.errors import JinbaoError
from core.fsutil import check_out_dir, unwritable
from jinbao.commands.base import (
    JsonOpt,
    LabSecretsOpt,
    PlatformOpt,
    ScopeOpt,
    emit_json,
    err,
    out,
    row,
    secrets,
    table,
    workspace,
)

app = typer.Typer()


@app.command("intent")
def intent_cmd(ctx: typer.Context, hostname: str, as_json: JsonOpt = False, platform: PlatformOpt = None) -> None:
    """Show the vendor-neutral intent of one router."""
    from network.plan import build_intents

    p = workspace(ctx).network
    if hostname not in {d.hostname for d in p.inv.devices if d.is_router}:
        raise JinbaoError(f"{hostname}: no router with that hostname in the inventory")
    intent = build_intents(p, {hostname}, platform)[hostname]
    if as_json:
        emit_json(intent.model_dump(mode="json"))
        return
    out.print(f"[bold]{intent.hostname}[/] {intent.platform} AS{intent.asn} site {intent.site} ({intent.tier})")
    t = table("interface", "kind", "IPv4", "IPv6", "description")
    for itf in intent.interfaces:
        row(t, itf.name, itf.kind, itf.ipv4 or "", itf.ipv6 or "", itf.description)
    out.print(t)
    if intent.bgp:
        b = table("neighbour", "AS", "role", "link", "in", "out", "max-prefix")
        for n in intent.bgp.neighbors:
            row(b, n.address, str(n.remote_as), n.role, n.link_kind or "", n.route_map_in or "",
                n.route_map_out or "", str(n.max_prefix or ""))
        out.print(b)


@app.command("render")
def render_cmd(
    ctx: typer.Context,
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for <hostname>.cfg and manifest.json.")],
    scope: ScopeOpt = None, platform: PlatformOpt = None, lab_secrets: LabSecretsOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Render the configuration of every WAN and access router in scope (all or nothing)."""
    from inventory.scope import router_hosts
    from network.plan import build_intents
    from network.render import RenderError, render_many
    from network.render.engine import previous_files, remove_stale

    check_out_dir(out_dir)  # before any planning
    with err.status("planning…"):
        p = workspace(ctx).network
        intents = build_intents(p, router_hosts(p.inv, scope), platform)
    with err.status(f"rendering {len(intents)} configurations…"):
        try:
            previous = previous_files(out_dir)
            manifest = render_many(intents.values(), secrets(lab_secrets), out_dir)
            removed, foreign = remove_stale(out_dir, previous, manifest)
        except RenderError as e:
            raise JinbaoError(str(e)) from None
        except OSError as e:  # render_many writes into a temporary directory first: nothing half-written
            raise unwritable(out_dir, e) from None
    if as_json:
        emit_json({"out": str(out_dir), **manifest, "removed": removed, "foreign": foreign})
        return
    out.print(f"rendered {len(manifest['devices'])} configurations into {escape(str(out_dir))} (manifest.json)"
              + (f"; removed {len(removed)} stale ones" if removed else ""))
    if foreign:
        err.print(f"note: {len(foreign)} other .cfg files in {escape(str(out_dir))} were not written by"
                  f" jinbao and were left alone (first: {escape(foreign[0])})")


@app.command("verify")
def verify_cmd(ctx: typer.Context, scope: ScopeOpt = None, as_json: JsonOpt = False) -> None:
    """Verify the plan statically (sessions, reachability, redundancy, filters, DR survival) before deploying."""
    from inventory.scope import ancestor_routers, router_hosts
    from network.plan import build_intents
    from network.verify import verify

    with err.status("verifying…") as status:
        p = workspace(ctx).network
        # a scope is verified together with every site above it up to the ministry: reachability is judged
        # towards the national centre, through the province (and city) the scope hangs off
        hosts = router_hosts(p.inv, scope) | ancestor_routers(p.inv, scope) if scope else None
        intents = build_intents(p, hosts)
        report = verify(p, intents, progress=lambda m: status.update(f"verifying: {m}"), partial=scope is not None)
    if as_json:
        emit_json(report.as_dict())
    else:
        for f in report.findings[:50]:
            err.print(f"[red]{f.rule}[/] {escape(f.subject)}: {escape(f.message)}")
        for note in report.notes:  # expected consequences (e.g. cities cut off with a lost data centre)
            out.print(f"[dim]note[/] {escape(note)}")
        checked = ", ".join(f"{n} {rule}" for rule, n in report.checked.items())
        out.print(("[green]ok[/]" if report.ok else f"[red]{len(report.findings)} findings[/]") + f" ({checked})")
    if not report.ok:
        raise typer.Exit(1)


@app.command("diagram")
def diagram_cmd(
    ctx: typer.Context,
    out_file: Annotated[Path, typer.Option("--out", help="FILE.svg, .png, .pdf or .dot")],
    scope: ScopeOpt = None,
) -> None:
    """Draw the topology: tiers top to bottom, primary solid, backup dashed, DR centres and their own lines marked."""
    from inventory.scope import sites_in_scope, with_parents
    from network.diagram import draw

    if out_file.is_dir():
        raise JinbaoError("is a directory, not a file", file=str(out_file), entry="--out")
    inv = workspace(ctx).inventory
    sites = sites_in_scope(inv, scope)
    if scope is not None:
        sites = with_parents(inv, sites)  # show where the scope hangs
    try:
        draw(inv, sites, out_file)
    except OSError as e:
        raise unwritable(out_file, e) from None
    err.print(f"wrote {escape(str(out_file))}")
