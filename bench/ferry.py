"""Benchmark: the one-way ferry across a real one-way link, at 0, 1 and 5 % injected loss.

Three ways across the same link (two namespaces, reverse direction dropped at netdev ingress, loss from an
nftables `numgen random` rule on the receiver end), in the same run and with the same payload:
  - jinbao ferry: batches with manifests, Reed-Solomon parity (k 32 + 12 by default), one round;
  - plain UDP: the same tool and datagrams without parity (`--parity 0`): what FEC buys;
  - udpcast (Debian `udpcast`, the field tool OSDD uses): `udp-sender --async --fec` of one file holding the
    same bytes, no manifest, no quarantine (skipped if not installed).
Prints payload MB/s end to end (sender process start to the last batch verified in the inbox) and on the
wire (the receiver's first datagram to its last delivery; for udpcast, udp-receiver's own figure, and end to
end until the file's last write, not udp-receiver's exit 5 s of silence later), batches
delivered intact, duplicates, and ratios. No timing asserts: figures only.

    sudo .venv/bin/python bench/ferry.py [--batches 8] [--mb 24] [--rate 400] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lab.ferry_link import RX_ADDR, OneWayLink  # noqa: E402
from network.ferry.outbox import stage_batch  # noqa: E402
from tests.lablock import lab_lock  # noqa: E402

LOSSES = (0, 1, 5)


def _cli(link: OneWayLink, side: str, args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([*link.ns(side), sys.executable, "-m", "jinbao.cli", "ferry", *args], cwd=ROOT,
                            stdout=open(log, "ab"), stderr=subprocess.STDOUT)


def _delivered(state: Path) -> list[str]:
    path = state / "receiver.jsonl"
    if not path.exists():
        return []
    return [e["batch_id"] for e in map(json.loads, path.read_text().splitlines()) if e["event"] == "delivered"]


def _intact(inbox: Path, batches: dict[str, dict[str, bytes]]) -> int:
    return sum(all((inbox / b / n).is_file() and (inbox / b / n).read_bytes() == d for n, d in files.items())
               for b, files in batches.items())


def run_ferry(link: OneWayLink, work: Path, batches: dict[str, dict[str, bytes]], payload: int, rate: float,
              parity: int, port: int) -> dict:
    outbox = work / "outbox"
    for bid, files in batches.items():
        stage_batch(outbox, bid, files)
    inbox, state = work / "inbox", work / "rstate"
    rx = _cli(link, "rx", ["receive", "--listen", f"{RX_ADDR}:{port}", "--inbox", str(inbox), "--quarantine",
                           str(work / "quarantine"), "--state", str(state), "--incomplete-after", "3"],
              work / "rx.log")
    while not (state / "receiver-status.json").exists() and rx.poll() is None:
        time.sleep(0.05)
    t0 = time.monotonic()
    tx = _cli(link, "tx", ["send", "--outbox", str(outbox), "--to", f"{RX_ADDR}:{port}", "--state",
                           str(work / "sstate"), "--rounds", "1", "--rate", str(rate), "--parity", str(parity)],
              work / "tx.log")
    tx.wait(timeout=600)
    t_sent = time.monotonic()
    last = t_sent
    while time.monotonic() - t_sent < 5:  # after sending: until every batch is in, or 5 s of nothing new
        got = len(_delivered(state))
        if got >= len(batches):
            last = time.monotonic()
            break
        time.sleep(0.02)
    else:
        last = t_sent
    ids = _delivered(state)
    rx.send_signal(signal.SIGTERM)
    rx.wait(timeout=30)
    live = json.loads((state / "receiver-status.json").read_text())
    secs = last - t0
    intact = _intact(inbox, batches)
    # on the wire: the receiver's first datagram to its last delivery (no interpreter start-up in it)
    wire_s = (live["last_delivery"] - live["first_datagram"]) if live["last_delivery"] else 0.0
    return {"seconds": round(secs, 3), "mb_s": round(payload * intact / len(batches) / secs / 1e6, 2),
            "wire_mb_s": round(payload * intact / len(batches) / wire_s / 1e6, 2) if intact and wire_s else 0.0,
            "delivered": intact, "of": len(batches), "duplicates": len(ids) - len(set(ids)),
            "quarantined": live["quarantined"], "blocks_rebuilt": live["recovered_blocks"]}


def run_udpcast(link: OneWayLink, work: Path, blob: bytes, rate: float, port: int, fec: str) -> dict:
    src, dst = work / "in.bin", work / "out.bin"
    src.write_bytes(blob)
    rx = subprocess.Popen([*link.ns("rx"), "udp-receiver", "--file", str(dst), "--interface", link.rx_dev, "--nokbd",
                           "--portbase", str(port), "--receive-timeout", "5", "--start-timeout", "30"],
                          stdout=open(work / "uc-rx.log", "w"), stderr=subprocess.STDOUT)  # noqa: SIM115
    time.sleep(0.5)
    t0, t0_wall = time.monotonic(), time.time()
    subprocess.run([*link.ns("tx"), "udp-sender", "--file", str(src), "--async", "--fec", fec, "--max-bitrate",
                    f"{rate:g}m", "--interface", link.tx_dev, "--nokbd", "--autostart", "2", "--portbase", str(port),
                    "--mcast-data-address", RX_ADDR, "--mcast-rdv-address", RX_ADDR],
                   capture_output=True, timeout=600, check=False)
    rc = rx.wait(timeout=60)
    ok = rc == 0 and dst.exists() and hashlib.sha256(dst.read_bytes()).digest() == hashlib.sha256(blob).digest()
    # end to end: the sender's start to the file's last write (its mtime). udp-receiver exits only after its
    # 5 s --receive-timeout of silence (async mode has no end-of-transfer handshake): its exit would time that
    secs = (dst.stat().st_mtime - t0_wall) if ok else time.monotonic() - t0
    # udp-receiver's own average since its transfer began, printed as "(NN.NN Mbps)"
    log = (work / "uc-rx.log").read_text(errors="replace").replace("\r", "\n")
    rates = re.findall(r"\(\s*([0-9.]+) Mbps\)", log)
    wire = float(rates[-1]) / 8 if ok and rates else 0.0
    # on failure, what udp-receiver said (e.g. "Dropped by server"), without its long lists of block numbers
    said = [x.strip()[:80] for x in log.splitlines() if x.strip() and not x.startswith("bytes=")
            and not re.fullmatch(r"[0-9,]+", x.strip())]
    return {"seconds": round(secs, 3), "mb_s": round(len(blob) / secs / 1e6, 2) if ok else 0.0,
            "wire_mb_s": round(wire, 2), "delivered": int(ok), "of": 1,
            "duplicates": None,  # one file written in place: udpcast cannot deliver a batch twice, nor say so
            **({} if ok else {"note": f"exit {rc}: " + " | ".join(said[-3:])})}


def measure(n_batches: int = 8, mb: float = 32, rate: float = 100, udpcast_fec: str = "8x24/64",
            log: bool = True) -> dict:
    """Every tool at every loss rate on one freshly built link; `bench/isolation.py` can call this."""
    rng = random.Random(1)
    per = int(mb * 1e6 / n_batches)
    batches = {f"bench{i:03d}": {"payload.bin": rng.randbytes(per)} for i in range(n_batches)}
    payload = per * n_batches
    blob = b"".join(f["payload.bin"] for f in batches.values())
    have_udpcast = shutil.which("udp-sender") is not None
    rows: list[dict] = []

    def say(r: dict) -> None:
        if log:
            print(f"  {r['tool']:30} loss {r['loss']} %: {r['mb_s']:7.2f} MB/s, {r['delivered']}/{r['of']} intact, "
                  f"duplicates {'-' if r['duplicates'] is None else r['duplicates']}", file=sys.stderr)

    with lab_lock():
        link = OneWayLink("bench")
        link.up()
        try:
            with tempfile.TemporaryDirectory(prefix="jbfy-bench-") as tmp:
                for i, loss in enumerate(LOSSES):
                    link.set_loss(loss)
                    for name, parity in (("jinbao ferry (RS 32+12)", 12), ("plain UDP (no FEC)", 0)):
                        work = Path(tmp) / f"{loss}-{parity}"
                        r = run_ferry(link, work, batches, payload, rate, parity, 47400 + 10 * i + (parity > 0))
                        rows.append({"tool": name, "loss": loss, **r})
                        say(rows[-1])
                    if have_udpcast:
                        work = Path(tmp) / f"{loss}-udpcast"
                        work.mkdir(parents=True)
                        r = run_udpcast(link, work, blob, rate, 9100 + 10 * i, udpcast_fec)
                        rows.append({"tool": f"udpcast --async --fec {udpcast_fec}", "loss": loss, **r})
                        say(rows[-1])
        finally:
            link.down()
    return {"payload_bytes": payload, "batches": n_batches, "rate_mbit": rate, "rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=8)
    ap.add_argument("--mb", type=float, default=32, help="total payload, MB")
    ap.add_argument("--rate", type=float, default=100, help="pacing, Mbit/s (both tools)")
    ap.add_argument("--udpcast-fec", default="8x24/64", help="udpcast --fec (default: 37.5 %% like 12 per 32)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/ferry.py: needs root (network namespaces)")
    result = measure(args.batches, args.mb, args.rate, args.udpcast_fec)
    rows, payload = result["rows"], result["payload_bytes"]
    if args.json:
        print(json.dumps(result, indent=1))
        return
    print(f"ferry across a one-way veth, {payload / 1e6:.1f} MB in {args.batches} batches, "
          f"paced at {args.rate:g} Mbit/s")
    print(f"{'tool':34} {'loss':>5} {'MB/s e2e':>9} {'MB/s wire':>10} {'intact':>8} {'dups':>5} {'rebuilt':>8}")
    for r in rows:
        dups = "-" if r["duplicates"] is None else r["duplicates"]
        print(f"{r['tool']:34} {r['loss']:>4}% {r['mb_s']:>9.2f} {r['wire_mb_s']:>10.2f} "
              f"{r['delivered']:>4}/{r['of']:<3} {dups!s:>5} {r.get('blocks_rebuilt', '-')!s:>8}")
    for r in rows:
        if r.get("note"):
            print(f"  {r['tool']} at {r['loss']} %: {r['note']}")
    for loss in LOSSES:
        fec = next(r for r in rows if r["loss"] == loss and r["tool"].startswith("jinbao"))
        plain = next(r for r in rows if r["loss"] == loss and r["tool"].startswith("plain"))
        line = (f"loss {loss} %: FEC delivers {fec['delivered']}/{fec['of']}, "
                f"plain UDP {plain['delivered']}/{plain['of']}")
        if plain["mb_s"]:
            line += f"; FEC throughput x{fec['mb_s'] / plain['mb_s']:.2f} of plain"
        uc = next((r for r in rows if r["loss"] == loss and r["tool"].startswith("udpcast")), None)
        if uc and uc["mb_s"]:
            line += f"; x{fec['mb_s'] / uc['mb_s']:.2f} of udpcast"
        print(line)


if __name__ == "__main__":
    main()
