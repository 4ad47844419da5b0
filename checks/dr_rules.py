"""`jinbao check dr`: the catalogue's `dr` controls judged on what dr/status.py reads from each replication
pair (its state from the end accepting writes, the walsender's TLS, the WAL archiver). Pure: (status,
facts) -> verdict, so every control's pass and fail scenario runs without a database. dr/ is a peer layer:
its records come in as plain mappings (`PairStatus.as_dict()`, `PairFacts.as_dict()`), never imported.

RPO: a synchronous pair's RPO is 0, which holds only while its standby is `sync` (or `quorum`); an
asynchronous pair may lose what the standby has not replayed, so its replay lag must stay under the
target (`--max-lag-s`, default ASYNC_RPO_S). One result per pair, on the primary's hostname.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from checks.catalogue import Catalogue
from checks.results import Result, site_of

Record = Mapping[str, Any]

ASYNC_RPO_S = 60.0
MAX_ARCHIVE_READY = 2  # segments waiting for the archiver: more means archiving falls behind


def _unreachable(st: Record) -> bool:
    return st["state"] in ("unreachable", "no-slot")


def evaluate(check: str, st: Record, facts: Record, max_lag_s: float = ASYNC_RPO_S) -> tuple[str, str]:
    if check == "streaming":
        if _unreachable(st):
            return "error", f"{st['state']}: {st['error']}"
        if st["state"] != "streaming":
            extra = f"; {st['lag_bytes']} bytes of WAL kept for it" if st["lag_bytes"] is not None else ""
            return "fail", f"replica {st['replica']} is {st['state']} ({st['error'] or 'not connected'}){extra}"
        where = st["active"] or "?"
        return "pass", f"{st['replica']} streaming ({st['mode']}, {st['sync_state']}); writes at the {where} end"
    if check == "lag_within_rpo":
        if _unreachable(st):
            return "error", f"{st['state']}: {st['error']}"
        if st["state"] != "streaming":
            return "fail", f"no standby streaming: the RPO grows with every commit ({st['lag_bytes']} bytes behind)"
        if st["mode"] == "sync":
            ok = st["sync_state"] in ("sync", "quorum")
            return ("pass" if ok else "fail"), f"sync pair, standby sync_state={st['sync_state']} (RPO 0 needs sync)"
        lag = st["lag_s"] if st["lag_s"] is not None else 0.0
        verdict = "pass" if lag <= max_lag_s else "fail"
        return verdict, f"replay lag {lag:.3f} s / {st['lag_bytes']} bytes (async RPO target {max_lag_s:g} s)"
    if check == "replication_tls":
        if facts["error"]:
            return "error", facts["error"]
        if facts["replication_ssl"] is None:
            return "error", "no walsender for the pair's slot: the replication connection cannot be inspected"
        if not facts["replication_ssl"]:
            return "fail", "the standby's replication connection is not TLS"
        return "pass", f"replication connection over {facts['replication_tls_version']}"
    if check == "wal_archive":
        if facts["error"]:
            return "error", facts["error"]
        age = "never" if facts["archived_age_s"] is None else f"{facts['archived_age_s']:.0f} s ago"
        counts = f"archived_count={facts['archived_count']}, failed_count={facts['failed_count']}"
        if facts["archive_mode"] not in ("on", "always"):
            return "fail", f"archive_mode={facts['archive_mode']} ({counts})"
        if not facts["archived_count"] or facts["archived_age_s"] is None:
            # an archive that never received a WAL file holds nothing to restore from, whatever the backlog
            return "fail", f"WAL was never archived (last archived: {age}; {counts})"
        if facts["archive_failing"]:
            return "fail", (f"the archiver's last attempt failed ({facts['last_failed_wal']}) after its last"
                            f" success {age}; {counts}")
        if (facts["archive_ready"] or 0) > MAX_ARCHIVE_READY:
            return "fail", f"{facts['archive_ready']} WAL segments waiting to be archived; last success {age}; {counts}"
        return "pass", f"{facts['archive_ready']} segments waiting; last archived {age}; {counts}"
    return "error", f"unknown dr check {check!r}"


def dr_results(cat: Catalogue, rows: list[tuple[Record, Record]], max_lag_s: float = ASYNC_RPO_S) -> list[Result]:
    """rows: (status, facts) per pair; the status names the pair's primary and replica."""
    out = []
    for st, facts in rows:
        for c in cat.of_kind("dr"):
            status, evidence = evaluate(c.check or "", st, facts, max_lag_s)
            out.append(Result(st["primary"], c.id, c.clause, status,  # type: ignore[arg-type]
                              f"{st['primary']} -> {st['replica']}: {evidence}", site_of(st["primary"]), "dr"))
    return out


# -- scenarios (the catalogue's pass/fail data) --------------------------------------------------------
HEALTHY_STATUS: dict[str, Any] = {  # the fields of dr.status.PairStatus (a test keeps them in step)
    "primary": "JB-100000-DC-DB01", "replica": "JB-100000-DR-DB01", "mode": "async", "state": "streaming",
    "sync_state": "async", "lag_bytes": 0, "lag_s": 0.05, "error": None, "active": "primary"}
HEALTHY_FACTS: dict[str, Any] = {  # dr.status.PairFacts
    "replication_ssl": True, "replication_tls_version": "TLSv1.3", "archive_ready": 0, "archived_age_s": 12.0,
    "archive_failing": False, "last_failed_wal": None, "archive_mode": "on", "archived_count": 42,
    "failed_count": 0, "error": None}


def apply_scenario(scenario: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A healthy pair with the scenario's fields changed (a field of the status or of the facts)."""
    unknown = set(scenario) - set(HEALTHY_STATUS) - set(HEALTHY_FACTS)
    if unknown:
        raise KeyError(f"scenario fields not in PairStatus/PairFacts: {sorted(unknown)}")
    return ({**HEALTHY_STATUS, **{k: v for k, v in scenario.items() if k in HEALTHY_STATUS}},
            {**HEALTHY_FACTS, **{k: v for k, v in scenario.items() if k in HEALTHY_FACTS and k != "error"}})
