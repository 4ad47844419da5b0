"""`jinbao` — one command line for the whole suite. Thin: parses options, calls a module, prints."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from jinbao.commands import servers as servers_cmd
from jinbao.errors import JinbaoError
from jinbao.fsutil import atomic_write_text

if TYPE_CHECKING:  # the CLI imports its modules lazily so `jinbao --help` stays fast
    from inventory.model import Inventory
    from network.deploy import DeployTarget
    from network.fleet import Fleet
    from network.secrets import SecretSource

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__, pretty_exceptions_enable=False)
inventory_app = typer.Typer(no_args_is_help=True, help="The source of truth: sites, devices, links.")
ipplan_app = typer.Typer(no_args_is_help=True, help="The IP plan and its registration record (备案).")
app.add_typer(inventory_app, name="inventory")
app.add_typer(ipplan_app, name="ipplan")
app.add_typer(servers_cmd.app, name="servers")

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


def _unwritable(path: Path, e: OSError) -> JinbaoError:
    """An output path the command cannot write (missing or read-only directory, not a directory…)."""
    where = f" ({e.filename})" if e.filename and Path(path).is_relative_to(e.filename) else ""
    return JinbaoError(f"cannot write here: {e.strerror or e}{where}", file=str(path), entry="--out")


def _check_out_dir(path: Path) -> None:
    """Fail before any work when an output directory cannot be one: it, or its nearest existing ancestor,
    is not a directory."""
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    if p.exists() and not p.is_dir():
        what = "exists and is not a directory" if p == Path(path) else f"{p} is not a directory"
        raise JinbaoError(what, file=str(path), entry="--out")


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
    scope: Annotated[str | None, typer.Option(
        help="Site id or region code and everything under it (default: the nation).")] = None,
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
        reg, report, _, port_report = done = allocate_and_save(state)
    result = {"registry": str(state.registry_path), "allocations": len(reg), "added": len(report.added),
              "reactivated": len(report.reactivated), "decommissioned": len(report.decommissioned),
              "ports_added": len(port_report.added), "ports_decommissioned": len(port_report.decommissioned),
              "changed": done.changed}
    if as_json:
        emit_json({**result, "added_keys": report.added, "decommissioned_keys": report.decommissioned})
        return
    out.print(f"{result['allocations']} allocations in {result['registry']}: {result['added']} added, "
              f"{result['reactivated']} reactivated, {result['decommissioned']} decommissioned;"
              f" {result['ports_added']} ports added" + ("" if done.changed else " (unchanged)"))


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
        try:
            atomic_write_text(out_file, text)
        except OSError as e:  # nothing written: the temporary file is removed
            raise _unwritable(out_file, e) from None
        err.print(f"wrote {out_file}")


# -- network: intents, configs, verification, diagrams ---------------------------------------------
ScopeOpt = Annotated[str | None, typer.Option("--scope", help="Site id or region code (default: the nation).")]
PlatformOpt = Annotated[str | None, typer.Option("--platform", help="Plan the routers as this platform.")]


def _router_hosts(inv: Inventory, scope: str | None) -> set[str]:
    from inventory.model import ROUTER_ROLES
    from network.scope import hosts_in_scope

    return hosts_in_scope(inv, scope, ROUTER_ROLES)


def _ancestor_routers(inv: Inventory, scope: str) -> set[str]:
    """WAN routers of every site above the scope's sites, up the parent chain to the ministry."""
    from inventory.model import ROUTER_ROLES
    from network.scope import sites_in_scope

    inside = sites_in_scope(inv, scope)
    above: set[str] = set()
    for sid in inside:
        parent = inv.site(sid).parent
        while parent is not None and parent not in above and parent not in inside:
            above.add(parent)
            parent = inv.site(parent).parent
    return {d.hostname for d in inv.devices if d.site in above and d.role in ROUTER_ROLES}


@app.command("intent")
def intent_cmd(hostname: str, as_json: JsonOpt = False, platform: PlatformOpt = None) -> None:
    """Show the vendor-neutral intent of one router."""
    from network.plan import build_intents
    from network.service import open_network

    p = open_network(inventory_dir())
    if hostname not in {d.hostname for d in p.inv.devices if d.is_router}:
        raise JinbaoError(f"{hostname}: no router with that hostname in the inventory")
    intent = build_intents(p, {hostname}, platform)[hostname]
    if as_json:
        emit_json(intent.model_dump(mode="json"))
        return
    out.print(f"[bold]{intent.hostname}[/] {intent.platform} AS{intent.asn} site {intent.site} ({intent.tier})")
    t = Table("interface", "kind", "IPv4", "IPv6", "description")
    for itf in intent.interfaces:
        t.add_row(itf.name, itf.kind, itf.ipv4 or "", itf.ipv6 or "", itf.description)
    out.print(t)
    if intent.bgp:
        b = Table("neighbour", "AS", "role", "link", "in", "out", "max-prefix")
        for n in intent.bgp.neighbors:
            b.add_row(n.address, str(n.remote_as), n.role, n.link_kind or "", n.route_map_in or "",
                      n.route_map_out or "", str(n.max_prefix or ""))
        out.print(b)


def _secrets(lab_secrets: bool) -> SecretSource:
    from network.secrets import ChainedSecrets, EnvSecrets, LabTestSecrets, VaultFileSecrets

    if lab_secrets:
        err.print("[yellow]using LAB-ONLY test secrets: never load these configs on a real device[/]")
        return LabTestSecrets()
    import os

    vault = os.environ.get("JINBAO_VAULT_FILE")
    return ChainedSecrets(EnvSecrets(), VaultFileSecrets(Path(vault))) if vault else EnvSecrets()


LabSecretsOpt = Annotated[bool, typer.Option(
    "--lab-secrets", help="Use the LAB-ONLY test secrets instead of vault/environment.")]


@app.command("render")
def render_cmd(
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for <hostname>.cfg and manifest.json.")],
    scope: ScopeOpt = None, platform: PlatformOpt = None, lab_secrets: LabSecretsOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Render the configuration of every WAN and access router in scope (all or nothing)."""
    from network.plan import build_intents
    from network.render import RenderError, render_many
    from network.service import open_network

    _check_out_dir(out_dir)  # before any planning
    with err.status("planning…"):
        p = open_network(inventory_dir())
        intents = build_intents(p, _router_hosts(p.inv, scope), platform)
    with err.status(f"rendering {len(intents)} configurations…"):
        try:
            manifest = render_many(intents.values(), _secrets(lab_secrets), out_dir)
        except RenderError as e:
            raise JinbaoError(str(e)) from None
        except OSError as e:  # render_many writes into a temporary directory first: nothing half-written
            raise _unwritable(out_dir, e) from None
    if as_json:
        emit_json({"out": str(out_dir), **manifest})
        return
    out.print(f"rendered {len(manifest['devices'])} configurations into {out_dir} (manifest.json)")


@app.command("verify")
def verify_cmd(scope: ScopeOpt = None, as_json: JsonOpt = False) -> None:
    """Verify the plan statically (sessions, reachability, redundancy, filters) before deploying."""
    from network.plan import build_intents
    from network.service import open_network
    from network.verify import verify

    with err.status("verifying…") as status:
        p = open_network(inventory_dir())
        # a scope is verified together with every site above it up to the ministry: reachability is judged
        # towards the national centre, through the province (and city) the scope hangs off
        hosts = _router_hosts(p.inv, scope) | _ancestor_routers(p.inv, scope) if scope else None
        intents = build_intents(p, hosts)
        report = verify(p, intents, progress=lambda m: status.update(f"verifying: {m}"), partial=scope is not None)
    if as_json:
        emit_json(report.as_dict())
    else:
        for f in report.findings[:50]:
            err.print(f"[red]{f.rule}[/] {', '.join(f.devices)}: {f.message}")
        checked = ", ".join(f"{n} {rule}" for rule, n in report.checked.items())
        out.print(("[green]ok[/]" if report.ok else f"[red]{len(report.findings)} findings[/]") + f" ({checked})")
    if not report.ok:
        raise typer.Exit(1)


@app.command("diagram")
def diagram_cmd(
    out_file: Annotated[Path, typer.Option("--out", help="FILE.svg, .png, .pdf or .dot")],
    scope: ScopeOpt = None,
) -> None:
    """Draw the topology: tiers top to bottom, primary solid, backup dashed, DR centres marked."""
    from inventory.load import load
    from network.diagram import draw
    from network.scope import sites_in_scope

    if out_file.is_dir():
        raise JinbaoError("is a directory, not a file", file=str(out_file), entry="--out")
    inv = load(inventory_dir()).inventory
    sites = sites_in_scope(inv, scope)
    if scope is not None:
        sites |= {s for s in (inv.site(x).parent for x in list(sites)) if s}  # show where the scope hangs
    try:
        draw(inv, sites, out_file)
    except OSError as e:
        raise _unwritable(out_file, e) from None
    err.print(f"wrote {out_file}")


# -- the lab -----------------------------------------------------------------------------------------
lab_app = typer.Typer(no_args_is_help=True, help="An emulated slice of the network on this machine (root).")
app.add_typer(lab_app, name="lab")
LabNameOpt = Annotated[str, typer.Option("--name", help="Lab name (up to 8 letters/digits).")]


@lab_app.command("up")
def lab_up(
    slice_name: Annotated[str, typer.Option("--slice", help="default | minimal")] = "default",
    name: LabNameOpt = "jinbao",
    mgmt_net: Annotated[str, typer.Option("--mgmt-net", help="The lab's out-of-band network.")] = "100.127.0.0/24",
    as_json: JsonOpt = False,
) -> None:
    """Build the lab slice from the inventory: containers, links, LANs, management network. Idempotent."""
    from lab import runtime
    from lab.slice import SLICES, build_lab
    from network.fleet import record_lab

    if slice_name not in SLICES:
        raise JinbaoError(f"--slice {slice_name!r}: one of {', '.join(SLICES)}")
    lp = build_lab(inventory_dir(), slice_name, name, mgmt_net)
    with err.status(f"lab {name}: starting {len(lp.spec.nodes)} nodes…") as status:
        info = runtime.up(lp.spec, progress=lambda m: status.update(m))
    record_lab(name, slice_name, inventory_dir(), mgmt_net)
    result = {"lab": name, "slice": slice_name, "nodes": len(lp.spec.nodes), "changed": info["changed"],
              "seconds": round(info["seconds"], 2)}
    if as_json:
        emit_json(result)
        return
    out.print(f"lab {name} ({slice_name}): {result['nodes']} nodes up in {result['seconds']} s"
              + ("" if info["changed"] else " (already up)"))


@lab_app.command("status")
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


@lab_app.command("down")
def lab_down(name: LabNameOpt = "jinbao", as_json: JsonOpt = False) -> None:
    """Remove everything the lab created (namespaces, links, mounts, processes)."""
    from lab import runtime

    with err.status(f"lab {name}: tearing down…"):
        info = runtime.down(name)
    if as_json:
        emit_json(info)
        return
    out.print(f"lab {name}: down")


@lab_app.command("exec", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
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


# -- deployment ---------------------------------------------------------------------------------------
LabOpt = Annotated[str | None, typer.Option("--lab", help="Target the lab of this name instead of real devices.")]


def _fleet(scope: str | None, lab: str | None, lab_secrets: bool = False) -> Fleet:
    from network.fleet import lab_fleet, real_fleet

    return lab_fleet(lab, scope) if lab else real_fleet(inventory_dir(), scope, _secrets(lab_secrets))


def _targets(fleet: Fleet) -> list[DeployTarget]:
    from network.targets import build_targets

    return build_targets(fleet.intents, fleet.secrets, fleet.hosts, fleet.access)


@app.command("deploy")
def deploy_cmd(
    scope: ScopeOpt = None, lab: LabOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show each device's diff; change nothing.")] = False,
    confirm: Annotated[int | None, typer.Option(
        "--confirm", help="Commit-confirm window in seconds: devices revert unless post-checks pass.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Push the rendered configurations (Nornir; NAPALM/Netmiko per platform), safely."""
    from network.deploy import deploy

    fleet = _fleet(scope, lab)
    targets = _targets(fleet)
    err.print(f"{'dry run' if dry_run else 'deploy'}: {len(targets)} devices in {fleet.where}")
    with err.status("deploying…") as status:
        results = deploy(targets, dry_run=dry_run, confirm_seconds=confirm,
                         progress=lambda h, m: status.update(f"{h}: {m}"), message=f"jinbao deploy {scope or ''}")
    failed = [r for r in results if r.status in ("failed", "rolled-back")]
    if as_json:
        emit_json({"where": fleet.where, "devices": [
            {"hostname": r.hostname, "status": r.status, "diff": r.diff, "error": r.error,
             "seconds": round(r.seconds, 2), "checks": [c.__dict__ for c in r.checks]} for r in results]})
    else:
        if dry_run:
            for r in results:
                if r.diff:
                    out.print(f"[bold]--- {r.hostname}[/]", highlight=False)
                    out.print(r.diff, markup=False, highlight=False)
        t = Table("device", "result", "seconds", "detail")
        for r in results:
            colour = {"committed": "green", "unchanged": "green", "dry-run": "cyan"}.get(r.status, "red")
            t.add_row(r.hostname, f"[{colour}]{r.status}[/]", f"{r.seconds:.1f}", r.error or "")
        out.print(t)
    if failed:
        raise typer.Exit(1)


@app.command("backup")
def backup_cmd(
    repo: Annotated[Path, typer.Option("--repo", help="Git repository for the running configs.")] = Path("backups"),
    scope: ScopeOpt = None, lab: LabOpt = None, as_json: JsonOpt = False,
) -> None:
    """Store every device's running configuration in a git repository (one commit per run)."""
    from network.deploy import backup

    fleet = _fleet(scope, lab)
    with err.status("backing up…"):
        res = backup(_targets(fleet), repo, scope=f"{scope or 'nation'} ({fleet.where})")
    if as_json:
        emit_json(res.__dict__)
    else:
        out.print(f"{len(res.written)} configs in {res.repo} (commit {res.commit or 'none: no change'})")
        for h, e in res.failed.items():
            err.print(f"[red]{h}[/]: {e}")
    if res.failed:
        raise typer.Exit(1)


@app.command("drift")
def drift_cmd(scope: ScopeOpt = None, lab: LabOpt = None, as_json: JsonOpt = False) -> None:
    """Intended versus running configuration, per device."""
    from network.deploy import drift

    fleet = _fleet(scope, lab)
    with err.status("comparing…"):
        res = drift(_targets(fleet))
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


from jinbao.commands import dr as _dr  # noqa: E402

app.add_typer(_dr.app, name="dr")


def main() -> None:
    from lab.sh import LabError

    try:
        app()
    except (JinbaoError, LabError) as e:  # bad input or an impossible request: one line
        err.print(f"error: {e}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
