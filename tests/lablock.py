"""The host-wide lock every lab test module takes: one pytest run drives the test labs at a time.

Within a `make test` run (pytest-xdist, tests/conftest.py) the controller takes the lock once its workers have
collected lab tests, and its workers then run their lab tracks side by side without taking it again: the
run's labs are designed to coexist (distinct names and management nets, `lab up`/`down` serialised by the
runtime's own state lock). Any other pytest run (a single module, another checkout) waits for the whole run.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO

LOCK = "/run/lock/jinbao-lab-tests.lock"


def held_by(pid: int, path: str = LOCK) -> bool:
    """Whether process `pid` holds the flock.

    flock locks belong to an open file: opening the file again and locking would wait for ourselves.
    """
    try:
        inode = os.stat(path).st_ino
        with open("/proc/locks") as fh:
            rows = [line.split() for line in fh]
    except FileNotFoundError:
        return False
    return any(len(r) >= 6 and r[1] == "FLOCK" and r[4] == str(pid) and r[5].endswith(f":{inode}")
               for r in rows)


def held_by_this_process(path: str = LOCK) -> bool:
    """Whether this process (another fixture of this run) or, for an xdist worker, the run's controller
    (its parent) already holds the flock."""
    return held_by(os.getpid(), path) or held_by(os.getppid(), path)


def acquire(path: str = LOCK, waiting: Callable[[], None] | None = None) -> IO[str]:
    """Take the lock for this process until the returned file is closed (the xdist controller's whole run);
    `waiting` is called once when another run holds it."""
    fh = open(path, "w")  # noqa: SIM115 -- held as long as the run
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        if waiting:
            waiting()
        fcntl.flock(fh, fcntl.LOCK_EX)
    return fh


@contextmanager
def lab_lock() -> Iterator[None]:
    if held_by_this_process():
        yield
        return
    with acquire():
        yield
