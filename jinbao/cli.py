"""`jinbao` — one command line for the whole suite. Thin: parses options, calls a module, prints."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from core.errors import JinbaoError
from jinbao.commands import check, deploy, dr, ferry, inventory, ipplan, lab, network, policy, report, run, servers, vm
from jinbao.commands.base import err, no_wrap_when_piped

EXAMPLES = """Examples:\n\n
  jinbao inventory validate\n
  jinbao inventory show --scope 140100\n
  jinbao --inventory ./my-inventory ipplan allocate\n
  jinbao ipplan check --json\n
  jinbao ipplan export --format netbox-csv --out netbox/\n
  jinbao intent JB-140100-DC-WR01\n
  jinbao render --out configs/ --scope 140000\n
  jinbao verify --scope 140100\n
  jinbao run --out out/\n\n
Bad input: one line naming the file and entry, exit 2. Docs: README.md, docs/."""
app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__, pretty_exceptions_enable=False,
                  epilog=EXAMPLES)


@app.callback()
def _main(
    inventory: Annotated[Path | None, typer.Option("--inventory", "-i", help="Inventory directory.",
                                                   show_default="inventory/")] = None,
) -> None:
    """Options of every command (read back by `jinbao.commands.base.inventory_dir`)."""
    no_wrap_when_piped()


# commands of the root, in the order `--help` lists them
app.add_typer(network.app)  # intent, render, verify, diagram
app.add_typer(deploy.app)  # deploy, backup, drift
app.add_typer(run.app)  # run
# command groups: one line each
app.add_typer(inventory.app, name="inventory")
app.add_typer(ipplan.app, name="ipplan")
app.add_typer(lab.app, name="lab")
app.add_typer(ferry.app, name="ferry")
app.add_typer(policy.app, name="policy")
app.add_typer(check.app, name="check")
app.add_typer(report.app, name="report")
app.add_typer(servers.app, name="servers")
app.add_typer(vm.app, name="vm")
app.add_typer(dr.app, name="dr")



from jinbao.commands import dr as _dr  # noqa: E402

app.add_typer(_dr.app, name="dr")


def main() -> None:
    try:
        app()
    except JinbaoError as e:  # bad input or an impossible request (LabError included): one line
        err.print(f"error: {e}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
