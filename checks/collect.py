"""The servers check kind, from an Ansible inventory to Results: what `jinbao check servers|all` runs, and what
`make run`'s compliance step runs on its lab (jinbao/labrun.py). I/O at the edge (ansible-inventory, testinfra
over SSH); the verdicts are checks/servers.py's. (The dr kind reads the pairs through dr/, a peer of checks:
it is joined one layer up, in jinbao/dr_audit.py.)
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path

from checks.catalogue import Catalogue, default_catalogue
from checks.results import Result
from core.errors import JinbaoError

Progress = Callable[[str], None]


def server_results(inventory: Path, vault: Path | None, group: str = "servers", keep: Collection[str] | None = None,
                   progress: Progress | None = None, cat: Catalogue | None = None) -> list[Result]:
    """The testinfra suites on every host of `group` (those in `keep`, when given), in parallel (one pytest
    per host), each outcome mapped to its control. No host is a one-line error: an audit of nothing never
    passes."""
    from checks.servers import inventory_servers, results_from_junit, run_suites
    from inventory.naming import parse_hostname

    hosts = inventory_servers(inventory, vault, group)
    if keep is not None:
        hosts = [h for h in hosts if h in keep]
    if not hosts:
        raise JinbaoError(f"no host of group {group!r} in scope in the Ansible inventory {inventory}", entry="--group")
    xml = run_suites(inventory, hosts, vault, progress=progress)
    cat = cat or default_catalogue()
    return [r for h in hosts for r in results_from_junit(cat, h, parse_hostname(h)[1], xml.get(h, ""))]
