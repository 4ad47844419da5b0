"""core/playbooks.run on a real (trivial, local) playbook: the recap is read while ansible-runner's artifacts
still exist (read after its temporary directory was gone, every build waited 60 s and then failed)."""

from __future__ import annotations

from pathlib import Path

from core import playbooks

PLAY = """- name: One task on the control node
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Ping
      ansible.builtin.ping:
"""


def test_run_returns_the_recap_and_streams_events(tmp_path: Path) -> None:
    (tmp_path / "play.yml").write_text(PLAY)
    events: list[str] = []
    r = playbooks.run(tmp_path / "play.yml", "localhost,", event_handler=lambda e: events.append(e["event"]) or True)
    assert (r.rc, r.status) == (0, "successful")
    assert r.stats is not None and r.stats["ok"] == {"localhost": 1}
    assert "playbook_on_task_start" in events


SLEEP = """- name: A long task on the control node
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Sleep
      ansible.builtin.command: sleep {seconds}
"""


def _running(marker: str) -> list[int]:
    """Processes whose command line holds `marker`."""
    import os

    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if marker in cmdline:
            out.append(int(pid))
    return out


def test_a_run_stopped_by_a_signal_ends_the_whole_playbook(tmp_path: Path) -> None:
    """A drill killed (SIGTERM) in the middle of a playbook: ansible-runner's own handler took the signal, killed
    ansible-playbook's group and returned "canceled", but Ansible's worker (a session of its own) and the task's
    command ran on, with no drill (and no deploy lock) around them; and the handler stayed, swallowing every later
    SIGTERM or ^C. Now the signal becomes an interrupt in the caller and the run ends the whole process tree."""
    import os
    import random
    import signal
    import threading
    import time

    import pytest

    seconds = f"{random.randint(100000, 999999)}.25"  # a command line no other process has
    (tmp_path / "play.yml").write_text(SLEEP.format(seconds=seconds))
    marker = f"sleep {seconds}"

    def kill_me_once_it_sleeps() -> None:
        end = time.monotonic() + 60
        while not _running(marker) and time.monotonic() < end:
            time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=kill_me_once_it_sleeps, daemon=True).start()
    before = signal.getsignal(signal.SIGTERM)
    # groups this process already leads children of (in the suite's worker: the lab track's nodes) are not the run's
    groups_before = playbooks.own_groups()
    with pytest.raises(playbooks.Interrupted), playbooks.signals_interrupt():
        playbooks.run(tmp_path / "play.yml", "localhost,", event_handler=lambda e: True)
    assert signal.getsignal(signal.SIGTERM) is before  # the previous handler is back, not ansible-runner's
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert _running(marker) == []  # the task's command went with the playbook
    assert _running(str(tmp_path / "play.yml")) == []  # and so did ansible-playbook and its worker
    assert playbooks.own_groups() - groups_before == set()


def test_the_process_trees_a_block_leaves_running_are_ended_on_the_way_out() -> None:
    """Below the group leader, a process in a session of its own (as Ansible's workers are) goes too."""
    import subprocess

    import pytest

    seconds = "876543.5"
    with pytest.raises(RuntimeError), playbooks.reaped():
        # named as pexpect starts it: the block ends ansible-playbook's trees, no other group
        script = f"sleep {seconds} & setsid sleep {seconds} & wait"
        subprocess.Popen(["bash", "-c", f"exec -a ansible-playbook sh -c '{script}'"], start_new_session=True)
        import time

        time.sleep(0.5)
        assert len(_running(f"sleep {seconds}")) >= 2
        raise RuntimeError("stopped")
    assert _running(f"sleep {seconds}") == []
    # a group that was there before the block is not this block's to end
    p = subprocess.Popen(["sleep", "765432.5"], start_new_session=True)
    try:
        with playbooks.reaped():
            pass
        assert p.poll() is None
    finally:
        p.kill()
        p.wait()


def test_a_group_another_thread_starts_during_the_block_is_left_alone() -> None:
    """Only ansible-playbook's tree is the block's: a lab node or agent pool some other thread started meanwhile
    (a process group of its own, this process's child) keeps running."""
    import subprocess

    p = None
    try:
        with playbooks.reaped():
            p = subprocess.Popen(["sleep", "765431.5"], start_new_session=True)
        assert p.poll() is None
    finally:
        if p is not None:
            p.kill()
            p.wait()


def test_a_second_signal_does_not_cut_the_first_ones_cleanup_short() -> None:
    import os
    import signal

    import pytest

    cleaned = []
    with pytest.raises(playbooks.Interrupted), playbooks.signals_interrupt():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
        finally:
            os.kill(os.getpid(), signal.SIGTERM)  # e.g. a supervisor sending it again: ignored, the cleanup runs on
            cleaned.append("done")
    assert cleaned == ["done"]
    # once out of the outermost block the next interrupt is raised again
    with pytest.raises(playbooks.Interrupted), playbooks.signals_interrupt():
        os.kill(os.getpid(), signal.SIGTERM)
