"""`jinbao check …`: compliance checks mapped to MLPS 2.0 level-3 controls. Thin: options in, checks/ does
the work, results out (table, --json, --junit, --html). Exit 0 only when every result passes; 1 when any
fails or errs; 2 on bad input."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from checks.results import Result
    from checks.targets import Network

app = typer.Typer(no_args_is_help=True, help="Compliance checks (MLPS 2.0 / GB/T 22239-2019 level 3).")
out = Console()
err = Console(stderr=True)

ScopeOpt = Annotated[str | None, typer.Option("--scope", help="Site id, city/province code or 100000.")]
LabOpt = Annotated[str | None, typer.Option("--lab", help="Check the lab of this name instead of the network.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="{'results': [{node, control, clause, status, evidence}]}")]
JunitOpt = Annotated[Path | None, typer.Option("--junit", help="Also write a JUnit XML report.")]
HtmlOpt = Annotated[Path | None, typer.Option("--html", help="Also write the HTML report (trend kept beside it).")]
RunningOpt = Annotated[Path | None, typer.Option(
    "--running", help="config: check backed-up running configs (<hostname>.cfg, `jinbao backup`) instead of renders.")]
LabSecretsOpt = Annotated[bool, typer.Option(
    "--lab-secrets", help="Real network: LAB-ONLY test secrets for renders and SNMP (never on a real network).")]
AnsibleInvOpt = Annotated[Path | None, typer.Option(
    "--ansible-inventory", help="servers/dr on a real network: Ansible inventory (default inventory/jinbao.yml).")]
VaultOpt = Annotated[Path | None, typer.Option(
    "--vault-password-file", help="servers/dr: vault password file (default with --lab: the LAB-ONLY one).")]
PlanOpt = Annotated[Path | None, typer.Option("--plan", help="dr: pairs from this file (jinbao dr plan --json).")]
GroupOpt = Annotated[str, typer.Option("--group", help="servers: the Ansible inventory group checked (e.g. role_db).")]
ASYNC_RPO_S = 60.0  # checks.dr_rules.ASYNC_RPO_S (kept literal: the CLI module imports checks lazily)
MaxLagOpt = Annotated[float, typer.Option("--max-lag-s", min=0, help="dr: RPO target of async pairs, seconds.")]


@dataclass(frozen=True)
class Extra:
    """Options of the servers and dr kinds."""

    ansible_inventory: Path | None = None
    vault: Path | None = None
    plan: Path | None = None
    max_lag_s: float = ASYNC_RPO_S
    group: str = "servers"


def _network(ctx: typer.Context, scope: str | None, lab: str | None, lab_secrets: bool) -> Network:
    from checks.targets import lab_network, real_network
    from jinbao.commands.base import inventory_dir, secrets

    return lab_network(lab, scope) if lab else real_network(inventory_dir(ctx), scope, secrets(lab_secrets))


def _poll(net: Network) -> list[Result]:
    from checks.catalogue import default_catalogue
    from checks.run import confirmed_network_results
    from checks.snmp import Answers, poll

    def poll_some(exps: list) -> dict[str, Answers]:  # a second pass re-polls the nodes that did not pass
        done: list[str] = []
        t0 = time.perf_counter()
        with err.status(f"SNMP: polling {len(exps)} agents in {net.where}…") as status:
            answers = poll(exps, net.credentials,
                           progress=lambda h: (done.append(h), status.update(f"SNMP: {len(done)}/{len(exps)}"
                                                                            f" agents answered or timed out")))
        err.print(f"SNMP: {len(answers)} agents in {time.perf_counter() - t0:.2f} s")
        return answers

    return confirmed_network_results(default_catalogue(), net.expectations, poll_some)


def _configs(net: Network, running: Path | None, lab_secrets: bool) -> list[Result]:
    from checks.catalogue import default_catalogue
    from checks.run import config_results, configs_from_dir
    from core.errors import JinbaoError
    from jinbao.commands.base import secrets as secret_source
    from network.render import RenderError, render_device
    from network.secrets import LabTestSecrets

    platforms = {h: i.platform for h, i in net.intents.items()}
    if running is not None:
        configs = configs_from_dir(running, net.roles, platforms)
    else:
        secrets = LabTestSecrets() if net.lab else secret_source(lab_secrets)
        configs = {}
        with err.status(f"rendering {len(net.intents)} configurations…"):
            for h, intent in sorted(net.intents.items()):
                try:
                    configs[h] = (intent.role, intent.platform, render_device(intent, secrets))
                except RenderError as e:
                    raise JinbaoError(str(e)) from None
    return config_results(default_catalogue(), configs)


def _report(results: list[Result], as_json: bool, junit: Path | None, html: Path | None, title: str) -> None:
    from checks.catalogue import default_catalogue
    from checks.report import to_json, to_junit, write_html
    from core.fsutil import atomic_write_text

    if junit:
        atomic_write_text(junit, to_junit(results))
    if html:
        tr = write_html(html, results, default_catalogue(), title)
        if tr["previous"]:
            err.print(f"trend vs {tr['previous']}: {len(tr['newly_failing'])} newly failing, {len(tr['fixed'])} fixed")
    if as_json:
        sys.stdout.write(json.dumps(to_json(results), ensure_ascii=False, indent=1) + "\n")
    else:
        t = Table("node", "control", "clause", "status", "evidence")
        colour = {"pass": "green", "fail": "red", "error": "yellow"}
        for r in results:
            t.add_row(r.node, r.control, r.clause, f"[{colour[r.status]}]{r.status}[/]", r.evidence)
        out.print(t)
        counts = {s: sum(r.status == s for r in results) for s in ("pass", "fail", "error")}
        out.print(f"{len(results)} results: {counts['pass']} pass, {counts['fail']} fail, {counts['error']} error")
    if not results or any(r.status != "pass" for r in results):
        raise typer.Exit(1)


def _check_out(*paths: Path | None) -> None:
    from core.errors import JinbaoError

    for p in paths:
        if p is not None and (p.is_dir() or not p.parent.is_dir()):
            raise JinbaoError("cannot write a report here (a directory, or its directory is missing)", file=str(p))


def _scoped(ctx: typer.Context, scope: str | None) -> tuple[set[str], set[str]] | None:
    """(sites, hostnames) in --scope by the CLI's inventory; None without a scope. The servers and dr kinds
    resolve it before anything else (Ansible inventory, vault, SSH): an unknown scope is bad input."""
    if not scope:
        return None
    from inventory.load import load
    from inventory.scope import hosts_in_scope, sites_in_scope
    from jinbao.commands.base import inventory_dir

    inv = load(inventory_dir(ctx)).inventory
    return sites_in_scope(inv, scope), hosts_in_scope(inv, scope)


def _servers(keep: set[str] | None, lab: str | None, opts: Extra) -> list[Result]:
    """The testinfra suites against every server in scope, in parallel (one pytest per host)."""
    import tempfile

    from checks.collect import server_results
    from core import playbooks
    from core.errors import JinbaoError

    with tempfile.TemporaryDirectory(prefix="jinbao-check-") as tmp:
        if lab:
            from lab.servers import running_spec, write_inventory

            inventory = write_inventory(running_spec(lab), Path(tmp) / "inventory")
            vault = opts.vault or playbooks.LAB_VAULT_PASSWORD
        else:
            inventory = opts.ansible_inventory or playbooks.PLUGIN_INVENTORY
            if not inventory.exists():
                raise JinbaoError("no Ansible inventory of the servers (the source-of-truth plugin's configuration"
                                  " is missing); give --ansible-inventory or --lab", file=str(inventory))
            vault = opts.vault
        t0 = time.perf_counter()
        with err.status("testinfra: servers…") as status:
            results = server_results(inventory, vault, opts.group, keep,
                                     progress=lambda m: status.update(f"testinfra: {m}"))
        err.print(f"testinfra: {len({r.node for r in results})} servers in {time.perf_counter() - t0:.1f} s")
    return results


def _dr(ctx: typer.Context, inside: set[str] | None, lab: str | None, opts: Extra) -> list[Result]:
    """Every replication pair in scope: state, lag against the RPO, TLS, WAL archive (dr/status.py)."""
    import tempfile

    from dr.sources import ansible_inventory, load_pairs, vault_file
    from jinbao.commands.base import inventory_dir
    from jinbao.dr_audit import dr_pair_results

    vault = vault_file(lab, opts.vault)
    pairs = load_pairs(opts.plan, inventory_dir(ctx))
    if inside is not None:
        pairs = [p for p in pairs if p.primary_site in inside]
    with tempfile.TemporaryDirectory(prefix="jinbao-check-") as tmp:
        inventory = opts.ansible_inventory if opts.ansible_inventory and not lab else ansible_inventory(lab, Path(tmp))
        return dr_pair_results(pairs, inventory, vault, lab, opts.max_lag_s)


def run_groups(ctx: typer.Context, groups: tuple[str, ...], scope: str | None, lab: str | None, as_json: bool,
               junit: Path | None, html: Path | None, running: Path | None, lab_secrets: bool,
               opts: Extra | None = None, note: str | None = None) -> None:
    opts = opts or Extra()
    scoped = _scoped(ctx, scope) if {"servers", "dr"} & set(groups) else None  # network/config: in _network
    _check_out(junit, html)
    if note:
        err.print(note)
    results: list[Result] = []
    where = f"lab {lab}" if lab else "the network"
    if "network" in groups or "config" in groups:
        net = _network(ctx, scope, lab, lab_secrets)
        where = net.where
        if "network" in groups:
            results += _poll(net)
        if "config" in groups:
            results += _configs(net, running, lab_secrets)
    if "servers" in groups:
        results += _servers(scoped[1] if scoped else None, lab, opts)
    if "dr" in groups:
        results += _dr(ctx, scoped[0] if scoped else None, lab, opts)
    title = f"jinbao compliance report — {'/'.join(groups)} — {where}" + (f" — scope {scope}" if scope else "")
    _report(results, as_json, junit, html, title)


@app.command("network")
def check_network(ctx: typer.Context, scope: ScopeOpt = None, lab: LabOpt = None, as_json: JsonOpt = False,
                  junit: JunitOpt = None, html: HtmlOpt = None, lab_secrets: LabSecretsOpt = False) -> None:
    """SNMPv3 checks of every router, firewall and server agent (sysName, sysLocation, interfaces, BGP, v3-only)."""
    run_groups(ctx, ("network",), scope, lab, as_json, junit, html, None, lab_secrets)


@app.command("config")
def check_config(ctx: typer.Context, scope: ScopeOpt = None, lab: LabOpt = None, as_json: JsonOpt = False,
                 junit: JunitOpt = None, html: HtmlOpt = None, running: RunningOpt = None,
                 lab_secrets: LabSecretsOpt = False) -> None:
    """Configuration rules on rendered configurations, or on backed-up running ones (--running DIR)."""
    run_groups(ctx, ("config",), scope, lab, as_json, junit, html, running, lab_secrets)


@app.command("servers")
def check_servers(ctx: typer.Context, scope: ScopeOpt = None, lab: LabOpt = None, as_json: JsonOpt = False,
                  junit: JunitOpt = None, html: HtmlOpt = None, ansible_inventory: AnsibleInvOpt = None,
                  vault_password_file: VaultOpt = None, group: GroupOpt = "servers") -> None:
    """testinfra suites (baseline, postgresql) on every server over SSH, in parallel, mapped to controls."""
    run_groups(ctx, ("servers",), scope, lab, as_json, junit, html, None, False,
               Extra(ansible_inventory, vault_password_file, group=group))


@app.command("dr")
def check_dr(ctx: typer.Context, scope: ScopeOpt = None, lab: LabOpt = None, as_json: JsonOpt = False,
             junit: JunitOpt = None, html: HtmlOpt = None, plan: PlanOpt = None, max_lag_s: MaxLagOpt = ASYNC_RPO_S,
             ansible_inventory: AnsibleInvOpt = None, vault_password_file: VaultOpt = None) -> None:
    """Every replication pair: replica streaming, lag within the RPO, TLS replication, WAL archive current."""
    run_groups(ctx, ("dr",), scope, lab, as_json, junit, html, None, False,
               Extra(ansible_inventory, vault_password_file, plan, max_lag_s))


@app.command("all")
def check_all(ctx: typer.Context, scope: ScopeOpt = None, lab: LabOpt = None, as_json: JsonOpt = False,
              junit: JunitOpt = None, html: HtmlOpt = None, running: RunningOpt = None,
              lab_secrets: LabSecretsOpt = False, plan: PlanOpt = None, max_lag_s: MaxLagOpt = ASYNC_RPO_S,
              ansible_inventory: AnsibleInvOpt = None, vault_password_file: VaultOpt = None) -> None:
    """Every check kind: network, config, servers and dr (isolation has its own command: it sends traffic)."""
    run_groups(ctx, ("network", "config", "servers", "dr"), scope, lab, as_json, junit, html, running, lab_secrets,
               Extra(ansible_inventory, vault_password_file, plan, max_lag_s),
               note="[yellow]not checked[/]: isolation: its own command, `jinbao check isolation --lab NAME` "
                    "(traffic)")


@app.command("controls")
def check_controls(as_json: JsonOpt = False) -> None:
    """The control catalogue: every GB/T 22239-2019 level-3 clause and the controls that cover it."""
    from checks.catalogue import default_catalogue

    cat = default_catalogue()
    rows = cat.coverage()
    if as_json:
        data = {"standard": cat.standard, "level": cat.level, "clauses": rows,
                "controls": [c.model_dump(by_alias=True, exclude_none=True) for c in cat.controls]}
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=1) + "\n")
        return
    t = Table("clause", "requirement", "controls (kind)")
    for r in rows:
        ctl = "\n".join(f"{c['id']} ({c['kind']})" for c in r["controls"]) or "[dim]uncovered[/]"
        t.add_row(r["clause"], f"{r['zh']}\n{r['en']}", ctl)
    out.print(t)
    covered = sum(r["covered"] for r in rows)
    out.print(f"{cat.standard} level {cat.level}: {len(cat.controls)} controls cover {covered} of {len(rows)} clauses")


@app.command("isolation")
def isolation_cmd(
    ctx: typer.Context,
    lab: Annotated[str, typer.Option("--lab", help="Lab name (its recorded slice is probed).")] = "jinbao",
    scope: Annotated[str | None, typer.Option("--scope", help="Site id or region code: probe from and to its "
                                              "zone hosts only.")] = None,
    canaries: Annotated[str, typer.Option("--canary-ports", help="Extra TCP ports no flow uses, probed too.")
                        ] = "8080,3389,23",
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")] = False,
) -> None:
    """From every zone host (and a probe host in each DMZ, partners and management zone, on the firewall's WAN
    side), connect to every other zone host's service ports and compare with the policy: allowed must connect,
    denied must fail; UDP where a flow is UDP, business <-> office also by ICMP and UDP. Every host must be shown
    live (an allowed probe connects, or its gateway answers). Exit 1 on a mismatch or a host not shown live."""
    from checks.isolation import lab_zone_hosts, plan_probes, probe_lab, report
    from core.errors import JinbaoError
    from jinbao.commands.base import inventory_dir

    try:
        ports = tuple(int(p) for p in canaries.split(",") if p.strip())
    except ValueError:
        raise JinbaoError(f"not a list of port numbers: {canaries!r}", entry="--canary-ports") from None
    world, hosts, paths = lab_zone_hosts(lab, scope, inventory_dir(ctx))
    probes = plan_probes(world, hosts, ports, paths)
    with err.status(f"probing ({len(probes)} probes)…") as status:
        probe_lab(lab, hosts, probes, progress=lambda m: status.update(f"probing: {m}"))
    rep = report(probes, hosts)
    if as_json:
        sys.stdout.write(json.dumps(rep, ensure_ascii=False, indent=1) + "\n")
    else:
        for line in isolation_text(rep):
            out.print(line, highlight=False)
    if not rep["ok"]:
        raise typer.Exit(1)


def isolation_text(rep: dict) -> list[str]:
    """`check isolation`'s report as text: the mismatches, the hosts not shown live, then what proved what."""
    lines = []
    for p in rep["probes"]:
        if p["expected"] != p["observed"]:
            port = f"{p['proto']}/{p['port']}" if p["port"] is not None else p["proto"]
            lines.append(f"[red]mismatch[/] {p['src_zone']} -> {p['dst_zone']} {port}: expected {p['expected']}, "
                         f"observed {p['observed']} ({p['src']} -> {p['dst_ip']})")
    lines += [f"[red]not live[/] {f['message']}" for f in rep["findings"]]
    bad = [f"{rep['mismatches']} mismatches"] * bool(rep["mismatches"]) + [
        f"{rep['not_live']} hosts not shown live"] * bool(rep["not_live"])
    lines.append(("[green]ok[/]" if rep["ok"] else f"[red]{', '.join(bad)}[/]")
                 + f": {rep['probes_run']} probes between {len(rep['hosts'])} zone hosts")
    d = rep["decided_by"]
    lines.append(f"  {d['ruleset']} decided by the firewall rulesets (the plan routes them both ways); "
                 f"{d['routing']} closed by routing alone (no path both ways in the plan: they do not test the "
                 f"rulesets)" + (f"; {d['unknown']} not classified" if d["unknown"] else ""))
    by: dict[str, list[str]] = {}
    for h in rep["hosts"]:
        if h["live"]:
            by.setdefault(h["proof"], []).append(h["host"])
    live = [f"{len(by.get('flow', []))} by an allowed flow"]
    if by.get("gateway"):
        live.append(f"{len(by['gateway'])} by their gateway (no flow allowed: {', '.join(by['gateway'])})")
    if by.get("link"):
        live.append(f"{len(by['link'])} by their interface only (no flow allowed, no gateway in the lab: "
                    f"{', '.join(by['link'])})")
    lines.append(f"  hosts shown live: {'; '.join(live)}")
    return lines
