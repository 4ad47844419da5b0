"""`jinbao policy …` — the zone isolation policy: render it for a site's firewall, verify the nation."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from core.errors import JinbaoError

app = typer.Typer(no_args_is_help=True, help="Zone isolation policy: compile per site and platform, verify.")
out = Console()
err = Console(stderr=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]
PlatformOpt = Annotated[str | None, typer.Option("--platform", help="nftables (linux_nftables), cisco (cisco_ios), "
                                                 "huawei (huawei_vrp), h3c (h3c_comware); default: all four")]


def _inventory_dir(ctx: typer.Context) -> Path:
    """The top-level `--inventory` (read from the root context: `python -m jinbao.cli` runs the CLI module as
    __main__, so importing its state from jinbao.cli would see a second, unset copy)."""
    from inventory.load import default_inventory_dir

    given = ctx.find_root().params.get("inventory")
    return Path(given) if given else default_inventory_dir()


def _emit(data: object) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=1) + "\n")


def _targets(platform: str | None) -> tuple[str, ...]:
    from network.policy.compile import PLATFORMS
    from network.policy.generate import target_of

    return PLATFORMS if platform is None else (target_of(platform),)


@app.command("render")
def render_cmd(
    ctx: typer.Context,
    site: Annotated[str, typer.Option("--site", help="Site id of a data or DR centre, e.g. 140100-DC.")],
    platform: PlatformOpt = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Write <site>/<site>.<ext> + manifest.json "
                                                 "here (all or nothing) instead of printing.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Compile the zone policy for one site's firewall (Aerleon: nftables, Cisco; plugins: VRP, Comware)."""
    from network.policy.generate import definitions, render_site
    from network.policy.service import open_world, render_to_dir

    targets = _targets(platform)
    world = open_world(_inventory_dir(ctx))
    if not world.inv.has_site(site) or site not in world.firewall_sites:
        raise JinbaoError(f"{site!r} is not a site with a firewall (a data or DR centre id like 140100-DC)",
                          entry="--site")
    if out_dir is not None:
        if out_dir.exists() and not out_dir.is_dir():
            raise JinbaoError("exists and is not a directory", file=str(out_dir), entry="--out")
        try:
            manifest = render_to_dir(world, [site], targets, out_dir)
        except OSError as e:
            raise JinbaoError(f"cannot write here: {e.strerror or e}", file=str(out_dir), entry="--out") from None
        if as_json:
            _emit({"out": str(out_dir), **manifest})
        else:
            out.print(f"wrote {len(manifest['files'])} files into {out_dir}")
        return
    texts = render_site(world, definitions(world), site, targets)
    if as_json:
        _emit({"site": site, "platforms": texts})
        return
    for t, text in texts.items():
        if len(texts) > 1:
            sys.stdout.write(f"# ---- {site} {t}\n")
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


@app.command("verify")
def verify_cmd(
    ctx: typer.Context,
    scope: Annotated[str | None, typer.Option("--scope", help="Site id or region code (default: the nation).")
                     ] = None,
    platform: PlatformOpt = None,
    config: Annotated[Path | None, typer.Option("--config", help="Audit this file, a real device's whole "
                                                "running configuration (nft list ruleset, show running-config, "
                                                "display current-configuration), instead of compiling; needs "
                                                "--scope SITE and --platform.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Prove the compiled rules against the policy: allowed flows permitted, nothing else permitted (with an
    example flow), no dead rule lines. Exit 1 on findings."""
    from network.policy.separation import JSON as PATH_JSON
    from network.policy.service import firewall_sites, open_world, separation_check, verify_sites, verify_texts

    world = open_world(_inventory_dir(ctx))
    if config is not None:
        if platform is None or scope is None or not world.inv.has_site(scope):
            raise JinbaoError("an audit needs --scope SITE (one site id) and --platform", entry="--config")
        firewall_sites(world, scope)
        try:
            text = config.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise JinbaoError(f"cannot read: {getattr(e, 'strerror', None) or e}", file=str(config)) from None
        target = _targets(platform)[0]
        rep = verify_texts(world, scope, {target: text}, {target: str(config)}, device=True)
        if as_json:
            _emit(rep.as_dict())
        else:
            for f in rep.findings:
                out.print(f"[red]{f.rule}[/] {f.subject} {f.detail['platform']}: {f.message}", highlight=False)
            out.print(("[green]ok[/]" if not rep.findings else f"[red]{len(rep.findings)} findings[/]")
                      + f" ({rep.lines[target]} rule lines of {config})")
        if rep.findings:
            raise typer.Exit(1)
        return
    sites = firewall_sites(world, scope)
    targets = _targets(platform)
    with err.status("verifying…") as status:
        report = verify_sites(world, sites, targets,
                              progress=lambda i, n: status.update(f"verifying: {i}/{n} sites"))
        status.update("checking the routing plan for paths into the office network…")
        devices, paths = separation_check(_inventory_dir(ctx), scope)
    if as_json:
        _emit(report.as_dict() | {"ok": not report.findings and not paths, "separation": {
            "devices_checked": devices, "findings": [p.as_dict(PATH_JSON) for p in paths]}})
    else:
        for s in report.sites:
            for f in s.findings:
                out.print(f"[red]{f.rule}[/] {f.subject} {f.detail['platform']}: {f.message}", highlight=False)
        for p in paths:
            out.print(f"[red]path[/] {p.message}", highlight=False)
        n = len(report.findings) + len(paths)
        out.print(("[green]ok[/]" if not n else f"[red]{n} findings[/]")
                  + f": {len(report.sites)} sites x {len(targets)} platforms, {report.rule_lines} rule lines"
                  f" in {report.wall_s:.1f} s ({report.workers} workers); {devices} routers and firewalls checked for"
                  " paths into the office network")
    if report.findings or paths:
        raise typer.Exit(1)
