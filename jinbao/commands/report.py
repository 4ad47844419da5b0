"""`jinbao report …`: KPIs for the people who run the network. Thin: options in, checks/coverage computes."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(no_args_is_help=True, help="Reports and KPIs.")
out = Console()
err = Console(stderr=True)


def _agents_file(path: Path) -> dict[str, tuple[str, int]]:
    from core.errors import JinbaoError

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise JinbaoError(f"cannot read: {e}", file=str(path), entry="--agents") from None
    out: dict[str, tuple[str, int]] = {}
    for host, where in (data.items() if isinstance(data, dict) else []):
        host_s, _, port = str(where).rpartition(":")
        if not host_s or not port.isdigit():
            raise JinbaoError(f"{host}: {where!r} is not host:port", file=str(path), entry="--agents")
        out[host] = (host_s, int(port))
    if not out:
        raise JinbaoError("expected a JSON object {hostname: \"host:port\"}", file=str(path), entry="--agents")
    return out


def _answering(inv: Any, sites: set[str], addresses: dict[str, tuple[str, int]], creds: Any) -> dict[str, bool]:
    """Access site id -> its access router answered SNMPv3 with its planned sysName."""
    from checks.snmp import poll
    from checks.snmp_rules import Expectation

    routers = [d for d in inv.devices if d.role == "AR" and d.site in sites]
    exps = [Expectation(d.hostname, addresses[d.hostname][0], "AR", "", port=addresses[d.hostname][1])
            for d in routers if d.hostname in addresses]
    missing = len(routers) - len(exps)
    if missing:
        err.print(f"[yellow]{missing} access routers have no address to poll: counted as not answering[/]")
    with err.status(f"SNMP: polling {len(exps)} access routers…"):
        answers = poll(exps, creds, timeout=2.0, retries=1) if exps else {}
    up = {h for h, a in answers.items() if a.v3_ok and a.sys_name == h}
    return {d.site: d.hostname in up for d in routers}


@app.command("coverage")
def coverage_cmd(
    ctx: typer.Context,
    scope: Annotated[str | None, typer.Option("--scope", help="Province or city code (default: the nation).")] = None,
    network: Annotated[bool, typer.Option("--network/--planned-only",
                                          help="Also poll the access routers (what answers).")] = True,
    lab: Annotated[str | None, typer.Option("--lab", help="Poll with the lab's LAB-ONLY SNMP credentials.")] = None,
    agents: Annotated[Path | None, typer.Option(
        "--agents", help="JSON {hostname: 'host:port'}: where to reach agents (jump host / NAT / lab).")] = None,
    offices_file: Annotated[Path | None, typer.Option("--offices", help="Offices per city (denominator).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")] = False,
) -> None:
    """Metro-network coverage per city and nationally vs the 90% / 70% / 50% targets; exit 1 below target."""
    from checks.coverage import KINDS, coverage, load_offices
    from checks.targets import credentials
    from inventory.scope import sites_in_scope
    from ipplan.inventory_export import mgmt_address
    from jinbao.commands.base import inventory_dir
    from jinbao.commands.base import secrets as _secrets
    from network.secrets import LabTestSecrets
    from network.service import open_network

    p = open_network(inventory_dir(ctx))
    from inventory.load import default_inventory_dir

    default = inventory_dir(ctx) / "offices.yaml"
    offices = load_offices(offices_file or (default if default.exists() else default_inventory_dir() / "offices.yaml"))
    sites = sites_in_scope(p.inv, scope)
    cities = sorted({s.code for s in p.inv.sites if s.id in sites and s.tier in ("city", "municipality")})
    answering = None
    if network:
        addresses = _agents_file(agents) if agents else {}
        if not agents and not lab:
            addresses = {d.hostname: (a, 161) for d in p.inv.devices if d.role == "AR" and d.site in sites
                         and (a := mgmt_address(p.addr.reg, d.site, d.hostname))}
        m = p.routing.management
        creds = credentials(m.snmp_user, m.snmp_auth, m.snmp_priv, LabTestSecrets() if lab else _secrets(False))
        answering = _answering(p.inv, sites, addresses, creds)
    data = coverage(p.inv.sites, offices, answering, cities)
    below = [(c["city"], k, src) for c in data["cities"] for k in KINDS for src in ("planned", "answering")
             if data["cities"] and c["kinds"][k][f"{src}_ok"] is False]
    data["below_target"] = [{"city": c, "kind": k, "source": s} for c, k, s in below]
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=1) + "\n")
    else:
        _table(data)
    if offices.illustrative:  # on stderr too, so a --json consumer's operator sees it
        err.print(f"[yellow]warning[/]: {offices.source}: {data['denominator']['note']}", highlight=False)
    if below or any(v[f"{s}_ok"] is False for v in data["national"].values() for s in ("planned", "answering")):
        raise typer.Exit(1)


def _fmt(row: dict[str, Any], src: str) -> str:
    pct = row[f"{src}_pct"]
    if pct is None:
        return "-"
    mark = "[green]✓[/]" if row[f"{src}_ok"] else "[red]✗[/]"
    return f"{row[src]}/{row['offices']} {pct:.0f}% {mark}"


def _table(data: dict[str, Any]) -> None:
    from checks.coverage import KINDS

    t = Table("city", *(f"{k} planned (≥{data['targets'][k]:.0f}%)" for k in KINDS),
              *(f"{k} answering" for k in KINDS))
    for c in data["cities"]:
        t.add_row(f"{c['city']} {c['name']}", *(_fmt(c["kinds"][k], "planned") for k in KINDS),
                  *(_fmt(c["kinds"][k], "answering") for k in KINDS))
    n = data["national"]
    t.add_row("[b]national[/]", *(_fmt(n[k], "planned") for k in KINDS), *(_fmt(n[k], "answering") for k in KINDS))
    out.print(t)
