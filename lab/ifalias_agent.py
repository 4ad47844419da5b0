#!/usr/bin/python3
"""snmpd `pass_persist` handler for IF-MIB ifAlias (1.3.6.1.2.1.31.1.1.1.18) inside a lab node.

Why: on a real router the SNMP agent answers ifAlias with the interface description from its own
configuration. In the lab the router is FRR on Linux: zebra keeps descriptions to itself (it does not set
the kernel's ifalias) and net-snmp only knows the kernel, so ifAlias would always be empty. This shim
gives the lab the real-device behaviour: ifAlias = FRR's `description`, else the kernel ifalias.
Runs as snmpd's child inside the node; standard library only (the node has python3, not the project).
snmpd waits for every pass_persist answer, so answers come from a table read on demand: a request finding
it older than REFRESH_S wakes a background re-read (a changed description shows within about a second while
someone polls); one finding it older than STALE_S (nobody asked for a while: a deploy may have changed
everything) waits for that re-read, at most SYNC_WAIT_S (snmpd answers nothing else meanwhile, and a loaded
host can make a read slow: past that it answers from the last table). Nothing runs while nobody asks: polling
vtysh every second in each of a lab's routers cost ~6 % of a core per node, forever, once polled.
A read asks zebra itself over its vty socket (what vtysh does, ~2 ms), not through a vtysh process: starting
vtysh, which connects to every daemon, took longer than SYNC_WAIT_S on a loaded CI host, and the first audit
after the lab came up saw blank aliases. The first read starts as the shim starts (snmpd starts it on the first
ifAlias request, which then finds the read under way).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time

BASE = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 18)
REFRESH_S = 1.0  # older than this, a request wakes a background re-read: snmpd does not wait for it
STALE_S = 5.0  # older than this, a request waits for the re-read (the walk after a quiet spell sees today's)
SYNC_WAIT_S = 1.5  # ... but not longer: the manager's request times out at 3 s (checks/snmp.py)
_table: dict[int, str] = {}
_read_at = float("-inf")  # monotonic time of the last read
_reads = 0  # completed reads: a waiting request knows when a newer table is there
_gave_up = -1  # the value of _reads when a request last stopped waiting: later ones do not wait again for it
_wake = threading.Event()
_done = threading.Condition()


_last_frr: dict[str, str] = {}  # the last descriptions FRR gave: a slow or failed vtysh call keeps them


ZEBRA_VTY = "/run/frr/zebra.vty"  # the node's own /run/frr (lab/node_init.py)


def zebra_command(command: str, path: str | None = None, timeout: float = 10) -> str | None:
    """One command on zebra's vty socket, FRR's vtysh protocol: the command NUL-terminated; the output ends
    with three NUL bytes and the command's status byte (0: success). None when zebra did not answer."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(path or ZEBRA_VTY)
            s.sendall(command.encode() + b"\0")
            buf = bytearray()
            while len(buf) < 4 or buf[-4:-1] != b"\0\0\0":
                chunk = s.recv(65536)
                if not chunk:
                    return None
                buf += chunk
    except OSError:
        return None
    return buf[:-4].decode(errors="replace") if buf[-1] == 0 else None


def _show_interface_json() -> str | None:
    out = zebra_command("show interface json")
    if out is None and not os.path.exists(ZEBRA_VTY):  # FRR elsewhere (another path): vtysh knows where
        try:
            out = subprocess.run(["vtysh", "-c", "show interface json"], capture_output=True, text=True,
                                 timeout=10, check=False).stdout
        except (OSError, subprocess.SubprocessError):
            return None
    return out


def _frr_descriptions() -> dict[str, str] | None:
    """FRR's interface descriptions; None when zebra did not answer this time (busy, restarting, no FRR)."""
    out = _show_interface_json()
    try:
        data = json.loads(out) if out and out.strip() else None
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    return {name: (v.get("description") or "") for name, v in data.items() if isinstance(v, dict)}


def read_table() -> dict[int, str]:
    global _last_frr
    frr = _frr_descriptions()
    if frr is None:  # on a loaded host vtysh can time out: answer from the last good read, not with blanks
        frr = _last_frr
    else:
        _last_frr = frr
    return _with_kernel_aliases(frr)


def _with_kernel_aliases(frr: dict[str, str]) -> dict[int, str]:
    table: dict[int, str] = {}
    for name in os.listdir("/sys/class/net"):
        try:
            with open(f"/sys/class/net/{name}/ifindex") as fh:
                idx = int(fh.read())
            with open(f"/sys/class/net/{name}/ifalias") as fh:
                kernel = fh.read().strip()
        except (OSError, ValueError):
            continue
        table[idx] = frr.get(name) or kernel
    return table


def aliases() -> dict[int, str]:
    global _gave_up
    age = time.monotonic() - _read_at
    if age > REFRESH_S:
        with _done:
            seen = _reads
            _wake.set()
            # one bounded wait per slow read, not one per request: a walk asks once per interface
            if age > STALE_S and _gave_up != seen and not _done.wait_for(lambda: _reads != seen,
                                                                         timeout=SYNC_WAIT_S):
                _gave_up = seen
    if not _reads:  # the first read is still running: the kernel's aliases, as net-snmp itself would answer
        return _with_kernel_aliases({})
    return _table


def _refresh_on_request() -> None:
    global _table, _read_at, _reads
    while True:
        _wake.wait()
        _wake.clear()
        try:
            table = read_table()
        except Exception:  # the refresher must outlive any one bad read
            continue
        with _done:
            _table, _read_at = table, time.monotonic()  # a whole new dict: readers never see a half-built one
            _reads += 1
            _done.notify_all()


def _oid(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.strip().strip(".").split(".") if x)


def answer(op: str, oid: tuple[int, ...]) -> str:
    table = aliases()
    if op == "get":
        if oid[:-1] == BASE and oid[-1] in table:
            return f".{'.'.join(map(str, oid))}\nstring\n{table[oid[-1]]}\n"
        return "NONE\n"
    # getnext: the first index after `oid` inside the column
    after = oid[len(BASE)] if oid[:len(BASE)] == BASE and len(oid) > len(BASE) else -1
    if oid[:len(BASE)] != BASE and oid > BASE:
        return "NONE\n"
    nxt = [i for i in sorted(table) if i > after]
    if not nxt:
        return "NONE\n"
    return f".{'.'.join(map(str, (*BASE, nxt[0])))}\nstring\n{table[nxt[0]]}\n"


def main() -> None:
    threading.Thread(target=_refresh_on_request, daemon=True).start()
    _wake.set()  # the first read now, while snmpd is still sending its PING and the first request
    for line in sys.stdin:
        cmd = line.strip().lower()
        if cmd == "ping":
            sys.stdout.write("PONG\n")
        elif cmd in ("get", "getnext"):
            oid = _oid(sys.stdin.readline())
            sys.stdout.write(answer(cmd, oid))
        elif cmd == "set":
            sys.stdin.readline()
            sys.stdin.readline()
            sys.stdout.write("not-writable\n")
        elif cmd == "":
            break
        sys.stdout.flush()


if __name__ == "__main__":
    main()
