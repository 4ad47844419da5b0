"""The host-wide lock every lab test module takes: one lab test run at a time on this machine."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

LOCK = "/run/lock/jinbao-lab-tests.lock"


def held_by_this_process(path: str = LOCK) -> bool:
    """Whether this process already holds the flock (another fixture of this run took it).

    flock locks belong to an open file: opening the file again and locking would wait for ourselves.
    """
    try:
        inode = os.stat(path).st_ino
        with open("/proc/locks") as fh:
            rows = [line.split() for line in fh]
    except FileNotFoundError:
        return False
    return any(len(r) >= 6 and r[1] == "FLOCK" and r[4] == str(os.getpid()) and r[5].endswith(f":{inode}")
               for r in rows)


@contextmanager
def lab_lock() -> Iterator[None]:
    if held_by_this_process():
        yield
        return
    with open(LOCK, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield
