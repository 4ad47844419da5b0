"""`jinbao dr …` — disaster recovery: the replication plan, its build, its state, and drills (thin)."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from core.errors import JinbaoError

if TYPE_CHECKING:  # imported lazily below: `jinbao --help` stays fast
    from dr.network import ServiceNetwork
    from dr.plan import Pair

app = typer.Typer(no_args_is_help=True, help="Disaster recovery: replication plan, build, status, drills.")
out = Console()

LabOpt = Annotated[str | None, typer.Option("--lab", help="Work on the lab of this name.")]
PlanOpt = Annotated[Path | None, typer.Option("--plan", help="Pairs from this file (jinbao dr plan --json).")]
VaultOpt = Annotated[Path | None, typer.Option(
    "--vault-password-file", help="Vault password file (default with --lab: the LAB-ONLY one).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]


def _inventory_dir(ctx: typer.Context) -> Path:
    from inventory.load import default_inventory_dir

    return Path(ctx.find_root().params.get("inventory") or default_inventory_dir())


def _say(as_json: bool):
    return (lambda m: print(m, file=sys.stderr)) if not as_json else None


@app.command("plan")
def plan_cmd(
    ctx: typer.Context,
    scope: Annotated[str | None, typer.Option("--scope", help="Primaries in this site id or region code.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Every production database and the DR centre that holds its replica.

    Examples: `jinbao dr plan --json`, `jinbao dr plan --scope 140000`.
    """
    from dr.sources import plan_pairs
    from inventory.scope import sites_in_scope
    from network.workspace import Workspace

    directory = _inventory_dir(ctx)
    ws = Workspace(directory)
    inv = ws.inventory
    pairs = plan_pairs(directory, ws)
    inside = sites_in_scope(inv, scope)
    pairs = [p for p in pairs if p.primary_site in inside]
    if as_json:
        sys.stdout.write(json.dumps({"pairs": [p.as_dict() for p in pairs]}, ensure_ascii=False, indent=1) + "\n")
        return
    t = Table("primary", "replica", "mode", "slot", "service address")
    for p in pairs:
        t.add_row(p.primary, p.replica, p.mode, p.slot, f"{p.service_v4} {p.service_v6}")
    out.print(t)
    out.print(f"{len(pairs)} pairs, {sum(p.mode == 'sync' for p in pairs)} synchronous")


def _context(ctx: typer.Context, lab: str | None, plan: Path | None, vault: Path | None, tmp: Path):
    from dr.access import addresses
    from dr.ansible_vars import dr_vars
    from dr.sources import ansible_inventory, load_pairs, vault_file

    pairs = load_pairs(plan, _inventory_dir(ctx))
    inventory = ansible_inventory(lab, tmp)
    addr = addresses(inventory, vault_file(lab, vault))
    return pairs, inventory, addr, dr_vars(pairs, addr, str(plan or "plan"))


@app.command("vars")
def vars_cmd(
    ctx: typer.Context, output: Annotated[Path, typer.Option("--out", help="Write the variables here (JSON).")],
    lab: LabOpt = None, plan: PlanOpt = None, vault_password_file: VaultOpt = None,
) -> None:
    """The replication plan as Ansible variables (jb_dr_pairs, jb_dr_hosts) for `-e @FILE`."""
    from core.fsutil import atomic_write_text

    with tempfile.TemporaryDirectory(prefix="jinbao-dr-") as tmp:
        _, _, _, variables = _context(ctx, lab, plan, vault_password_file, Path(tmp))
    atomic_write_text(output, json.dumps(variables, indent=1) + "\n")
    print(f"{output}: {len(variables['jb_dr_pairs'])} pairs", file=sys.stderr)


@app.command("build")
def build_cmd(
    ctx: typer.Context, lab: LabOpt = None, plan: PlanOpt = None, vault_password_file: VaultOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Build the replicas: playbooks/dr/replication.yml (postgresql + pg_replica) with the plan's variables."""
    from dr.sources import vault_file
    from jinbao import provision

    with tempfile.TemporaryDirectory(prefix="jinbao-dr-") as tmp:
        _, inventory, _, variables = _context(ctx, lab, plan, vault_password_file, Path(tmp))
        result = provision.run_playbook("dr-replication", inventory, extra_vars=variables,
                                        vault_password_file=vault_file(lab, vault_password_file),
                                        progress=_say(as_json))
    if not provision.report(result, as_json):
        raise typer.Exit(1)


@app.command("status")
def status_cmd(
    ctx: typer.Context, lab: LabOpt = None, plan: PlanOpt = None, vault_password_file: VaultOpt = None,
    site: Annotated[str | None, typer.Option("--site", help="Only the pair whose primary is at this site.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Per pair: state, which end accepts writes, lag in bytes and seconds (exit 1 when a pair is not streaming)."""
    from dr.access import access_for, drill_password
    from dr.sources import pair_of_site, vault_file
    from dr.status import current_status

    with tempfile.TemporaryDirectory(prefix="jinbao-dr-") as tmp:
        pairs, _, addr, _ = _context(ctx, lab, plan, vault_password_file, Path(tmp))
    if site:
        pairs = [pair_of_site(pairs, site)]
    password = drill_password(vault_file(lab, vault_password_file))
    rows = [current_status(a.pair, a.primary_dsn(), a.replica_dsn()) for a in access_for(pairs, addr, password, lab)]
    if as_json:
        sys.stdout.write(json.dumps({"pairs": [r.as_dict() for r in rows]}, indent=1) + "\n")
    else:
        t = Table("primary", "replica", "mode", "state", "active", "sync", "lag bytes", "lag s", "error")
        for r in rows:
            t.add_row(r.primary, r.replica, r.mode, r.state, r.active or "", r.sync_state or "",
                      "" if r.lag_bytes is None else str(r.lag_bytes), "" if r.lag_s is None else f"{r.lag_s:.3f}",
                      r.error or "")
        out.print(t)
    if not all(r.healthy for r in rows):
        raise typer.Exit(1)


@app.command("drill")
def drill_cmd(
    ctx: typer.Context,
    site: Annotated[str, typer.Option("--site", help="The primary's site (one pair).")],
    mode: Annotated[str, typer.Option("--mode", help="switchover, failover or failback.")],
    lab: LabOpt = None, plan: PlanOpt = None, vault_password_file: VaultOpt = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Directory of the report (JSON + HTML).")] = Path("out/dr"),
    max_lag_bytes: Annotated[int, typer.Option("--max-lag-bytes", min=0,
                                               help="Refuse to start beyond this lag.")] = 16 * 1024 * 1024,
    resume: Annotated[bool, typer.Option("--resume", help="Finish a drill that stopped after its promotion.")] = False,
    real_network: Annotated[bool, typer.Option(
        "--real-network", help="Move the service address on the real WAN routers and firewalls of the pair's two "
                               "sites (JINBAO_SSH_USER and a key or password; secrets from the vault).")] = False,
    gate_timeout: Annotated[int | None, typer.Option(
        "--gate-timeout", help="Seconds the promotion waits for the service address's withdrawal at the old site "
                               "(dr_gate_timeout; default the playbooks', 120). Only when the address moves.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run a drill through ansible-runner with the witness writing; write the report. Exit 1 unless passed.

    With a network (`--lab` of a lab with routers, or `--real-network`) the service address moves with the
    database and the witness writes through it; after a promotion `dr-active.yaml` of the inventory directory
    records where the database runs (a lab drill only into one given with `jinbao --inventory DIR`).

    Examples: `jinbao dr drill --site 140100-DC --mode switchover --real-network`,
    `… --mode failover --json --out /srv/drills`.
    """
    from core.playbooks import signals_interrupt
    from dr import report as rep
    from dr.access import access_for, drill_password
    from dr.drill import KINDS, DrillSettings, gate_timeout_refusal, run_drill
    from dr.sources import pair_of_site, vault_file

    if mode not in KINDS:
        raise JinbaoError(f"--mode {mode!r}: one of {', '.join(KINDS)}")
    if real_network and lab:
        raise JinbaoError("--real-network and --lab: a drill acts on one network (the lab's routers, with --lab)")
    if gate_timeout is not None and (why := gate_timeout_refusal(gate_timeout)):
        raise JinbaoError(why, entry="--gate-timeout")
    if gate_timeout is not None and not (lab or real_network):
        raise JinbaoError("no gate without a network to move the service address on (--lab of a "
                          "lab with routers, or --real-network)", entry="--gate-timeout")
    given = ctx.find_root().params.get("inventory")
    directory = _inventory_dir(ctx)
    with tempfile.TemporaryDirectory(prefix="jinbao-dr-") as tmp:
        pairs, inventory, addr, variables = _context(ctx, lab, plan, vault_password_file, Path(tmp))
        pair = pair_of_site(pairs, site)
        network, no_network = _network(lab, real_network, directory, pair)
        if gate_timeout is not None and network is None:
            raise JinbaoError(f"no gate: {no_network}", entry="--gate-timeout")
        vault = vault_file(lab, vault_password_file)
        acc = access_for([pair], addr, drill_password(vault), lab, routed=network is not None)[0]
        pair_vars = next(v for v in variables["jb_dr_pairs"] if v["slot"] == pair.slot)
        # a lab drill must not change the real network's record unless told where to write
        record = directory if not lab or given else None
        settings = DrillSettings(inventory, vault, max_lag_bytes=max_lag_bytes, network=network,
                                 no_network=no_network, record_dir=record, gate_timeout=gate_timeout,
                                 no_record="a lab drill writes it only into an inventory given with "
                                           "`jinbao --inventory DIR`")
        # SIGTERM/SIGHUP as ^C: the playbook's process group ended, the address put right, the lock released
        with signals_interrupt():
            report = run_drill(mode, acc, pair_vars, settings, progress=_say(as_json), resume=resume)
    j, h = rep.write(report, out_dir)
    if as_json:
        sys.stdout.write(json.dumps({**report.as_dict(), "report_json": str(j), "report_html": str(h)}) + "\n")
    else:
        f = report.figures
        figs = f"RTO {f.rto_s:.3f} s, RPO {f.rpo_commits} commits / {f.rpo_s:.3f} s" if f else "no figures"
        print(f"{report.kind} {report.site}: {report.outcome}{' (' + report.reason + ')' if report.reason else ''}; "
              f"{figs}\n{j}\n{h}")
    if report.outcome != "passed":
        raise typer.Exit(1)


def _network(lab: str | None, real: bool, directory: Path, pair: Pair) -> tuple[ServiceNetwork | None, str]:
    """Where the drill moves the service address (None, and why not, when nowhere)."""
    if real:
        from dr.network import real_network

        return real_network(directory, pair.primary_site, pair.replica_site), ""
    if lab:
        from dr.network import lab_network

        net = lab_network(lab, directory, pair.primary_site)
        return net, "" if net else f"lab {lab} has no routers"
    return None, "no network given (--lab of a lab with routers, or --real-network)"
