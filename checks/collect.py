"""The servers and dr check kinds, from an Ansible inventory to Results: what `jinbao check servers|dr|all` runs,
and what `make run`'s compliance step runs on its lab (jinbao/labrun.py). I/O at the edge (ansible-inventory,
testinfra over SSH, the pairs' PostgreSQL); the verdicts are checks/servers.py's and checks/dr_rules.py's.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING

from checks.catalogue import Catalogue, default_catalogue
from checks.dr_rules import ASYNC_RPO_S
from checks.results import Result
from core.errors import JinbaoError

if TYPE_CHECKING:
    from dr.plan import Pair

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


def dr_pair_results(pairs: list[Pair], inventory: Path, vault: Path | None, lab: str | None,
                    max_lag_s: float = ASYNC_RPO_S, cat: Catalogue | None = None) -> list[Result]:
    """Every pair: state, lag against the RPO, TLS, WAL archive (dr/status.py), through the addresses the
    Ansible inventory gives its two ends."""
    from checks.dr_rules import dr_results
    from dr.access import access_for, addresses, drill_password
    from dr.status import current_status, pair_facts

    addr = addresses(inventory, vault)
    rows = []
    for a in access_for(pairs, addr, drill_password(vault), lab):
        st = current_status(a.pair, a.primary_dsn(), a.replica_dsn())
        facts = pair_facts(a.pair, a.replica_dsn() if st.active == "replica" else a.primary_dsn())
        rows.append((st.as_dict(), facts.as_dict()))
    return dr_results(cat or default_catalogue(), rows, max_lag_s)
