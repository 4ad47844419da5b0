"""The drill's witness: a client that commits numbered rows through the service address and records
every acknowledged commit (``dr.measure.Ack``), reconnecting on its own as an application would.

A failed or ambiguous commit is never counted and its number never reused, so a row that did commit
without the client hearing of it cannot make a lost commit look present.

`netns`: a network namespace (a path such as /run/netns/NAME) the witness's connections are made from, e.g.
a lab's exchange-zone server, where the service address is routed (the control node sits on the management
network). Linux keeps the network namespace per thread: the witness's own threads enter it, the rest of the
drill (Ansible, the deploys, the status queries) stays where it is. Entering one needs CAP_SYS_ADMIN.
"""

from __future__ import annotations

import ctypes
import os
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import psycopg

from dr.measure import Ack

TABLE = "jb_drill_ack"
# libpq gives up on a dead peer after 1 s instead of the kernel's minutes: a killed site must not hang
# the witness (tcp_user_timeout covers unacknowledged data, keepalives an idle connection).
CONNECT_OPTS = {"connect_timeout": 2, "tcp_user_timeout": 1000, "keepalives": 1, "keepalives_idle": 1,
                "keepalives_interval": 1, "keepalives_count": 1}


CLONE_NEWNET = 0x40000000
T = TypeVar("T")


def enter_netns(path: str) -> None:
    """Move the calling thread (only it) into the network namespace at `path`."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns {path}: {os.strerror(err)}")
    finally:
        os.close(fd)


def in_netns(netns: str | None, fn: Callable[[], T]) -> T:
    """`fn()` run from `netns` (a thread of its own that enters it), or here when None."""
    if netns is None:
        return fn()
    out: list[T] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            enter_netns(netns)
            out.append(fn())
        except BaseException as e:  # handed to the caller's thread
            failed.append(e)

    t = threading.Thread(target=run, name="dr-witness-netns", daemon=True)
    t.start()
    t.join()
    if failed:
        raise failed[0]
    return out[0]


def prepare(dsn: str, netns: str | None = None) -> None:
    """An empty witness table: each drill numbers its commits from 1."""
    in_netns(netns, lambda: _prepare(dsn))


def _prepare(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True, **CONNECT_OPTS) as conn:  # type: ignore[arg-type]
        conn.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (seq bigint PRIMARY KEY, at timestamptz DEFAULT now())")
        conn.execute(f"TRUNCATE {TABLE}")


def survivors(dsn: str, netns: str | None = None) -> set[int]:
    return in_netns(netns, lambda: _survivors(dsn))


def _survivors(dsn: str) -> set[int]:
    with psycopg.connect(dsn, autocommit=True, **CONNECT_OPTS) as conn:  # type: ignore[arg-type]
        return {r[0] for r in conn.execute(f"SELECT seq FROM {TABLE}")}


class Writer(threading.Thread):
    """Commits row after row until stopped; `acks` grows as commits are acknowledged."""

    def __init__(self, dsn: str, interval: float = 0.01, retry: float = 0.05, netns: str | None = None) -> None:
        super().__init__(daemon=True, name="dr-writer")
        self.dsn, self.interval, self.retry, self.netns = dsn, interval, retry, netns
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
        if self.netns is not None:
            try:
                enter_netns(self.netns)
            except OSError as e:  # no acknowledgement ever: the drill aborts, saying why
                self.errors.append((time.time(), str(e)))
                return
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
