"""The dr check kind, from the replication pairs to Results: what `jinbao check dr|all` runs, and what `make run`'s
compliance step runs on its lab (jinbao/labrun.py). It joins dr/ (the pairs' status, read from their PostgreSQL)
and checks/ (the verdicts, checks/dr_rules.py), two peer packages: hence here, one layer up.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from checks.catalogue import Catalogue, default_catalogue
from checks.dr_rules import ASYNC_RPO_S
from checks.results import Result

if TYPE_CHECKING:
    from dr.plan import Pair


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
