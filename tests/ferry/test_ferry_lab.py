"""The ferry across a real one-way link: two namespaces, a veth whose reverse direction is dropped at netdev
ingress, static neighbours, no route back. Sender and receiver are the real CLI in their own namespaces.

Proves: nothing can travel back; batches arrive intact at 0, 1 and 5 % injected loss with no duplicate;
a receiver killed mid-transfer and a sender killed mid-round lose and duplicate nothing; tampered, truncated,
malformed and incomplete batches land in quarantine with their reasons; the outbox is never written; the
pension macro-analysis upload crosses into a real PostgreSQL 15 decision database in the receiving namespace,
loaded by the delivery hook once, bad CSV and quarantined batches never.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jinbao.labrun import pension_upload
from lab.ferry_link import RX_ADDR, TX_ADDR, OneWayLink
from lab.sh import run
from network.ferry.load import LOG_TABLE, region_totals
from network.ferry.outbox import stage_batch, stage_paths
from tests.ferry.decisiondb import DecisionDb, decision_db, query, run_schema
from tests.lablock import lab_lock

pytestmark = [pytest.mark.integration, pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces)")]

ROOT = Path(__file__).resolve().parents[2]
PROCS: list[subprocess.Popen] = []


@pytest.fixture(scope="module")
def link() -> Iterator[OneWayLink]:
    with lab_lock():
        lk = OneWayLink(f"t{os.getpid() % 100000}")
        lk.up()
        try:
            yield lk
        finally:
            for p in PROCS:  # every process this module started, by its own PID
                if p.poll() is None:
                    p.kill()
                    p.wait(timeout=10)
            lk.down()
            assert not lk.exists()


@pytest.fixture(autouse=True)
def _no_loss(link: OneWayLink) -> None:
    link.set_loss(0)


def _cli(link: OneWayLink, side: str, args: list[str], log: Path, env: dict[str, str] | None = None
         ) -> subprocess.Popen:
    fh = open(log, "ab")  # noqa: SIM115 -- lives as long as the process
    p = subprocess.Popen([*link.ns(side), sys.executable, "-m", "jinbao.cli", "ferry", *args], cwd=ROOT,
                         stdout=fh, stderr=subprocess.STDOUT, env=env)
    PROCS.append(p)
    return p


class Side:
    def __init__(self, link: OneWayLink, base: Path, port: int) -> None:
        self.link, self.base, self.port = link, base, port
        self.outbox, self.sstate = base / "exchange" / "outbox", base / "exchange" / "state"
        self.inbox, self.quar, self.rstate = base / "decision" / "inbox", base / "decision" / "quarantine", \
            base / "decision" / "state"
        self.outbox.mkdir(parents=True)

    def receiver(self, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        p = _cli(self.link, "rx", ["receive", "--listen", f"{RX_ADDR}:{self.port}", "--inbox", str(self.inbox),
                                   "--quarantine", str(self.quar), "--state", str(self.rstate), *extra],
                 self.base / "receiver.log", env)
        wait_for(lambda: (self.rstate / "receiver-status.json").exists() or p.poll() is not None, 15)
        assert p.poll() is None, (self.base / "receiver.log").read_text()
        return p

    def sender(self, *extra: str, wait: bool = True) -> subprocess.Popen:
        p = _cli(self.link, "tx", ["send", "--outbox", str(self.outbox), "--to", f"{RX_ADDR}:{self.port}",
                                   "--state", str(self.sstate), "--round-gap", "0.2", *extra],
                 self.base / "sender.log")
        if wait:
            assert p.wait(timeout=120) == 0, (self.base / "sender.log").read_text()
        return p

    def events(self, kind: str) -> list[dict]:
        path = self.rstate / "receiver.jsonl"
        if not path.exists():
            return []
        return [e for e in map(json.loads, path.read_text().splitlines()) if e["event"] == kind]

    def sent_rounds(self, kind: str = "round") -> list[dict]:
        path = self.sstate / "sender.jsonl"
        recs = [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []
        return [r for r in recs if r["event"] == kind]

    def live(self) -> dict:
        return json.loads((self.rstate / "receiver-status.json").read_text())


def wait_for(pred: Callable[[], bool], timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def stop(p: subprocess.Popen) -> None:
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=20) == 0


def tree(d: Path) -> dict[str, tuple[str, int, int]]:
    return {str(f.relative_to(d)): (hashlib.sha256(f.read_bytes()).hexdigest(), f.stat().st_mtime_ns,
                                    f.stat().st_mode) for f in sorted(d.rglob("*")) if f.is_file()} | \
        {str(x.relative_to(d)) + "/": ("dir", x.stat().st_mtime_ns, x.stat().st_mode) for x in d.rglob("*")
         if x.is_dir()}


def stage(side: Side, n: int, size: int, seed: int, prefix: str = "b") -> dict[str, dict[str, bytes]]:
    rng = random.Random(seed)
    batches = {}
    for i in range(n):
        files = {"pension-macro.csv": b"region,insured,fund\n" + b"%d,%d,%d\n" % (i, rng.randrange(10**7), i) * 50,
                 "payload.bin": rng.randbytes(size + i)}
        stage_batch(side.outbox, f"{prefix}{i:02d}", files, source="exchange/100000")
        batches[f"{prefix}{i:02d}"] = files
    return batches


def assert_delivered(side: Side, batches: dict[str, dict[str, bytes]]) -> None:
    assert sorted(p.name for p in side.inbox.iterdir()) == sorted(batches)
    for bid, files in batches.items():
        assert sorted(p.name for p in (side.inbox / bid).iterdir()) == sorted([*files, "manifest.json"])
        for name, data in files.items():
            assert (side.inbox / bid / name).read_bytes() == data, f"{bid}/{name} differs"
    ids = [e["batch_id"] for e in side.events("delivered")]
    assert sorted(ids) == sorted(batches), f"delivered more than once or not at all: {ids}"


# -- the link itself -----------------------------------------------------------------------------------
def test_nothing_travels_back(link: OneWayLink, tmp_path: Path) -> None:
    rx, tx = link.ns("rx"), link.ns("tx")
    # the receiver has no route to the sender at all
    assert run([*rx, "ip", "route", "get", TX_ADDR], check=False).returncode != 0
    assert run([*rx, "ping", "-c", "1", "-W", "1", TX_ADDR], check=False).returncode != 0
    neigh = run([*tx, "ip", "neigh", "show", "dev", link.tx_dev]).stdout
    assert RX_ADDR in neigh and "PERMANENT" in neigh
    # even with a stray route (a misconfiguration or an intruder), frames die at the sender end's ingress
    listener = subprocess.Popen([*tx, sys.executable, "-c", (
        "import socket,sys\n"
        "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(('0.0.0.0',47999)); s.settimeout(4)\n"
        "n=0\n"
        "try:\n  while True: s.recv(2000); n+=1\nexcept TimeoutError: pass\nprint(n)\n")],
        stdout=subprocess.PIPE, text=True)
    PROCS.append(listener)
    before = link.counters("tx")[0]
    run([*rx, "ip", "route", "add", f"{TX_ADDR}/32", "dev", link.rx_dev])
    try:
        ping = run([*rx, "ping", "-c", "3", "-i", "0.2", "-W", "1", TX_ADDR], check=False)
        assert ping.returncode != 0 and " 0 received" in ping.stdout
        run([*rx, sys.executable, "-c",
             "import socket; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
             f"[s.sendto(b'ack?', ('{TX_ADDR}', 47999)) for _ in range(20)]"])
    finally:
        run([*rx, "ip", "route", "del", f"{TX_ADDR}/32", "dev", link.rx_dev])
    out, _ = listener.communicate(timeout=15)
    assert out.strip() == "0", "a datagram travelled back"
    dropped = link.counters("tx")[0] - before
    assert dropped >= 23, f"the one-way ingress drop counted {dropped} frames, expected the 3 pings + 20 datagrams"


# -- delivery under loss -------------------------------------------------------------------------------
@pytest.mark.parametrize("loss", [0, 1, 5])
def test_delivery_under_loss(link: OneWayLink, tmp_path: Path, loss: int) -> None:
    side = Side(link, tmp_path, 47100 + loss)
    batches = stage(side, 4, 1_500_000, seed=loss)
    before = tree(side.outbox)
    link.set_loss(loss)
    hooklog = tmp_path / "decision" / "hook.log"  # the pluggable delivery hook: one line per delivered batch
    rx = side.receiver("--on-deliver", f"sh -c 'echo \"$JINBAO_FERRY_BATCH_ID $1\" >> {hooklog}' hook")
    try:
        side.sender("--rounds", "1", "--rate", "150", "--k", "32", "--parity", "12")
        assert wait_for(lambda: len(side.events("delivered")) >= 4, 30), side.live()
        assert wait_for(lambda: len(side.events("hook")) >= 4, 10)
        time.sleep(0.6)
        live = side.live()
    finally:
        stop(rx)
    assert_delivered(side, batches)
    assert sorted(hooklog.read_text().splitlines()) == [f"{b} {side.inbox / b}" for b in sorted(batches)]
    assert all(e["ok"] for e in side.events("hook"))
    assert not side.quar.exists() or not any(side.quar.iterdir())
    assert tree(side.outbox) == before, "the outbox was written to"
    dropped, passed = link.counters("rx")[:2] if loss else (0, link.counters("rx")[0])
    if loss:
        ratio = dropped / (dropped + passed)
        assert 0.3 * loss / 100 < ratio < 2.5 * loss / 100, f"injected loss {ratio:.3%}, meant {loss} %"
        assert live["recovered_blocks"] > 0, "loss was injected but no block needed parity"
    else:
        assert live["recovered_blocks"] == 0
    assert live["duplicates_suppressed"] == 0 and live["quarantined"] == 0


# -- interruption --------------------------------------------------------------------------------------
def test_receiver_and_sender_killed_lose_and_duplicate_nothing(link: OneWayLink, tmp_path: Path) -> None:
    side = Side(link, tmp_path, 47200)
    batches = stage(side, 6, 2_000_000, seed=42)
    link.set_loss(1)
    rx = side.receiver()
    tx = side.sender("--rounds", "1", "--rate", "40", wait=False)
    assert wait_for(lambda: len(side.events("delivered")) >= 1, 30)
    rx.kill()  # SIGKILL mid-transfer: no clean shutdown
    rx.wait(timeout=10)
    first = {e["batch_id"] for e in side.events("delivered")}
    assert tx.wait(timeout=120) == 0
    assert len(first) < len(batches), "the receiver was not killed mid-transfer"
    assert sorted(r["batch"] for r in side.sent_rounds()) == sorted(batches)  # round 1 went out in full

    rx = side.receiver()  # restarted on the same state
    try:
        # round 2, and the sender too is killed in the middle of it
        tx = side.sender("--rounds", "2", "--rate", "40", wait=False)
        assert wait_for(lambda: sum(r["round"] == 2 for r in side.sent_rounds()) >= 2, 60)
        tx.kill()
        tx.wait(timeout=10)
        partial = sum(r["round"] == 2 for r in side.sent_rounds())
        assert partial < len(batches), "the sender was not killed mid-round"
        side.sender("--rounds", "2", "--rate", "40")  # restarted: sends only what round 2 still lacks
        assert wait_for(lambda: len(side.events("delivered")) >= len(batches), 30), side.live()
        time.sleep(0.6)
        live = side.live()
    finally:
        stop(rx)
    assert_delivered(side, batches)
    round2 = [r["batch"] for r in side.sent_rounds() if r["round"] == 2]
    assert sorted(round2) == sorted(batches), f"round 2 sent twice or not at all after the sender restart: {round2}"
    assert live["late_datagrams"] > 0, "batches delivered before the crash were not recognised in round 2"
    assert live["quarantined"] == 0


# -- quarantine ----------------------------------------------------------------------------------------
def test_bad_batches_quarantined_with_reasons(link: OneWayLink, tmp_path: Path) -> None:
    side = Side(link, tmp_path, 47300)
    good = stage(side, 1, 300_000, seed=9, prefix="good")
    t = stage_batch(side.outbox, "tampered", {"a.csv": b"1,2,3\n" * 100})
    (t / "a.csv").write_bytes(b"1,2,4\n" * 100)
    t = stage_batch(side.outbox, "truncated", {"a.csv": b"x" * 5000})
    (t / "a.csv").write_bytes(b"x" * 1234)
    t = stage_batch(side.outbox, "extra", {"a.csv": b"x"})
    (t / "smuggled.sh").write_bytes(b"#!/bin/sh\n")
    (side.outbox / "schema").mkdir()
    (side.outbox / "schema" / "a.csv").write_bytes(b"x")
    (side.outbox / "schema" / "manifest.json").write_text(json.dumps(
        {"schema": "jinbao.ferry.manifest/1", "batch_id": "schema", "created": "now",
         "files": [{"name": "a.csv", "size": 1, "sha256": "nothex"}]}))
    (side.outbox / "notjson").mkdir()
    (side.outbox / "notjson" / "manifest.json").write_text("{files: oops")
    before = tree(side.outbox)
    rx = side.receiver("--incomplete-after", "2")
    try:
        # the sender's own check refuses all five and says why, on the exchange side
        side.sender("--rounds", "2", "--rate", "100")
        refused = {r["batch"]: r["reason"] for r in side.sent_rounds("invalid")}
        assert {r["batch"] for r in side.sent_rounds()} == {"good00"} and not side.events("quarantined")
        assert sorted(refused) == ["extra", "notjson", "schema", "tampered", "truncated"], refused
        assert refused["truncated"] == "a.csv: size 1234 bytes, manifest.json says 5000 (truncated or altered)"
        # a sender that does not check (a compromised or misconfigured exchange host): the decision side judges;
        # two rounds, and each bad batch is judged once
        side.sender("--rounds", "2", "--rate", "100", "--send-invalid")
        assert wait_for(lambda: len(side.events("quarantined")) >= 5 and side.events("delivered"), 20)
        time.sleep(1.0)
        reasons = {p.name.split("-")[0]: (p / "REASON.txt").read_text().strip() for p in side.quar.iterdir()}
        assert len(list(side.quar.iterdir())) == 5, reasons
        assert reasons["tampered"].startswith("a.csv: SHA-256")
        assert reasons["tampered"].endswith("does not match manifest.json")
        assert reasons["truncated"] == "a.csv: size 1234 bytes, manifest.json says 5000 (truncated or altered)"
        assert reasons["extra"] == "smuggled.sh: present but not listed in manifest.json"
        unnamed = sorted((p / "REASON.txt").read_text().strip() for p in side.quar.iterdir()
                         if p.name.startswith("unknown-"))  # no usable manifest, so no batch id to name them by
        assert len(unnamed) == 2 and unnamed[0] == "manifest.json: files[0].sha256: not 64 lower-case hex digits"
        assert unnamed[1].startswith("manifest.json: not valid UTF-8 JSON")
        assert (side.quar / next(p.name for p in side.quar.iterdir() if p.name.startswith("truncated"))
                / "a.csv").read_bytes() == b"x" * 1234  # what arrived is kept as evidence
        assert_delivered(side, good)

        # incomplete: 60 % loss beats 2 parity datagrams per 32; quarantined as incomplete, not final
        link.set_loss(60)
        lossy = stage(side, 1, 400_000, seed=3, prefix="lossy")
        side.sender("--rounds", "1", "--rate", "100", "--parity", "2")
        assert wait_for(lambda: any(p.name.startswith("unknown-") and "incomplete" in
                                    (p / "REASON.txt").read_text() for p in side.quar.iterdir()), 20)
        link.set_loss(0)
        side.sender("--rounds", "2", "--rate", "100", "--parity", "2")  # a later round still delivers it
        assert wait_for(lambda: len(side.events("delivered")) >= 2, 20)
    finally:
        stop(rx)
    assert_delivered(side, {**good, **lossy})
    assert tree(side.outbox) == {**before, **{k: v for k, v in tree(side.outbox).items() if k.startswith("lossy")}}


# -- into the decision database ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def decision(link: OneWayLink) -> Iterator[DecisionDb]:
    """jb_decision on a real PostgreSQL 15 listening on 127.0.0.1 of the receiving namespace only."""
    with decision_db(55540, netns=link.rx_ns) as db:
        yield db


def test_pension_upload_into_the_decision_database(link: OneWayLink, tmp_path: Path, decision: DecisionDb) -> None:
    import psycopg

    side = Side(link, tmp_path, 47400)
    run_schema(decision)
    regions = ["太原", "大同", "阳泉", "长治", "晋城", "朔州", "晋中", "运城"]
    files = pension_upload(tmp_path / "upload", "2026-12-01", regions)
    stage_paths(side.outbox, "pension-macro-2026-12-01", files, "exchange/100000")
    bad = [*files[1].read_text().splitlines(keepends=True)[:3], "2026-12-02,03,太原,1,2,3\n"]
    stage_batch(side.outbox, "pension-macro-2026-12-02", {"part.csv": "".join(bad).replace("2026-12-01",
                                                                                           "2026-12-02").encode()})
    t = stage_batch(side.outbox, "pension-macro-2026-12-03", {"part.csv": files[2].read_bytes()})
    (t / "part.csv").write_bytes(files[2].read_bytes().replace(b"2026-12-01", b"2026-12-03"))  # after the manifest
    # the decision host's loader as the receiver's delivery hook, password from its passfile
    env = {**os.environ, "PGPASSFILE": str(decision.passfile), "JINBAO_DECISION_DSN": decision.etl}
    load = [sys.executable, "-m", "jinbao.cli", "ferry", "load", "--inbox", str(side.inbox), "--state",
            str(side.rstate)]
    link.set_loss(1)
    rx = side.receiver("--on-deliver", " ".join(load), env=env)
    try:
        side.sender("--rounds", "2", "--rate", "100", "--send-invalid")
        assert wait_for(lambda: len(side.events("hook")) >= 2 and side.events("quarantined"), 60), side.live()
        time.sleep(1.0)
    finally:
        stop(rx)
    hooks = {e["batch_id"]: e["ok"] for e in side.events("hook")}
    assert hooks == {"pension-macro-2026-12-01": True, "pension-macro-2026-12-02": False}, hooks
    assert [e["batch_id"] for e in side.events("quarantined")] == ["pension-macro-2026-12-03"]

    expect: dict[str, int] = {}
    for f in files:
        for line in f.read_text().splitlines()[1:]:
            v = line.split(",")
            expect[v[2]] = expect.get(v[2], 0) + int(v[3])
    with psycopg.connect(decision.admin) as c:
        assert region_totals(c, "pension-macro-2026-12-01") == expect
    assert query(decision, f"SELECT batch_id, rows, loaded_by FROM {LOG_TABLE}") == [
        ("pension-macro-2026-12-01", len(regions) * 96, "dss_etl")]
    assert query(decision, "SELECT count(*), min(date)::text, max(date)::text FROM warehouse.pension_macro") == [
        (len(regions) * 96, "2026-12-01", "2026-12-01")]

    # an operator re-runs the loader over the whole inbox: nothing twice, the bad batch refused again by file and
    # line; the quarantined batch, asked for by its quarantine directory, refused
    r = subprocess.run([*link.ns("rx"), *load, "--json"], capture_output=True, text=True, cwd=ROOT, env=env,
                       timeout=120)
    assert r.returncode == 2, r.stderr
    assert [(b["batch"], b["status"]) for b in json.loads(r.stdout)["batches"]] == [
        ("pension-macro-2026-12-01", "already-loaded"), ("pension-macro-2026-12-02", "failed")]
    assert r.stderr.strip().splitlines()[-1] == \
        "error: pension-macro-2026-12-02/part.csv:4: 6 fields, the header has 11"
    qdir = next(side.quar.iterdir())
    r = subprocess.run([*link.ns("rx"), *load, str(qdir)], capture_output=True, text=True, cwd=ROOT, env=env,
                       timeout=120)
    assert r.returncode == 2 and "never loaded" in r.stderr.strip().splitlines()[-1], r.stderr
    assert query(decision, "SELECT count(*) FROM warehouse.pension_macro") == [(len(regions) * 96,)]
