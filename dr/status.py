"""Replication state per pair, read from the primary's ``pg_stat_replication`` and replication slot.

The primary is the authority on what its standby has confirmed: bytes not yet replayed
(``pg_wal_lsn_diff(current, replay_lsn)``) and the time lag PostgreSQL measures itself (``replay_lag``).
A pair whose standby is not connected is ``down`` (and its slot keeps WAL, so the bytes still grow).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import psycopg

from dr.plan import Pair
from dr.writer import CONNECT_OPTS

QUERY = """
SELECT s.active, r.state, r.sync_state,
       pg_wal_lsn_diff(pg_current_wal_lsn(), coalesce(r.replay_lsn, s.restart_lsn))::bigint,
       extract(epoch FROM r.replay_lag)::float8
FROM pg_replication_slots s
LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid
WHERE s.slot_name = %s
"""


@dataclass(frozen=True, slots=True)
class PairStatus:
    primary: str
    replica: str
    mode: str
    state: str  # streaming | catchup | down | no-slot | unreachable
    sync_state: str | None
    lag_bytes: int | None
    lag_s: float | None
    error: str | None = None
    active: str | None = None  # which end accepts writes: primary | replica (after a switchover or failover)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    @property
    def healthy(self) -> bool:
        return self.state == "streaming"


def pair_status(pair: Pair, primary_dsn: str) -> PairStatus:
    try:
        with psycopg.connect(primary_dsn, autocommit=True, **CONNECT_OPTS) as conn:  # type: ignore[arg-type]
            row = conn.execute(QUERY, (pair.slot,)).fetchone()
    except psycopg.Error as e:
        return PairStatus(pair.primary, pair.replica, pair.mode, "unreachable", None, None, None,
                          (str(e).strip().splitlines() or [type(e).__name__])[0])
    if row is None:
        return PairStatus(pair.primary, pair.replica, pair.mode, "no-slot", None, None, None,
                          f"no replication slot {pair.slot!r} on the primary")
    active, state, sync_state, lag_bytes, lag_s = row
    return PairStatus(pair.primary, pair.replica, pair.mode, state if active and state else "down",
                      sync_state, lag_bytes, 0.0 if state == "streaming" and lag_s is None else lag_s)


def _writable(dsn: str) -> bool | None:
    """True: accepts writes; False: in recovery; None: unreachable."""
    try:
        with psycopg.connect(dsn, autocommit=True, **CONNECT_OPTS) as conn:  # type: ignore[arg-type]
            return not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]  # type: ignore[index]
    except psycopg.Error:
        return None


def current_status(pair: Pair, primary_dsn: str, replica_dsn: str) -> PairStatus:
    """The pair's state read from whichever end accepts writes now (the slot has the same name on both).
    Both ends writable is reported as ``two-primaries`` (split brain), never hidden."""
    p_w, r_w = _writable(primary_dsn), _writable(replica_dsn)
    if p_w and r_w:
        return PairStatus(pair.primary, pair.replica, pair.mode, "two-primaries", None, None, None,
                          "both ends accept writes")
    if r_w:
        return replace(pair_status(pair, replica_dsn), active="replica")
    st = pair_status(pair, primary_dsn)
    if p_w is False:
        return replace(st, state="unreachable", error="neither end accepts writes")
    return replace(st, active="primary" if p_w else None)
