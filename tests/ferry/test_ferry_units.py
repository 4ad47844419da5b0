"""Ferry pieces without the one-way link: FEC, reassembly under loss, manifest schema, verdicts, journals,
and a whole send/receive over loopback UDP (real sockets; the namespace test is in test_ferry_lab.py)."""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from network.ferry import container, fec, wire
from network.ferry.manifest import SCHEMA, ManifestError, build_manifest, parse_manifest
from network.ferry.outbox import OutboxError, stage_batch
from network.ferry.reassembly import Reassembler
from network.ferry.receiver import JOURNAL, ReceiveOptions, Receiver
from network.ferry.sender import SendError, SendOptions, invalid_batches, read_batch, rounds_done, run_sender
from network.ferry.verify import Verdict, check_batch


def _shards(blob: bytes, k: int, parity: int, size: int = 200) -> list[wire.Shard]:
    key = hashlib.sha256(blob).digest()[:16]
    geo = fec.Geometry(len(blob), size, k, parity)
    out = []
    for b in range(geo.nblocks):
        kb, nb = geo.block_kn(b)
        out += [wire.Shard(key, len(blob), b, geo.nblocks, i, kb, nb, s)
                for i, s in enumerate(fec.block_shards(blob, geo, b))]
    return out


@pytest.mark.parametrize("length", [1, 199, 200, 201, 32 * 200, 32 * 200 + 1, 100_003])
def test_fec_rebuilds_from_any_k_shards(length: int) -> None:
    rng = random.Random(length)
    blob = rng.randbytes(length)
    shards = _shards(blob, 8, 3)
    r = Reassembler()
    by_block: dict[int, list[wire.Shard]] = {}
    for s in shards:
        by_block.setdefault(s.block, []).append(s)
    done = None
    for _b, group in sorted(by_block.items()):
        k, n = group[0].k, group[0].n
        lost = set(rng.sample(range(n), n - k))  # lose as many as parity allows, data shards included
        for s in group:
            if s.index not in lost:
                t, _ = r.feed(wire.decode(wire.encode(s)), 0.0)
                done = t or done
    assert done is not None and bytes(done.data) == blob


def test_one_loss_too_many_leaves_the_transfer_incomplete() -> None:
    blob = random.Random(1).randbytes(5000)
    shards = _shards(blob, 8, 2)
    r = Reassembler()
    kept = [s for s in shards if not (s.block == 1 and s.index in (0, 3, 9))]  # 3 lost, parity 2
    results = [r.feed(s, 1.0)[0] for s in kept]
    assert not any(results)
    gone = r.expire(100.0, 30.0)
    assert len(gone) == 1 and 1 not in gone[0].done and len(gone[0].done) == gone[0].nblocks - 1


def test_wire_rejects_corruption() -> None:
    d = bytearray(wire.encode(_shards(b"hello world", 4, 1)[0]))
    d[-1] ^= 1
    with pytest.raises(wire.WireError, match="CRC"):
        wire.decode(bytes(d))
    with pytest.raises(wire.WireError):
        wire.decode(b"JBF1")


def _manifest(**over: object) -> bytes:
    doc = {"schema": SCHEMA, "batch_id": "b1", "created": "2026-12-02T00:00:00Z",
           "files": [{"name": "a.csv", "size": 3, "sha256": hashlib.sha256(b"abc").hexdigest()}]}
    doc.update(over)
    return json.dumps(doc).encode()


@pytest.mark.parametrize(("raw", "msg"), [
    (b"{", "not valid UTF-8 JSON"),
    (_manifest(schema="x"), "schema: expected"),
    (_manifest(batch_id="../etc"), "batch_id"),
    (_manifest(files=[]), "files: must be a non-empty list"),
    (_manifest(extra=1), "unknown key 'extra'"),
    (_manifest(files=[{"name": "../x", "size": 1, "sha256": "0" * 64}]), r"files\[0\].name"),
    (_manifest(files=[{"name": "x", "size": -1, "sha256": "0" * 64}]), r"files\[0\].size"),
    (_manifest(files=[{"name": "x", "size": 1, "sha256": "0" * 63}]), r"files\[0\].sha256"),
    (_manifest(files=[{"name": "x", "size": 1}]), "missing key 'sha256'"),
    (_manifest(files=[{"name": "x", "size": 1, "sha256": "0" * 64}] * 2), "listed twice"),
])
def test_manifest_schema_errors(raw: bytes, msg: str) -> None:
    with pytest.raises(ManifestError, match=msg):
        parse_manifest(raw)


def _blob(files: dict[str, bytes], manifest: bytes | None = None) -> tuple[bytes, bytes]:
    man = manifest if manifest is not None else build_manifest("b1", "t", files)
    blob = container.pack([("manifest.json", man), *sorted(files.items())])
    return blob, hashlib.sha256(blob).digest()[:16]


@pytest.mark.parametrize(("files", "tamper", "reason"), [
    ({"a.csv": b"abc"}, {"a.csv": b"abd"}, "a.csv: SHA-256"),
    ({"a.csv": b"abcdef"}, {"a.csv": b"abc"}, "a.csv: size 3 bytes, manifest.json says 6"),
    ({"a.csv": b"abc"}, {"a.csv": b"abc", "b.csv": b"x"}, "b.csv: present but not listed"),
    ({"a.csv": b"abc", "b.csv": b"x"}, {"a.csv": b"abc"}, "b.csv: listed in manifest.json but missing"),
])
def test_verdicts(files: dict[str, bytes], tamper: dict[str, bytes], reason: str) -> None:
    man = build_manifest("b1", "t", files)
    blob, key = _blob(tamper, man)
    with pytest.raises(Verdict, match=reason):
        check_batch(blob, key)
    good, gkey = _blob(files)
    assert check_batch(good, gkey)[0].batch_id == "b1"


def test_stage_batch_writes_manifest_last_and_refuses_restaging(tmp_path: Path) -> None:
    d = stage_batch(tmp_path, "b1", {"a.csv": b"1,2\n"})
    assert parse_manifest((d / "manifest.json").read_bytes()).files[0].size == 4
    with pytest.raises(OutboxError, match="already staged"):
        stage_batch(tmp_path, "b1", {"a.csv": b"x"})
    with pytest.raises(ValueError, match="name"):
        stage_batch(tmp_path, "b2", {"../a": b"x"})
    assert not (tmp_path / "b2").exists()


def _free_port() -> int:
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_loopback_round_trip_idempotent_and_resumed(tmp_path: Path) -> None:
    """Real UDP on loopback: two batches and a tampered one; a second sender run with more rounds, and a
    receiver restarted on the same state, deliver nothing twice."""
    outbox, sstate = tmp_path / "outbox", tmp_path / "sstate"
    inbox, quar, rstate = tmp_path / "inbox", tmp_path / "quarantine", tmp_path / "rstate"
    rng = random.Random(7)
    payloads = {f"b{i}": {"data.bin": rng.randbytes(50_000 + i), "note.txt": b"n%d" % i} for i in range(2)}
    for bid, files in payloads.items():
        stage_batch(outbox, bid, files)
    bad = stage_batch(outbox, "bad", {"x.csv": b"0123456789"})
    (bad / "x.csv").write_bytes(b"01234")  # truncated after the manifest was written
    port = _free_port()

    def start_rx() -> tuple[Receiver, threading.Event, threading.Thread]:
        (rstate / "receiver-status.json").unlink(missing_ok=True)
        rx = Receiver(inbox, quar, rstate, ReceiveOptions(bind="127.0.0.1", port=port))
        stop = threading.Event()
        th = threading.Thread(target=rx.serve, kwargs={"stop": stop.is_set})
        th.start()
        deadline = time.time() + 10  # the status file is first written once the socket is bound
        while not (rstate / "receiver-status.json").exists() and time.time() < deadline:
            time.sleep(0.02)
        return rx, stop, th

    rx, stop, th = start_rx()
    opts = SendOptions("127.0.0.1", port, rate_mbit=50, k=8, parity=2, rounds=1, round_gap=0, send_invalid=True)
    run_sender(outbox, sstate, opts)
    deadline = time.time() + 10
    while time.time() < deadline and rx.counters["delivered"] + rx.counters["quarantined"] < 3:
        time.sleep(0.05)
    stop.set()
    th.join()
    assert sorted(p.name for p in inbox.iterdir()) == ["b0", "b1"]
    for bid, files in payloads.items():
        for name, data in files.items():
            assert (inbox / bid / name).read_bytes() == data
    [q] = list(quar.iterdir())
    assert "x.csv: size 5 bytes, manifest.json says 10" in (q / "REASON.txt").read_text()

    # round 2 after a receiver restart: everything heard again, nothing delivered or quarantined twice
    rx2, stop2, th2 = start_rx()
    run_sender(outbox, sstate, SendOptions("127.0.0.1", port, rate_mbit=50, k=8, parity=2, rounds=2, round_gap=0,
                                           send_invalid=True))
    time.sleep(1.0)
    stop2.set()
    th2.join()
    assert rounds_done(sstate) == {b: (read_batch(outbox / b, 2**30).key.hex(), 2) for b in ("b0", "b1", "bad")}
    assert rx2.counters["delivered"] == 0 and rx2.counters["quarantined"] == 0
    assert rx2.counters["late_datagrams"] > 0
    events = [json.loads(line) for line in (rstate / JOURNAL).read_text().splitlines()]
    assert sorted(e["batch_id"] for e in events if e["event"] == "delivered") == ["b0", "b1"]
    assert len(list(quar.iterdir())) == 1


def test_crash_between_rename_and_journal_is_recovered(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    files = {"a.csv": b"abc"}
    man = build_manifest("b9", "t", files)
    (inbox / "b9").mkdir(parents=True)
    (inbox / "b9" / "a.csv").write_bytes(b"abc")
    (inbox / "b9" / "manifest.json").write_bytes(man)
    (inbox / ".tmp-b10").mkdir()  # half-written by the crash
    rx = Receiver(inbox, tmp_path / "q", tmp_path / "s", ReceiveOptions())
    assert rx.delivered == {"b9": _blob(files, man)[1].hex()}
    assert not (inbox / ".tmp-b10").exists()


def test_torn_journal_line_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / JOURNAL).write_text('{"event": "delivered", "batch_id": "a", "key": "00"}\n{"event": "deliv')
    rx = Receiver(tmp_path / "i", tmp_path / "q", tmp_path / "s", ReceiveOptions())
    assert rx.delivered == {"a": "00"}
    assert os.path.isdir(tmp_path / "i")


def test_hook_not_yet_run_before_a_crash_runs_on_restart(tmp_path: Path) -> None:
    files = {"a.csv": b"abc"}
    man = build_manifest("b5", "t", files)
    (tmp_path / "inbox" / "b5").mkdir(parents=True)
    (tmp_path / "inbox" / "b5" / "a.csv").write_bytes(b"abc")
    (tmp_path / "inbox" / "b5" / "manifest.json").write_bytes(man)
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / JOURNAL).write_text(json.dumps({"event": "delivered", "batch_id": "b5",
                                                      "key": _blob(files, man)[1].hex()}) + "\n")
    out = tmp_path / "hook.out"
    opts = ReceiveOptions(bind="127.0.0.1", port=_free_port(), on_deliver=f"sh -c 'echo $1 >> {out}' hook")
    rx = Receiver(tmp_path / "inbox", tmp_path / "q", tmp_path / "s", opts)
    deadline = time.time() + 5
    rx.serve(stop=lambda: out.exists() or time.time() > deadline)
    time.sleep(0.2)
    assert out.read_text().split() == [str(tmp_path / "inbox" / "b5")]
    events = [json.loads(x) for x in (tmp_path / "s" / JOURNAL).read_text().splitlines()]
    assert [e["ok"] for e in events if e["event"] == "hook"] == [True]


def _jinbao(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jinbao.cli", "ferry", *args], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[2], timeout=60, check=False)


@pytest.mark.parametrize(("args", "msg"), [
    (["send", "--outbox", "/nonexistent", "--to", "127.0.0.1:9", "--state", "{tmp}/s"], "outbox is not a directory"),
    (["send", "--outbox", "{tmp}", "--to", "nonsense", "--state", "{tmp}/s"], "--to: 'nonsense' is not HOST:PORT"),
    (["send", "--outbox", "{tmp}", "--to", "127.0.0.1:9", "--state", "{tmp}/s", "--k", "0"], "--k must be"),
    (["receive", "--listen", "127.0.0.1:x", "--inbox", "{tmp}/i", "--quarantine", "{tmp}/q", "--state", "{tmp}/s"],
     "--listen"),
    (["status", "--state", "/nonexistent"], "--state: not a directory"),
    (["stage", "--outbox", "{tmp}/o", "--batch-id", "../x", "{tmp}/f"], "batch id '../x'"),
])
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], msg: str) -> None:
    (tmp_path / "f").write_text("x")
    r = _jinbao(*[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert r.returncode == 2, r.stderr
    assert msg in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "o").exists() and not (tmp_path / "i").exists()


def test_cli_stage_and_status(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("1,2\n")
    r = _jinbao("stage", "--outbox", str(tmp_path / "o"), "--batch-id", "b1", str(tmp_path / "a.csv"), "--json")
    assert r.returncode == 0, r.stderr
    assert parse_manifest((tmp_path / "o" / "b1" / "manifest.json").read_bytes()).files[0].name == "a.csv"
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / JOURNAL).write_text(json.dumps({"event": "delivered", "batch_id": "b1", "key": "00",
                                                      "at": "t"}) + "\n")
    r = _jinbao("status", "--state", str(tmp_path / "s"), "--json")
    assert json.loads(r.stdout)["receiver"]["delivered"] == 1


def test_sender_refuses_an_invalid_batch_and_says_why_once(tmp_path: Path) -> None:
    outbox, state = tmp_path / "outbox", tmp_path / "s"
    bad = stage_batch(outbox, "bad", {"x.csv": b"0123456789"})
    (bad / "x.csv").write_bytes(b"0123456780")
    logs: list[str] = []
    opts = SendOptions("127.0.0.1", _free_port(), rounds=1, round_gap=0)
    for _ in range(2):
        summary = run_sender(outbox, state, opts, log=logs.append)
        assert summary["datagrams"] == 0
    assert invalid_batches(state) == {"bad": (read_batch(bad, 2**20).key.hex(),
                                              "x.csv: SHA-256 " + hashlib.sha256(b"0123456780").hexdigest()
                                              + " does not match manifest.json")}
    assert len(logs) == 1 and logs[0].startswith("bad: not sent: x.csv: SHA-256")
    assert rounds_done(state) == {}


def test_watch_mode_sends_batches_staged_later(tmp_path: Path) -> None:
    outbox, state = tmp_path / "outbox", tmp_path / "s"
    outbox.mkdir()
    stop = threading.Event()
    opts = SendOptions("127.0.0.1", _free_port(), rounds=1, round_gap=0)
    th = threading.Thread(target=run_sender, args=(outbox, state, opts),
                          kwargs={"once": False, "interval": 0.1, "stop": stop.is_set})
    th.start()
    try:
        time.sleep(0.3)
        stage_batch(outbox, "late", {"a.csv": b"1\n"})
        deadline = time.time() + 10
        while "late" not in rounds_done(state) and time.time() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        th.join(timeout=10)
    assert rounds_done(state)["late"][1] == 1
    assert not th.is_alive()


def test_resend_adds_one_round_to_the_named_batch_only(tmp_path: Path) -> None:
    outbox, state = tmp_path / "outbox", tmp_path / "s"
    for b in ("b1", "b2"):
        stage_batch(outbox, b, {"a.csv": b.encode()})
    opts = SendOptions("127.0.0.1", _free_port(), rounds=1, round_gap=0)
    run_sender(outbox, state, opts)
    run_sender(outbox, state, opts)  # nothing left to do
    assert {b: n for b, (_k, n) in rounds_done(state).items()} == {"b1": 1, "b2": 1}
    run_sender(outbox, state, opts, resend=("b1",))
    assert {b: n for b, (_k, n) in rounds_done(state).items()} == {"b1": 2, "b2": 1}
    with pytest.raises(SendError, match="--resend nope: no complete batch"):
        run_sender(outbox, state, opts, resend=("nope",))
