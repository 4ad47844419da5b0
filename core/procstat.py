"""One process's /proc/PID/stat, parsed: the one reader the playbook runner (core/playbooks.py) and the lab's
process bookkeeping (lab/procs.py) share. The start time tells a process from a later one given the same pid."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProcStat:
    state: str  # R, S, D, Z, X, ... (stat field 3)
    ppid: int  # field 4
    pgrp: int  # field 5
    start: int  # field 22: start time, clock ticks since boot


def parse_stat(text: str) -> ProcStat:
    """The fields of a /proc/PID/stat line. They are read after the command name's last `)`: the name (field 2)
    may hold spaces and parentheses."""
    fields = text.rsplit(")", 1)[1].split()
    return ProcStat(fields[0], int(fields[1]), int(fields[2]), int(fields[19]))


def read_stat(pid: int | str) -> ProcStat | None:
    """`pid`'s stat, None when there is no such process (or it went while being read)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return None
    return parse_stat(text)
