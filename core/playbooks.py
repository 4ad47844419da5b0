"""Run one of the project's playbooks through ansible-runner: the one place that knows how (the server builds
and the DR drills both use it).

I/O at the edge. The project's ansible.cfg governs every run (inventory plugin path, facts, forks); the
virtualenv's bin directory goes first on PATH so Ansible's own helpers are the venv's.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.procstat import read_stat

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_INVENTORY = ROOT / "inventory" / "jinbao.yml"
# LAB-ONLY: the test vault's password, committed on purpose so the lab and CI can decrypt the lab vault;
# a real network supplies its own (--vault-password-file, or ANSIBLE_VAULT_PASSWORD_FILE).
LAB_VAULT_PASSWORD = ROOT / "inventory" / "vault-password.LAB-ONLY"


@dataclass(frozen=True)
class PlaybookResult:
    rc: int
    status: str  # successful | failed | timeout | canceled
    stats: dict[str, Any] | None  # the playbook_on_stats event's data (per-host counts), None if it never ran


def run(playbook: Path, inventory: Path | str, *, event_handler: Callable[[dict[str, Any]], bool],
        extravars: dict[str, Any] | None = None, limit: str | None = None, forks: int | None = None,
        options: Sequence[str] = (), vault_password_file: Path | None = None,
        env: dict[str, str] | None = None, artifacts: Path | None = None) -> PlaybookResult:
    """ansible-runner's result (``.rc``, ``.status``, ``.stats``) of one playbook run, events to the handler.

    ``options`` are extra ansible-playbook flags (``--check``, ``--diff``); ``env`` adds to the environment
    every run gets."""
    import ansible_runner

    cmdline = [*options]
    if vault_password_file is not None:
        cmdline += ["--vault-password-file", str(vault_password_file)]
    envvars = {"ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0",
               "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}", **(env or {})}
    # SIGTERM/SIGHUP become an interrupt for every caller (server builds, checks, drills): with ansible-runner's own
    # handler gone (below), a plain SIGTERM would end Python at once and leave the playbook running unwatched
    with signals_interrupt(), tempfile.TemporaryDirectory(prefix="jinbao-runner-") as tmp, reaped():
        r = ansible_runner.run(
            private_data_dir=str(artifacts or tmp), project_dir=str(ROOT), playbook=str(playbook),
            inventory=str(inventory), limit=limit, extravars=extravars or {}, forks=forks,
            cmdline=" ".join(cmdline) or None, envvars=envvars, quiet=True, event_handler=event_handler,
            suppress_env_files=True,
            # given, so ansible-runner installs no SIGTERM/SIGINT handler of its own: its handler (never put back)
            # only cancelled the playbook, killing ansible-playbook's group but not Ansible's workers (sessions of
            # their own), and swallowed every later ^C or SIGTERM of the process; the signal now reaches the
            # caller as an exception and `reaped` ends the whole tree
            cancel_callback=lambda: False)
        # read now: ansible-runner's `stats` re-reads the events from the artifact directory, gone after the `with`
        # (it would wait 60 s for it, then raise "events directory is missing")
        return PlaybookResult(r.rc, r.status, r.stats)


GRACE_S = 5.0  # a stopped playbook's processes get this long to go after SIGTERM, before SIGKILL


def _procs() -> dict[int, tuple[int, int, int]]:
    """pid -> (parent pid, process group, start time in clock ticks since boot) of every process (/proc): the
    start time tells a process from a later one that was given the same pid."""
    out = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and (st := read_stat(entry.name)) is not None:  # None: gone meanwhile
            out[int(entry.name)] = (st.ppid, st.pgrp, st.start)
    return out


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def own_groups() -> set[int]:
    """This process's children that lead a process group of their own: ansible-runner starts ansible-playbook
    through pexpect, which gives it a session (and group) of its own and makes it ignore SIGHUP, so it outlives
    a run that stops without ending it."""
    me = os.getpid()
    return {pid for pid, (ppid, pgrp, _) in _procs().items() if ppid == me and pgrp == pid}


def tree(root: int, procs: dict[int, tuple[int, int, int]] | None = None) -> set[int]:
    """`root` and every process below it, whatever their group: Ansible's workers call setsid (a session of
    their own each), so ending ansible-playbook's group leaves them, and the commands and ssh sessions they run,
    going on, re-parented to init once ansible-playbook is gone."""
    procs = _procs() if procs is None else procs
    kids: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in procs.items():
        kids.setdefault(ppid, []).append(pid)
    out, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid not in out:
            out.add(pid)
            todo += kids.get(pid, [])
    return out


def end_tree(root: int, grace: float = GRACE_S) -> None:
    """SIGTERM to `root` and everything below it (each process's group too), SIGKILL to what is left after
    `grace` s; `root`, our child, reaped. The set is taken before the first signal (once the root is gone its
    workers hang from init) and grows with what they start meanwhile."""
    procs = _procs()
    # pid -> start time: a pid is signalled, or its children followed, only while it is still that process
    # (pids are reused; a group is signalled only through a member still in it)
    ours = {p: procs[p][2] for p in tree(root, procs)}

    def alive(now: dict[int, tuple[int, int, int]]) -> set[int]:
        return {p for p, start in ours.items() if p in now and now[p][2] == start}

    def send(sig: int) -> None:
        now = _procs()
        live = alive(now)
        for g in {now[p][1] for p in live}:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(g, sig)
        for p in live:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(p, sig)

    send(signal.SIGTERM)
    end = time.monotonic() + grace
    while time.monotonic() < end:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(root, os.WNOHANG)
        now = _procs()
        live = alive(now)
        for p in live:
            ours.update((c, now[c][2]) for c in tree(p, now) if c not in ours)
        if not live:
            return
        time.sleep(0.05)
    send(signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(root, 0)


@contextlib.contextmanager
def reaped() -> Iterator[None]:
    """On the way out of the block, normal or not (an exception, the interrupt a signal became), end the playbook
    processes this process started in it and left running, with everything below them: a stopped drill must not
    leave a playbook changing databases behind it, with no drill (and no deploy lock) around it any more. After
    a normal run there is none: ansible-runner waited for its child."""
    before = own_groups()
    try:
        yield
    finally:
        # only ansible-playbook's (pexpect's child): another thread of this process may have started a process
        # group of its own meanwhile (a lab node, an agent pool) that is none of this block's business
        for pid in sorted(own_groups() - before):
            if "ansible-playbook" in _cmdline(pid):
                end_tree(pid)


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised in the main thread as an interrupt, so every `finally` runs (the playbook's
    process group ended, the drill's address put right, locks released) instead of the process just dying."""


@contextlib.contextmanager
def signals_interrupt(signums: Sequence[int] = (signal.SIGTERM, signal.SIGHUP)) -> Iterator[None]:
    """SIGTERM and SIGHUP become `Interrupted` for the block (main thread only: elsewhere nothing changes);
    the previous handlers come back after it."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_(signum: int, _frame: object) -> None:
        if _INTERRUPT["raised"]:
            return  # the first signal's cleanup is running (tree ended, address put right): a second must not cut it
        _INTERRUPT["raised"] = True
        raise Interrupted(f"signal {signal.Signals(signum).name}")

    old = {n: signal.signal(n, raise_) for n in signums}
    _INTERRUPT["depth"] += 1
    try:
        yield
    finally:
        _INTERRUPT["depth"] -= 1
        for n, h in old.items():
            signal.signal(n, h)
        if _INTERRUPT["depth"] == 0:
            _INTERRUPT["raised"] = False


# main thread only (signals_interrupt): how deep the blocks are nested, and whether one signal has been raised in
# them (later SIGTERM/SIGHUP are ignored until the outermost block is left; ^C stays the operator's way to force)
_INTERRUPT = {"depth": 0, "raised": False}
