"""`jinbao deploy | backup | drift`: acting on devices, real or in the lab (commands of the root)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from jinbao.commands.base import JsonOpt, LabOpt, ScopeOpt, emit_json, err, inventory_dir, out, secrets, workspace

if TYPE_CHECKING:
    from network.fleet import Fleet

app = typer.Typer()


def _fleet(ctx: typer.Context, scope: str | None, lab: str | None) -> Fleet:
    """The devices to act on: the lab's, or the inventory's real ones (the two layers meet only here)."""
    if lab:
        from lab.fleet import lab_fleet

        return lab_fleet(lab, scope)
    from network.fleet import real_fleet

    return real_fleet(workspace(ctx), scope, secrets(False))


@app.command("deploy")
def deploy_cmd(
    ctx: typer.Context,
    scope: ScopeOpt = None, lab: LabOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show each device's diff; change nothing.")] = False,
    confirm: Annotated[int | None, typer.Option(
        "--confirm", help="Commit-confirm window in seconds: devices revert unless post-checks pass.")] = None,
    rulesets: Annotated[bool, typer.Option(
        "--rulesets/--no-rulesets",
        help="Push each linux_nftables firewall's zone ruleset too (target <hostname>:ruleset, after its routing"
             " config); --no-rulesets leaves the running rulesets as they are.")
    ] = True,
    prune_static_routes: Annotated[bool, typer.Option(
        "--prune-static-routes",
        help="Merge platforms (VRP, Comware): also remove static routes to destinations the plan does not route"
             " (operators' routes). Without it only stale routes to the plan's own destinations are removed.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Push the rendered configurations (Nornir; NAPALM/Netmiko per platform), safely."""
    import contextlib

    from network.deploy import REMOVING, deploy
    from network.deploy.lock import deploy_lock
    from network.fleet import fleet_targets

    with contextlib.ExitStack() as held:
        if not dry_run:  # never beside a DR drill's address move (or another deploy): refused, naming it
            held.enter_context(deploy_lock(f"jinbao deploy{' --scope ' + scope if scope else ''}"
                                           f"{' --lab ' + lab if lab else ''}", lab=lab))
        fleet = _fleet(ctx, scope, lab)
        targets = fleet_targets(fleet, rulesets=rulesets, prune_static_routes=prune_static_routes)
        err.print(f"{'dry run' if dry_run else 'deploy'}: {len(targets)} devices in {fleet.where}")
        with err.status("deploying…") as status:

            def progress(host: str, message: str) -> None:
                if message.startswith(REMOVING):  # a removal is printed before its commit, not only flashed
                    err.print(f"{host}: {message}", markup=False, highlight=False)
                status.update(f"{host}: {message}")

            results = deploy(targets, dry_run=dry_run, confirm_seconds=confirm, progress=progress,
                             message=f"jinbao deploy {scope or ''}", inventory_dir=inventory_dir(ctx))
    failed = [r for r in results if r.status in ("failed", "rolled-back", "skipped")]
    if as_json:
        emit_json({"where": fleet.where, "devices": [
            {"hostname": r.hostname, "status": r.status, "diff": r.diff, "removals": r.removals, "error": r.error,
             "seconds": round(r.seconds, 2), "checks": [c.__dict__ for c in r.checks]} for r in results]})
    else:
        if dry_run:
            for r in results:
                if r.diff:
                    out.print(f"[bold]--- {r.hostname}[/]", highlight=False)
                    out.print(r.diff, markup=False, highlight=False)
                    for line in r.removals:  # the `- ` lines above, as the commit would send them
                        out.print(f"{r.hostname}: would send {line}", markup=False, highlight=False)
        t = Table("device", "result", "seconds", "detail")
        for r in results:
            colour = {"committed": "green", "unchanged": "green", "dry-run": "cyan"}.get(r.status, "red")
            t.add_row(r.hostname, f"[{colour}]{r.status}[/]", f"{r.seconds:.1f}", r.error or "")
        out.print(t)
    if failed:
        raise typer.Exit(1)


@app.command("backup")
def backup_cmd(
    ctx: typer.Context,
    repo: Annotated[Path, typer.Option("--repo", help="Git repository for the running configs.")] = Path("backups"),
    scope: ScopeOpt = None, lab: LabOpt = None, as_json: JsonOpt = False,
) -> None:
    """Store every device's running configuration in a git repository (one commit per run)."""
    from network.deploy import backup
    from network.fleet import fleet_targets

    fleet = _fleet(ctx, scope, lab)
    with err.status("backing up…"):
        res = backup(fleet_targets(fleet), repo, scope=f"{scope or 'nation'} ({fleet.where})",
                     inventory_dir=inventory_dir(ctx))
    if as_json:
        emit_json(res.__dict__)
    else:
        out.print(f"{len(res.written)} configs in {res.repo} (commit {res.commit or 'none: no change'})")
        for h, e in res.failed.items():
            err.print(f"[red]{h}[/]: {e}")
    if res.failed:
        raise typer.Exit(1)


@app.command("drift")
def drift_cmd(ctx: typer.Context, scope: ScopeOpt = None, lab: LabOpt = None, as_json: JsonOpt = False) -> None:
    """Intended versus running configuration, per device."""
    from network.deploy import drift
    from network.fleet import fleet_targets

    fleet = _fleet(ctx, scope, lab)
    with err.status("comparing…"):
        res = drift(fleet_targets(fleet), inventory_dir=inventory_dir(ctx))
    if as_json:
        emit_json({"devices": [r.__dict__ for r in res]})
    else:
        for r in res:
            state = "in sync" if r.in_sync else ("[red]drift[/]" if r.in_sync is False else f"[red]error[/] {r.error}")
            out.print(f"{r.hostname}: {state}")
            if r.diff:
                out.print(r.diff, markup=False, highlight=False)
    if any(r.in_sync is not True for r in res):
        raise typer.Exit(1)
