"""`jinbao check …` — checks against the running network (the lab): isolation proved by traffic."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(no_args_is_help=True, help="Checks against the running network (the lab).")
out = Console()
err = Console(stderr=True)


@app.command("isolation")
def isolation_cmd(
    lab: Annotated[str, typer.Option("--lab", help="Lab name (its recorded slice is probed).")] = "jinbao",
    scope: Annotated[str | None, typer.Option("--scope", help="Site id or region code: probe from and to its "
                                              "zone hosts only.")] = None,
    canaries: Annotated[str, typer.Option("--canary-ports", help="Extra TCP ports no flow uses, probed too.")
                        ] = "8080,3389,23",
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")] = False,
) -> None:
    """From every zone host, connect to every other zone host's service ports and compare with the policy:
    allowed must connect, denied must fail; business <-> office also by ICMP and UDP. Exit 1 on mismatch."""
    from checks.isolation import lab_exec, lab_zone_hosts, plan_probes, report, run_probes
    from core.errors import JinbaoError

    try:
        ports = tuple(int(p) for p in canaries.split(",") if p.strip())
    except ValueError:
        raise JinbaoError(f"not a list of port numbers: {canaries!r}", entry="--canary-ports") from None
    world, hosts = lab_zone_hosts(lab, scope)
    probes = plan_probes(world, hosts, ports)
    with err.status(f"probing ({len(probes)} probes)…") as status:
        run_probes(hosts, probes, lab_exec(lab), progress=lambda m: status.update(f"probing: {m}"))
    rep = report(probes)
    if as_json:
        sys.stdout.write(json.dumps(rep, ensure_ascii=False, indent=1) + "\n")
    else:
        for p in probes:
            if not p.ok:
                port = f"{p.proto}/{p.port}" if p.port is not None else p.proto
                out.print(f"[red]mismatch[/] {p.src_zone} -> {p.dst_zone} {port}: expected {p.expected}, "
                          f"observed {p.observed} ({p.src} -> {p.dst_ip})", highlight=False)
        out.print(("[green]ok[/]" if rep["ok"] else f"[red]{rep['mismatches']} mismatches[/]")
                  + f": {rep['probes_run']} probes between {len(hosts)} zone hosts")
    if not rep["ok"]:
        raise typer.Exit(1)
