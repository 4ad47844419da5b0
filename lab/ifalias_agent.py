#!/usr/bin/python3
"""snmpd `pass_persist` handler for IF-MIB ifAlias (1.3.6.1.2.1.31.1.1.1.18) inside a lab node.

Why: on a real router the SNMP agent answers ifAlias with the interface description from its own
configuration. In the lab the router is FRR on Linux: zebra keeps descriptions to itself (it does not set
the kernel's ifalias) and net-snmp only knows the kernel, so ifAlias would always be empty. This shim
gives the lab the real-device behaviour: ifAlias = FRR's `description`, else the kernel ifalias.
Runs as snmpd's child inside the node; standard library only (the node has python3, not the project).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

BASE = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 18)
CACHE_S = 1.0  # one vtysh call per second at most, however fast the poller walks
_cache: tuple[float, dict[int, str]] = (0.0, {})


def _frr_descriptions() -> dict[str, str]:
    try:
        out = subprocess.run(["vtysh", "-c", "show interface json"], capture_output=True, text=True,
                             timeout=5, check=False).stdout
        data = json.loads(out or "{}")
    except (OSError, ValueError, subprocess.SubprocessError):
        return {}  # no FRR on this node (a server), or FRR not up yet
    return {name: (v.get("description") or "") for name, v in data.items() if isinstance(v, dict)}


def aliases() -> dict[int, str]:
    global _cache
    now = time.monotonic()
    if now - _cache[0] < CACHE_S:
        return _cache[1]
    frr = _frr_descriptions()
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
    _cache = (now, table)
    return table


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
