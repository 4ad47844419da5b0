"""The exchange-zone side: find complete batches in the outbox, send each as FEC-coded UDP datagrams, paced.

It never reads a socket: there is no reply to wait for (the link drops everything coming back). Reliability
comes from parity inside each block and from sending every batch `rounds` times; the receiver merges shards
across rounds. The outbox is only read; the sender's own journal (outside the outbox) records the rounds
sent, so a restarted sender carries on where it stopped instead of starting over.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import JinbaoError
from network.ferry import container, fec, journal, wire
from network.ferry.manifest import MANIFEST_NAME
from network.ferry.verify import Verdict, check_batch

JOURNAL = "sender.jsonl"


class SendError(JinbaoError):
    pass


@dataclass(frozen=True)
class SendOptions:
    host: str
    port: int
    rate_mbit: float = 200.0
    k: int = 32
    parity: int = 12
    shard_size: int = wire.DEFAULT_SHARD
    rounds: int = 2
    round_gap: float = 1.0
    window: int = 16
    max_batch_bytes: int = 256 * 2**20
    send_invalid: bool = False  # send batches that fail the checks anyway (the decision side quarantines them)

    def check(self) -> None:
        if not 1 <= self.k <= 128 or not 0 <= self.parity <= 128:
            raise SendError("--k must be 1..128 and --parity 0..128")
        if not 64 <= self.shard_size <= wire.MAX_DATAGRAM - wire.HEADER_SIZE:
            raise SendError(f"--shard-size must be 64..{wire.MAX_DATAGRAM - wire.HEADER_SIZE}")
        if self.rate_mbit <= 0 or self.rounds < 1 or self.window < 1:
            raise SendError("--rate must be > 0, --rounds and --window >= 1")


@dataclass
class Batch:
    name: str  # the outbox directory name
    blob: bytes
    key: bytes
    skipped: list[str] = field(default_factory=list)  # what the sender saw but could not pack


def complete_batches(outbox: Path) -> list[Path]:
    """Batch directories whose manifest exists: producers write the manifest last (atomically), so its
    presence marks the batch complete. Oldest manifest first."""
    found = [d for d in outbox.iterdir() if not d.name.startswith(".") and d.is_dir() and (d / MANIFEST_NAME).is_file()]
    return sorted(found, key=lambda d: ((d / MANIFEST_NAME).stat().st_mtime_ns, d.name))


def read_batch(path: Path, max_bytes: int) -> Batch:
    """Pack a batch directory as found: manifest first, then its regular files in name order."""
    entries = [(MANIFEST_NAME, (path / MANIFEST_NAME).read_bytes())]
    skipped, total = [], 0
    for f in sorted(path.iterdir(), key=lambda p: p.name):
        if f.name == MANIFEST_NAME or f.name.startswith("."):
            continue  # dot-files are a producer's temporary files
        if f.is_symlink() or not f.is_file():
            skipped.append(f.name)
            continue
        data = f.read_bytes()
        total += len(data)
        if total > max_bytes:
            raise SendError(f"{path}: batch larger than the limit ({max_bytes >> 20} MB, --max-batch-mb)")
        entries.append((f.name, data))
    blob = container.pack(entries)
    return Batch(path.name, blob, hashlib.sha256(blob).digest()[:16], skipped)


class Pacer:
    """Spaces datagrams to a bit rate; sleeps only when more than a millisecond ahead (sleep is coarse)."""

    def __init__(self, rate_mbit: float) -> None:
        self.bytes_per_s = rate_mbit * 1e6 / 8
        self.next = time.perf_counter()

    def wait(self, nbytes: int) -> None:
        now = time.perf_counter()
        self.next = max(self.next, now - 0.01) + nbytes / self.bytes_per_s  # no catch-up bursts after a stall
        ahead = self.next - now
        if ahead > 0.001:
            time.sleep(ahead)


def _sendto(sock: socket.socket, data: bytes, dest: tuple[str, int]) -> None:
    while True:
        try:
            sock.sendto(data, dest)
            return
        except OSError as e:
            if e.errno in (errno.ENOBUFS, errno.EAGAIN):  # the interface queue is full: wait, never drop here
                time.sleep(0.0005)
                continue
            raise SendError(f"send to {dest[0]}:{dest[1]} failed: {e.strerror or e}") from None


def send_batch(sock: socket.socket, batch: Batch, opts: SendOptions, pacer: Pacer) -> int:
    """Send one round of one batch; returns the number of datagrams sent."""
    geo = fec.Geometry(len(batch.blob), opts.shard_size, opts.k, opts.parity)
    dest, sent = (opts.host, opts.port), 0
    view = memoryview(batch.blob)
    nblocks = geo.nblocks
    for _first, blocks in fec.send_order(geo, opts.window):
        shards = {b: fec.block_shards(view, geo, b) for b in blocks}
        kn = {b: geo.block_kn(b) for b in blocks}
        for i in range(max(len(s) for s in shards.values())):
            for b in blocks:
                if i < len(shards[b]):
                    kb, nb = kn[b]
                    dgram = wire.encode(wire.Shard(batch.key, geo.object_len, b, nblocks, i, kb, nb, shards[b][i]))
                    pacer.wait(len(dgram) + 28)
                    _sendto(sock, dgram, dest)
                    sent += 1
    return sent


def invalid_batches(state: Path) -> dict[str, tuple[str, str]]:
    """Batch name -> (transfer key hex, reason) for batches the sender's own check refused."""
    return {rec["batch"]: (rec["key"], rec["reason"]) for rec in journal.load(state / JOURNAL)
            if rec.get("event") == "invalid"}


def rounds_done(state: Path) -> dict[str, tuple[str, int]]:
    """Batch name -> (transfer key hex, rounds sent) from the sender journal."""
    done: dict[str, tuple[str, int]] = {}
    for rec in journal.load(state / JOURNAL):
        if rec.get("event") == "round":
            key, r = rec["key"], int(rec["round"])
            prev = done.get(rec["batch"])
            if prev is None or prev[0] != key or prev[1] < r:
                done[rec["batch"]] = (key, r)
    return done


def _acceptable(batch: Batch, state: Path, log: Callable[[str], None]) -> bool:
    """The receiver's own checks, run before sending: nothing can tell the exchange side later that its
    batch was quarantined, so this is where its operators learn it. Refused batches are journalled once per
    content and left in the outbox untouched."""
    try:
        check_batch(batch.blob, batch.key)
        return True
    except Verdict as e:
        if invalid_batches(state).get(batch.name, ("", ""))[0] != batch.key.hex():
            journal.append(state / JOURNAL, {"event": "invalid", "batch": batch.name, "key": batch.key.hex(),
                                             "reason": str(e)})
            log(f"{batch.name}: not sent: {e}")
        return False


def run_sender(outbox: Path, state: Path, opts: SendOptions, *, once: bool = True, interval: float = 5.0,
               resend: tuple[str, ...] = (), log: Callable[[str], None] = lambda _m: None,
               stop: Callable[[], bool] = lambda: False) -> dict:
    """Send every complete batch until it has gone out `opts.rounds` times. Round-major: every pending batch
    gets round r before any gets round r+1, so a receiver that was down for one round catches the next.

    `resend` names batches to send one round more than they have had, once: the operator's answer when the
    decision side reports (by any channel outside the ferry) that a batch never arrived."""
    opts.check()
    if not outbox.is_dir():
        raise SendError(f"{outbox}: outbox is not a directory")
    for name in resend:
        if not (outbox / name / MANIFEST_NAME).is_file():
            raise SendError(f"--resend {name}: no complete batch of that name in {outbox}")
    state.mkdir(parents=True, exist_ok=True)
    try:  # resolve once: sendto() with a name would resolve it for every datagram
        opts = dataclasses.replace(opts, host=socket.gethostbyname(opts.host))
    except OSError as e:
        raise SendError(f"--to {opts.host}: cannot resolve ({e})") from None
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 2**20)
    pacer = Pacer(opts.rate_mbit)
    summary = {"batches": 0, "rounds": 0, "datagrams": 0, "bytes": 0}
    extra = {name: rounds_done(state).get(name, ("", 0))[1] + 1 for name in resend}
    try:
        while True:
            done = rounds_done(state)

            def target(name: str) -> int:
                return max(opts.rounds, extra.get(name, 0))

            pending = [d for d in complete_batches(outbox) if done.get(d.name, ("", 0))[1] < target(d.name)]
            last = max((target(d.name) for d in pending), default=0)
            for r in range(1, last + 1):
                sent_this_round = False
                for d in pending:
                    if stop():
                        return summary
                    key_hex, n = done.get(d.name, ("", 0))
                    if n >= r or r > target(d.name):
                        continue
                    try:
                        batch = read_batch(d, opts.max_batch_bytes)
                    except (OSError, SendError) as e:  # removed meanwhile, unreadable, too big: the others go on
                        log(f"{d.name}: not sent: {e}")
                        continue
                    if not opts.send_invalid and not _acceptable(batch, state, log):
                        continue
                    if batch.key.hex() != key_hex and n:
                        log(f"{d.name}: content changed since round {n}; sending it as a new transfer")
                        n = 0
                    if batch.skipped:
                        log(f"{d.name}: not a regular file, not sent: {', '.join(batch.skipped)}")
                    t0 = time.perf_counter()
                    count = send_batch(sock, batch, opts, pacer)
                    dt = time.perf_counter() - t0
                    journal.append(state / JOURNAL, {"event": "round", "batch": d.name, "key": batch.key.hex(),
                                                     "round": n + 1, "datagrams": count, "bytes": len(batch.blob)})
                    done[d.name] = (batch.key.hex(), n + 1)
                    summary["rounds"] += 1
                    summary["datagrams"] += count
                    summary["bytes"] += len(batch.blob)
                    sent_this_round = True
                    log(f"{d.name}: round {n + 1}/{target(d.name)}, {len(batch.blob)} bytes in {count} datagrams, "
                        f"{len(batch.blob) / max(dt, 1e-6) / 1e6:.1f} MB/s")
                if sent_this_round and r < last:
                    time.sleep(opts.round_gap)
            extra.clear()  # a resend is one extra round, not a new standing target
            summary["batches"] = len(rounds_done(state))
            if once or stop():
                return summary
            time.sleep(interval)
    finally:
        sock.close()
