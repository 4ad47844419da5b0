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


# What an audit of a pair needs beyond its state (`jinbao check dr`), read from the end accepting writes:
# whether the walsender's connection is TLS, and how far WAL archiving is behind (segments waiting in
# archive_status as .ready, the archiver's last success and failure, its success and failure counts).
# pg_monitor is enough for all of it.
FACTS_QUERY = """
SELECT (SELECT l.ssl FROM pg_replication_slots s JOIN pg_stat_ssl l ON l.pid = s.active_pid
        WHERE s.slot_name = %s),
       (SELECT l.version FROM pg_replication_slots s JOIN pg_stat_ssl l ON l.pid = s.active_pid
        WHERE s.slot_name = %s),
       (SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%%.ready')::int,
       extract(epoch FROM now() - a.last_archived_time)::float8,
       coalesce(a.last_failed_time > coalesce(a.last_archived_time, '-infinity'), false),
       a.last_failed_wal,
       current_setting('archive_mode'),
       a.archived_count,
       a.failed_count
FROM pg_stat_archiver a
"""


@dataclass(frozen=True, slots=True)
class PairFacts:
    replication_ssl: bool | None  # None: no walsender for the slot (the standby is not connected)
    replication_tls_version: str | None
    archive_ready: int | None  # WAL segments waiting to be archived
    archived_age_s: float | None  # since the last successful archive (None: never)
    archive_failing: bool | None  # the last attempt failed
    last_failed_wal: str | None
    archive_mode: str | None
    archived_count: int | None  # WAL files archived since the statistics were reset (0: never)
    failed_count: int | None  # failed attempts since then
    error: str | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def pair_facts(pair: Pair, dsn: str) -> PairFacts:
    try:
        with psycopg.connect(dsn, autocommit=True, **CONNECT_OPTS) as conn:  # type: ignore[arg-type]
            row = conn.execute(FACTS_QUERY, (pair.slot, pair.slot)).fetchone()
    except psycopg.Error as e:
        return PairFacts(None, None, None, None, None, None, None, None, None,
                         (str(e).strip().splitlines() or [type(e).__name__])[0])
    assert row is not None  # pg_stat_archiver has exactly one row
    return PairFacts(*row)
