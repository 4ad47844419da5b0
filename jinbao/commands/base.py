"""What every command module shares: the consoles, common options, JSON output, the inventory directory."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:  # command modules import their layers lazily so `jinbao --help` stays fast
    from network.secrets import SecretSource
    from network.workspace import Workspace

out = Console(emoji=False)  # `:100:` in an IPv6 address is an address, not an emoji code
err = Console(stderr=True, emoji=False)

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]
ScopeOpt = Annotated[str | None, typer.Option("--scope", help="Site id or region code (default: the nation).")]
PlatformOpt = Annotated[str | None, typer.Option("--platform", help="Plan the routers as this platform.")]
LabOpt = Annotated[str | None, typer.Option("--lab", help="Target the lab of this name instead of real devices.")]
LabSecretsOpt = Annotated[bool, typer.Option(
    "--lab-secrets", help="Use the LAB-ONLY test secrets instead of vault/environment.")]


def no_wrap_when_piped() -> None:
    """On a terminal rich wraps at its width; piped or redirected, a line stays one line (a one-line error or
    finding must not be split at 80 columns for the next tool)."""
    for console in (out, err):
        if not console.is_terminal:
            console.soft_wrap = True
            console.width = 1 << 15  # tables size to their content, never to this width


def table(*columns: str) -> Table:
    """A table whose cells are printed literally (with `row`): names are data, never rich markup."""
    return Table(*columns)


def row(t: Table, *cells: object) -> None:
    t.add_row(*(Text(str(c)) for c in cells))


def inventory_dir(ctx: typer.Context) -> Path:
    """`--inventory` as given to the root command (no global state: read from the command's context)."""
    from inventory.load import default_inventory_dir

    return ctx.find_root().params.get("inventory") or default_inventory_dir()


def workspace(ctx: typer.Context) -> Workspace:
    """This invocation's inventory, records and plan, each read on first use and only once."""
    from network.workspace import Workspace

    return Workspace(inventory_dir(ctx))


def emit_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=1) + "\n")


def secrets(lab_secrets: bool) -> SecretSource:
    """The secret source for a render or deploy; LAB-ONLY values are announced on stderr."""
    from network.secrets import secret_source

    if lab_secrets:
        err.print("[yellow]using LAB-ONLY test secrets: never load these configs on a real device[/]")
    return secret_source(lab_secrets)
