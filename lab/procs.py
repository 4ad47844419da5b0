"""Process bookkeeping by PID *and* start time, so a recycled PID is never mistaken for ours."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from core.procstat import read_stat


def start_time(pid: int) -> int | None:
    """Kernel start time of ``pid`` (clock ticks since boot), None if there is no such process."""
    st = read_stat(pid)
    return None if st is None else st.start


def state(pid: int) -> str | None:
    st = read_stat(pid)
    return None if st is None else st.state


def alive(pid: int, started: int) -> bool:
    """The recorded process still runs (same PID and start time, not a zombie)."""
    return start_time(pid) == started and state(pid) not in (None, "Z", "X")


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return []
    return [int(x) for x in text.split()]


def descendants(pid: int) -> list[int]:
    """Children, grandchildren, ... of ``pid`` (host PIDs), parents before their children."""
    out: list[int] = []
    todo = children(pid)
    while todo:
        child = todo.pop(0)
        out.append(child)
        todo += children(child)
    return out


def ns_inode(pid: int, ns: str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/{ns}")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None


def same_pidns(init_pid: int) -> list[tuple[int, str]]:
    """(host pid, command name) of every process in the PID namespace ``init_pid`` leads."""
    target = ns_inode(init_pid, "pid")
    if target is None:
        return []
    out = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and ns_inode(int(entry.name), "pid") == target:
            try:
                comm = Path(f"/proc/{entry.name}/comm").read_text().strip()
            except (FileNotFoundError, ProcessLookupError):
                continue
            out.append((int(entry.name), comm))
    return out


def reap(pid: int) -> None:
    """Collect an exited child of this process, if it is ours (else its parent reaps it)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def terminate_all(targets: list[tuple[int, int]], grace: float = 3.0) -> list[int]:
    """``terminate`` many processes at once (SIGTERM to all, one shared grace period, then SIGKILL)."""
    live = [(p, s) for p, s in targets if alive(p, s)]
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        for pid, started in live:
            if alive(pid, started):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and any(alive(p, s) for p, s in live):
            for pid, _ in live:
                reap(pid)
            time.sleep(0.02)
    for pid, _ in live:
        reap(pid)
    return [p for p, _ in live]


def namespace_inits(net_inodes: set[int], parent_marker: str) -> list[dict[str, int]]:
    """PID-namespace inits (PID 1 inside) living in one of ``net_inodes`` or whose parent's command
    line contains ``parent_marker`` (the node wrapper names the node's directory in its arguments).

    (A node's root directory cannot identify it from outside: after pivot_root, /proc/PID/root reads "/".)
    """
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            net = os.stat(f"/proc/{pid}/ns/net").st_ino
            status = Path(f"/proc/{pid}/status").read_text()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        nspid = fields.get("NSpid", "").split()
        if len(nspid) < 2 or nspid[-1] != "1":
            continue
        try:
            parent = Path(f"/proc/{fields['PPid'].strip()}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (FileNotFoundError, ProcessLookupError, KeyError):
            parent = ""
        started = start_time(pid)
        if started is not None and (net in net_inodes or parent_marker in parent):
            found.append({"pid": pid, "start": started})
    return found
