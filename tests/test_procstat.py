"""core/procstat: the one /proc/PID/stat reader, used by core/playbooks (ending a playbook's process tree) and
lab/procs (the lab's pid + start time bookkeeping)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from core import playbooks
from core.procstat import ProcStat, parse_stat, read_stat
from lab import procs

# a stat line whose command name holds spaces and both parentheses (fields 23-52 cut short: never read)
STAT = "4242 (a) b (c) S 17 4242 4242 0 -1 4194560 120 0 0 0 3 1 0 0 20 0 1 0 987654 1000 80"


def test_fields_are_read_after_the_command_names_last_parenthesis() -> None:
    assert parse_stat(STAT) == ProcStat(state="S", ppid=17, pgrp=4242, start=987654)


def test_this_process_and_a_missing_one() -> None:
    me = read_stat(os.getpid())
    assert me is not None and (me.ppid, me.pgrp, me.state) == (os.getppid(), os.getpgrp(), "R")
    assert read_stat(2**22 + 1) is None  # above pid_max's ceiling: no such process


def test_both_users_read_the_same_fields_of_a_process_with_an_awkward_name() -> None:
    """A child renames itself `a) b (c` (its stat line then has spaces and parentheses in field 2): the playbook
    runner's process table and the lab's start time / state agree with the shared reader."""
    code = "open('/proc/self/comm', 'w').write('a) b (c'); print(flush=True); import time; time.sleep(60)"
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == b"\n"  # renamed, now sleeping
        with open(f"/proc/{child.pid}/stat", encoding="ascii") as fh:
            assert "(a) b (c)" in fh.read()
        st = read_stat(child.pid)
        assert st is not None and st.ppid == os.getpid() and st.pgrp == child.pid
        assert playbooks._procs()[child.pid] == (os.getpid(), child.pid, st.start)
        assert procs.start_time(child.pid) == st.start
        deadline = time.monotonic() + 10
        while procs.state(child.pid) != "S" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert procs.state(child.pid) == "S" and procs.alive(child.pid, st.start)
        assert not procs.alive(child.pid, st.start + 1)  # a later process given the same pid is not this one
    finally:
        child.kill()
        child.wait()
    assert procs.start_time(child.pid) is None and procs.state(child.pid) is None
    assert child.pid not in playbooks._procs()
