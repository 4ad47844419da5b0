"""The decision-zone side: datagrams in, verified batches out into the inbox, everything else to quarantine.

It only binds a socket and never sends (nothing could get back anyway). It writes only inside its own
directories (inbox, quarantine, state), all on the decision side. A batch appears in the inbox by one rename
of a fully written, fsync'd directory, and the journal records the delivery; on restart the journal (and the
inbox itself, for a crash between the rename and the journal line) says what was delivered, so a batch
heard again in a later round is recognised and dropped: delivery is idempotent.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import shlex
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.fsutil import atomic_write_text
from network.ferry import container, journal, wire
from network.ferry.manifest import MANIFEST_NAME, NAME_RE, ManifestError, parse_manifest
from network.ferry.reassembly import Reassembler, Transfer
from network.ferry.verify import Verdict, check_batch

JOURNAL = "receiver.jsonl"
STATUS = "receiver-status.json"
REASON = "REASON.txt"


@dataclass(frozen=True)
class ReceiveOptions:
    bind: str = "0.0.0.0"
    port: int = 47000
    incomplete_after: float = 120.0  # seconds without a datagram before a partial transfer is given up
    max_batch_bytes: int = 256 * 2**20
    on_deliver: str | None = None  # command run with the delivered batch directory as last argument
    hook_timeout: float = 600.0


def _write_dir(final: Path, files: dict[str, bytes]) -> None:
    """Write a directory beside `final` under a dot-name, fsync it, then rename it into place."""
    tmp = final.parent / f".tmp-{final.name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, data in files.items():
        with open(tmp / name, "xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    journal.fsync_dir(tmp)
    os.rename(tmp, final)
    journal.fsync_dir(final.parent)


def delivered_key(d: Path) -> str:
    """The transfer key (hex) of a batch directory as delivered: the container the sender packed from it."""
    raw = (d / MANIFEST_NAME).read_bytes()
    man = parse_manifest(raw)
    blob = container.pack([(MANIFEST_NAME, raw)] + [(f.name, (d / f.name).read_bytes())
                                                     for f in sorted(man.files, key=lambda f: f.name)])
    return hashlib.sha256(blob).digest()[:16].hex()


class Receiver:
    def __init__(self, inbox: Path, quarantine: Path, state: Path, opts: ReceiveOptions,
                 log: Callable[[str], None] = lambda _m: None) -> None:
        self.inbox, self.quarantine, self.state, self.opts, self.log = inbox, quarantine, state, opts, log
        for d in (inbox, quarantine, state):
            d.mkdir(parents=True, exist_ok=True)
        self.journal = state / JOURNAL
        self.reasm = Reassembler(opts.max_batch_bytes)
        self.counters = {"datagrams": 0, "bad_datagrams": 0, "late_datagrams": 0, "delivered": 0,
                         "duplicates_suppressed": 0, "quarantined": 0, "incomplete": 0, "recovered_blocks": 0}
        self.delivered: dict[str, str] = {}  # batch_id -> key hex
        self.finished: set[bytes] = set()  # keys delivered or judged: later rounds of them are ignored
        self.hooked: set[str] = set()
        self.first_datagram: float | None = None  # wall clock, for throughput figures
        self.last_delivery: float | None = None
        self.hooks: queue.Queue[str | None] = queue.Queue()
        self._recover()

    # -- state -------------------------------------------------------------------------------------
    def _recover(self) -> None:
        for d in (self.inbox, self.quarantine):  # half-written directories of a crash: never counted
            for tmp in d.glob(".tmp-*"):
                shutil.rmtree(tmp, ignore_errors=True)
        for rec in journal.load(self.journal):
            ev = rec.get("event")
            if ev == "delivered":
                self.delivered[rec["batch_id"]] = rec["key"]
                self.finished.add(bytes.fromhex(rec["key"]))
            elif ev == "quarantined" and rec.get("final"):
                self.finished.add(bytes.fromhex(rec["key"]))
            elif ev == "hook" and rec.get("ok"):
                self.hooked.add(rec["batch_id"])
        for d in sorted(self.inbox.iterdir()):
            # renamed into place, then the crash came before the journal line: the batch is delivered
            if d.is_dir() and not d.name.startswith(".") and d.name not in self.delivered:
                try:
                    key = self._key_of_delivered(d)
                except (OSError, ManifestError) as e:  # changed by hand since: keep it delivered, say so
                    key = "0" * 32
                    self.log(f"inbox/{d.name}: not in the journal and cannot be re-keyed ({e})")
                journal.append(self.journal, {"event": "delivered", "batch_id": d.name, "key": key,
                                              "recovered": True})
                self.delivered[d.name] = key
                self.finished.add(bytes.fromhex(key))
        if self.opts.on_deliver:
            for batch_id in self.delivered:
                if batch_id not in self.hooked:
                    self.hooks.put(batch_id)

    def _key_of_delivered(self, d: Path) -> str:
        return delivered_key(d)

    # -- outcomes ----------------------------------------------------------------------------------
    def _quarantine(self, key: bytes, reason: str, files: dict[str, bytes], batch_id: str | None,
                    final: bool, extra: dict | None = None) -> Path:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        dest = self.quarantine / f"{batch_id or 'unknown'}-{key.hex()[:12]}-{stamp}"
        n = 1
        while dest.exists():
            n += 1
            dest = dest.with_name(f"{dest.name.split('~')[0]}~{n}")
        info = {"reason": reason, "key": key.hex(), "batch_id": batch_id, "final": final, **(extra or {})}
        safe = {}
        for i, (name, data) in enumerate(files.items()):
            ok = NAME_RE.match(name) and name not in (REASON, "reason.json")  # names from outside: no paths
            safe[name if ok else f"entry-{i}.bin"] = data
        safe[REASON] = (reason + "\n").encode()
        safe["reason.json"] = (json.dumps(info, ensure_ascii=False, indent=1) + "\n").encode()
        _write_dir(dest, safe)
        journal.append(self.journal, {"event": "quarantined", "dir": dest.name, **info})
        if final:
            self.finished.add(key)
        self.counters["quarantined"] += 1
        self.log(f"quarantined {dest.name}: {reason}")
        return dest

    def _complete(self, t: Transfer) -> None:
        blob = bytes(t.data)
        self.counters["recovered_blocks"] += t.recovered
        try:
            man, raw, files = check_batch(blob, t.key)
        except Verdict as e:
            try:
                entries = dict(container.unpack(blob))
            except container.ContainerError:
                entries = {"transfer.bin": blob}
            bid = None
            with contextlib.suppress(ManifestError):
                bid = parse_manifest(entries.get(MANIFEST_NAME, b"")).batch_id
            self._quarantine(t.key, str(e), entries, bid, final=True)
            return
        prev = self.delivered.get(man.batch_id)
        if prev == t.key.hex():
            self.counters["duplicates_suppressed"] += 1
            self.finished.add(t.key)
            return
        if prev is not None or (self.inbox / man.batch_id).exists():
            self._quarantine(t.key, f"batch_id {man.batch_id} already delivered with different content",
                             {MANIFEST_NAME: raw, **files}, man.batch_id, final=True)
            return
        _write_dir(self.inbox / man.batch_id, {**files, MANIFEST_NAME: raw})
        journal.append(self.journal, {"event": "delivered", "batch_id": man.batch_id, "key": t.key.hex(),
                                      "files": len(files), "bytes": man.total_bytes,
                                      "recovered_blocks": t.recovered, "datagrams": t.datagrams})
        self.delivered[man.batch_id] = t.key.hex()
        self.finished.add(t.key)
        self.counters["delivered"] += 1
        self.last_delivery = time.time()
        self.log(f"delivered {man.batch_id}: {len(files)} files, {man.total_bytes} bytes"
                 f" ({t.recovered} blocks rebuilt from parity)")
        if self.opts.on_deliver:
            self.hooks.put(man.batch_id)

    def _incomplete(self, t: Transfer, why: str) -> None:
        self.counters["incomplete"] += 1
        missing = t.nblocks - len(t.done)
        self._quarantine(t.key, f"incomplete: {missing} of {t.nblocks} blocks could not be rebuilt ({why})",
                         {}, None, final=False, extra=t.progress())

    # -- input -------------------------------------------------------------------------------------
    def handle(self, dgram: bytes, now: float) -> None:
        self.counters["datagrams"] += 1
        if self.first_datagram is None:
            self.first_datagram = time.time()
        try:
            s = wire.decode(dgram)
        except wire.WireError:
            self.counters["bad_datagrams"] += 1
            return
        if s.key in self.finished:
            self.counters["late_datagrams"] += 1
            return
        done, evicted = self.reasm.feed(s, now)
        for t in evicted:
            self._incomplete(t, "evicted: too many transfers at once")
        if done is not None:
            self._complete(done)

    def tick(self, now: float) -> None:
        for t in self.reasm.expire(now, self.opts.incomplete_after):
            self._incomplete(t, f"nothing heard for {self.opts.incomplete_after:g} s")

    def status(self) -> dict:
        return {"role": "receiver", "pid": os.getpid(), "updated": journal.now_iso(), **self.counters,
                "bad_datagrams": self.counters["bad_datagrams"] + self.reasm.inconsistent,
                "first_datagram": self.first_datagram, "last_delivery": self.last_delivery,
                "in_progress": [t.progress() for t in self.reasm.transfers.values()]}

    # -- delivery hook -----------------------------------------------------------------------------
    def _hook_worker(self) -> None:
        while (batch_id := self.hooks.get()) is not None:
            cmd = [*shlex.split(self.opts.on_deliver or ""), str(self.inbox / batch_id)]
            env = {**os.environ, "JINBAO_FERRY_BATCH_ID": batch_id,
                   "JINBAO_FERRY_BATCH_DIR": str(self.inbox / batch_id)}
            try:
                rc = subprocess.run(cmd, env=env, timeout=self.opts.hook_timeout, check=False,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).returncode
            except (OSError, subprocess.TimeoutExpired):
                rc = -1  # could not start, or ran past the timeout: recorded as failed, retried on restart
            journal.append(self.journal, {"event": "hook", "batch_id": batch_id, "ok": rc == 0, "rc": rc})
            self.log(f"hook for {batch_id}: exit {rc}")

    # -- the loop ----------------------------------------------------------------------------------
    def serve(self, stop: Callable[[], bool] | None = None) -> dict:
        stopping = threading.Event()
        if stop is None:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stopping.set())
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUFFORCE, 32 * 2**20)
        except (OSError, AttributeError):  # not root: the ordinary option, capped by net.core.rmem_max
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 2**20)
        sock.bind((self.opts.bind, self.opts.port))
        sock.settimeout(0.2)
        worker = threading.Thread(target=self._hook_worker, daemon=True)
        worker.start()
        self.log(f"listening on {self.opts.bind}:{self.opts.port}, {len(self.delivered)} batches delivered before")
        last_tick = 0.0
        try:
            while not stopping.is_set() and not (stop and stop()):
                try:
                    dgram = sock.recv(wire.MAX_DATAGRAM + 64)
                    self.handle(dgram, time.monotonic())
                except TimeoutError:
                    pass
                now = time.monotonic()
                if now - last_tick >= 0.5:
                    last_tick = now
                    self.tick(now)
                    atomic_write_text(self.state / STATUS, json.dumps(self.status(), indent=1) + "\n")
        finally:
            sock.close()
            self.hooks.put(None)
            worker.join(timeout=self.opts.hook_timeout)
            atomic_write_text(self.state / STATUS, json.dumps(self.status(), indent=1) + "\n")
        return self.status()
