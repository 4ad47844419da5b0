"""The drill's witness: a client that commits numbered rows through the service address and records
every acknowledged commit (``dr.measure.Ack``), reconnecting on its own as an application would.

A failed or ambiguous commit is never counted and its number never reused, so a row that did commit
without the client hearing of it cannot make a lost commit look present.
"""

from __future__ import annotations

import threading
import time

import psycopg

from dr.measure import Ack

TABLE = "jb_drill_ack"
# libpq gives up on a dead peer after 1 s instead of the kernel's minutes: a killed site must not hang
# the witness (tcp_user_timeout covers unacknowledged data, keepalives an idle connection).
CONNECT_OPTS = {"connect_timeout": 2, "tcp_user_timeout": 1000, "keepalives": 1, "keepalives_idle": 1,
                "keepalives_interval": 1, "keepalives_count": 1}


def prepare(dsn: str) -> None:
    """An empty witness table: each drill numbers its commits from 1."""
    with psycopg.connect(dsn, autocommit=True, **CONNECT_OPTS) as conn:  # type: ignore[arg-type]
        conn.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (seq bigint PRIMARY KEY, at timestamptz DEFAULT now())")
        conn.execute(f"TRUNCATE {TABLE}")


def survivors(dsn: str) -> set[int]:
    with psycopg.connect(dsn, autocommit=True, **CONNECT_OPTS) as conn:  # type: ignore[arg-type]
        return {r[0] for r in conn.execute(f"SELECT seq FROM {TABLE}")}


class Writer(threading.Thread):
    """Commits row after row until stopped; `acks` grows as commits are acknowledged."""

    def __init__(self, dsn: str, interval: float = 0.01, retry: float = 0.05) -> None:
        super().__init__(daemon=True, name="dr-writer")
        self.dsn, self.interval, self.retry = dsn, interval, retry
        self.acks: list[Ack] = []
        self.errors: list[tuple[float, str]] = []
        self._stop_event = threading.Event()
        self._seq = 0

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=10)

    def acked_by(self, server: str) -> int:
        return sum(1 for a in self.acks if a.server == server)

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                with psycopg.connect(self.dsn, autocommit=True, **CONNECT_OPTS) as conn:  # type: ignore[arg-type]
                    server = conn.execute("SELECT current_setting('cluster_name')").fetchone()[0]  # type: ignore[index]
                    while not self._stop_event.is_set():
                        self._seq += 1
                        conn.execute(f"INSERT INTO {TABLE} (seq) VALUES (%s)", (self._seq,))
                        self.acks.append(Ack(self._seq, server, time.time()))
                        self._stop_event.wait(self.interval)
            except psycopg.Error as e:
                self.errors.append((time.time(), str(e).splitlines()[0] if str(e) else type(e).__name__))
                self._stop_event.wait(self.retry)
