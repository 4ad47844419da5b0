"""`jinbao servers …` — build the data-centre servers with the project's playbooks (thin: options, call, print)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from core.errors import JinbaoError

app = typer.Typer(no_args_is_help=True, help="Data-centre servers: the MLPS baseline and the zone databases.")


@app.command("build")
def build_cmd(
    ctx: typer.Context,
    scope: Annotated[str | None, typer.Option("--scope", help="Site id or region code (default: all).")] = None,
    check: Annotated[bool, typer.Option("--check", help="Ansible's check mode: report, change nothing.")] = False,
    diff: Annotated[bool, typer.Option("--diff", help="Show file differences.")] = False,
    lab: Annotated[str | None, typer.Option("--lab", help="Build the servers of the lab of this name.")] = None,
    playbook: Annotated[str, typer.Option("--playbook", help="site, servers or databases.")] = "site",
    forks: Annotated[int | None, typer.Option("--forks", min=1, help="Parallel hosts (default: ansible.cfg).")] = None,
    vault_password_file: Annotated[Path | None, typer.Option(
        "--vault-password-file", help="Vault password file (default with --lab: the LAB-ONLY one).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")] = False,
) -> None:
    """Run playbooks/site.yml (or one concern) through ansible-runner and print the play recap."""
    from core import playbooks
    from jinbao import provision

    if playbook not in provision.PLAYBOOKS:
        raise JinbaoError(f"--playbook {playbook!r}: one of {', '.join(provision.PLAYBOOKS)}")
    with tempfile.TemporaryDirectory(prefix="jinbao-servers-") as tmp:
        limit = None
        if lab:
            from lab.servers import running_spec, write_inventory

            # the same plugin as for the real network, with the lab selected (its differences: variables)
            inventory = write_inventory(running_spec(lab), Path(tmp) / "inventory")
            vault = vault_password_file or playbooks.LAB_VAULT_PASSWORD
        else:
            inventory = playbooks.PLUGIN_INVENTORY
            if not inventory.exists():
                raise JinbaoError("the source-of-truth inventory plugin's configuration is missing (issue 12 item 1);"
                                  " use --lab NAME for a lab", file=str(inventory))
            vault = vault_password_file
        if scope:
            from inventory.load import load
            from inventory.scope import sites_in_scope
            from jinbao.commands.base import inventory_dir

            limit = provision.limit_for_sites(sites_in_scope(load(inventory_dir(ctx)).inventory, scope))
        say = (lambda m: print(m, file=sys.stderr)) if not as_json else None
        result = provision.run_playbook(playbook, inventory, limit=limit, check=check, diff=diff, forks=forks,
                                        vault_password_file=vault, progress=say)
    if not provision.report(result, as_json):
        raise typer.Exit(1)
