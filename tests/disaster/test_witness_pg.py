"""The drill witness and its figures against real PostgreSQL 15: a primary killed hard, its standby promoted.

Asynchronous replication may lose the last acknowledged commits (and the figures must say how many);
synchronous replication must lose none. The witness reconnects by itself, as an application would.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dr import writer
from dr.measure import figures
from dr.plan import Pair
from dr.status import pair_status
from tests.disaster.pgpair import Node, build_pair

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.geteuid() != 0, reason="runs PostgreSQL as user postgres (needs root)")]


def _wait(pred, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture(scope="module", params=["async", "sync"])
def pair(request: pytest.FixtureRequest) -> Iterator[tuple[Node, Node, str]]:
    mode = request.param
    # pytest's own temporary tree is 0700 root: user postgres needs a directory it can reach
    root = Path(tempfile.mkdtemp(prefix=f"jbdr-{mode}-"))
    os.chmod(root, 0o755)
    port = 55432 if mode == "async" else 55442
    nodes: list[Node] = []
    try:
        primary, standby = build_pair(root, port, sync=mode == "sync")
        nodes = [primary, standby]
        yield primary, standby, mode
    finally:
        for n in nodes or [Node(root, "primary", port), Node(root, "standby", port + 1)]:
            n.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_status_follows_the_standby(pair: tuple[Node, Node, str]) -> None:
    primary, standby, mode = pair
    p = Pair("JB-P", "JB-S", mode, "P", "S", "standby")
    want = "sync" if mode == "sync" else "async"  # the walsender may report async for a moment first
    _wait(lambda: pair_status(p, primary.dsn()).sync_state == want, 20, f"streaming {want}")
    st = pair_status(p, primary.dsn())
    assert st.healthy and st.lag_bytes is not None and st.lag_bytes >= 0 and st.sync_state == want
    standby.stop()
    _wait(lambda: pair_status(p, primary.dsn()).state == "down", 20, "the standby seen as down")
    assert pair_status(dataclasses.replace(p, slot="nope"), primary.dsn()).state == "no-slot"
    gone = pair_status(p, primary.dsn().replace(f"port={primary.port}", "port=1"))
    assert gone.state == "unreachable" and gone.error
    standby.start()  # the pair as it was, for the failover drill that follows on it
    _wait(lambda: pair_status(p, primary.dsn()).state == "streaming", 20, "streaming again")


def test_failover_figures(pair: tuple[Node, Node, str]) -> None:
    primary, standby, mode = pair
    # The client's view of "the service address": libpq tries both and takes the one that accepts writes.
    dsn = (f"host=127.0.0.1,127.0.0.1 port={primary.port},{standby.port} user=postgres "
           f"password=LAB-ONLY-drill-test dbname=postgres target_session_attrs=read-write")
    writer.prepare(primary.dsn())
    w = writer.Writer(dsn, interval=0.002)
    w.start()
    try:
        _wait(lambda: w.acked_by("primary") >= 300, 30, "300 commits at the primary")
        primary.kill_hard()
        standby.promote()
        _wait(lambda: w.acked_by("standby") >= 50, 30, "50 commits at the promoted standby")
    finally:
        w.stop()
    f = figures(list(w.acks), "primary", "standby", writer.survivors(standby.dsn()))
    print(f"\n{mode}: {f.as_dict() | {'lost': f.lost[:10]}}")
    assert f.acks_old >= 300 and f.acks_new >= 50
    assert f.rto_s > 0  # the new primary's first write came after the old one's last
    # every commit acknowledged by the new primary is there (the witness's own consistency)
    assert {a.seq for a in w.acks if a.server == "standby"} <= writer.survivors(standby.dsn())
    if mode == "sync":
        assert f.rpo_commits == 0 and f.lost == ()  # synchronous: nothing acknowledged is lost
    else:
        assert f.rpo_commits == len(f.lost)

