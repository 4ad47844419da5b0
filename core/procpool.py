"""The start method for the worker processes of CPU-bound fan-out (render, policy verify, SNMP polling).

fork is the cheap one: children inherit the imported modules and the batch copy-on-write. But fork copies only
the calling thread: a lock another thread holds at that instant (the import lock, an I/O buffer, an allocator)
stays held forever in the child, which then hangs, and a pool waiting on it hangs with it (seen: a 900 s
timeout of an in-process policy verify inside a pytest-xdist worker, whose execnet thread runs beside the
tests). So fork only while this process runs one thread; otherwise forkserver, whose server is a fresh
single-threaded process. The callers hand their batch to an initializer, which works under both: inherited
with fork, pickled once per worker with forkserver.
"""

from __future__ import annotations

import multiprocessing
import threading
from multiprocessing.context import BaseContext


def fork_is_safe() -> bool:
    return threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods()


def context() -> BaseContext:
    return multiprocessing.get_context("fork" if fork_is_safe() else "forkserver")
