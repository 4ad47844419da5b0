"""The control node's deploy lock (network/deploy/lock.py): a deploy and a drill's address move never
interleave; the second is refused at once, naming the first; the lock goes with its process."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from core.errors import JinbaoError
from network.deploy.lock import deploy_lock

HOLD = """
import sys, time
from pathlib import Path
from network.deploy.lock import deploy_lock
with deploy_lock("jinbao dr drill switchover 140000-DC", Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_second_holder_is_refused_naming_the_first(tmp_path: Path) -> None:
    lock = tmp_path / "deploy.lock"
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(lock)], stdout=subprocess.PIPE, text=True,
                         cwd=Path(__file__).resolve().parents[2])
    try:
        assert p.stdout is not None and p.stdout.readline().strip() == "held"
        with pytest.raises(JinbaoError) as e, deploy_lock("jinbao deploy", lock):
            pass
        msg = str(e.value)
        assert "jinbao dr drill switchover 140000-DC (pid " in msg and str(lock) in msg and "\n" not in msg
    finally:
        p.kill()  # the holder dies without letting go: the lock goes with it
        p.wait()
    with deploy_lock("jinbao deploy", lock):
        assert lock.read_text().startswith("jinbao deploy (pid ")
    assert lock.read_text() == ""  # released: nobody named


def test_jinbao_deploy_is_refused_while_a_drill_holds_the_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`jinbao deploy` (not a dry run) takes the lock before it plans anything: one line, non-zero, nothing
    pushed (dr/drill.py holds it for a drill's address move: tests/disaster/test_service_drill_units.py)."""
    lock = tmp_path / "deploy.lock"
    monkeypatch.setenv("JINBAO_DEPLOY_LOCK", str(lock))
    with deploy_lock("jinbao dr drill --site 140000-DC --mode switchover", lock):
        r = subprocess.run([sys.executable, "-m", "jinbao.cli", "deploy", "--scope", "140000-DC"],
                           capture_output=True, text=True, timeout=300, cwd=Path(__file__).resolve().parents[2])
    assert r.returncode != 0 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "jinbao dr drill --site 140000-DC --mode switchover (pid" in r.stderr


def test_each_network_has_its_own_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Labs side by side on one machine (the test suite's two lab tracks) deploy and drill at once: a lab's
    lock is its own; the same lab, or the real network, twice is refused."""
    monkeypatch.delenv("JINBAO_DEPLOY_LOCK", raising=False)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    monkeypatch.setattr("os.access", lambda *_a, **_k: False)  # not /run/lock: the temporary directory
    from network.deploy.lock import lock_path

    assert {lock_path(None).name, lock_path("jbck").name, lock_path("jbdr").name} == {
        "jinbao-deploy.lock", "jinbao-deploy-lab-jbck.lock", "jinbao-deploy-lab-jbdr.lock"}
    with deploy_lock("jinbao dr drill --lab jbdr", lab="jbdr"), deploy_lock("jinbao deploy --lab jbck", lab="jbck"), \
            deploy_lock("jinbao deploy", lab=None):
        for lab in ("jbdr", "jbck", None):
            with pytest.raises(JinbaoError), deploy_lock("second", lab=lab):
                pass


def _kernel_sticky_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """fs.protected_regular >= 1 (Debian with systemd sets 1) as the kernel applies it (fs/namei.c
    may_create_in_sticky), for a machine where it is 0: an O_CREAT open (without O_EXCL) of an existing regular
    file in a sticky world-writable directory is refused with EACCES, root included, unless the opener or the
    directory's owner owns the file. Where the sysctl is set the kernel itself refuses."""
    if Path("/proc/sys/fs/protected_regular").read_text().strip() != "0":
        return
    real = os.open

    def guarded(path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        p = Path(path)
        if flags & os.O_CREAT and not flags & os.O_EXCL and p.is_file() and not p.is_symlink():
            d, f = p.parent.stat(), p.stat()
            if d.st_mode & stat.S_ISVTX and d.st_mode & 0o002 and f.st_uid not in (d.st_uid, os.geteuid()):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real(path, flags, mode, dir_fd=dir_fd)

    monkeypatch.setattr(os, "open", guarded)


@pytest.mark.skipif(os.geteuid() != 0, reason="making a file another user owns needs root")
def test_another_users_lock_file_in_a_sticky_dir_is_taken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """/run/lock is sticky and world-writable: a lock file left by another user's deploy (mode 0666) must still be
    taken, though with fs.protected_regular the kernel refuses an O_CREAT open of it (root too): it was refused
    with EACCES and no deploy could run until someone removed the file."""
    sticky = tmp_path / "lock"
    sticky.mkdir()
    sticky.chmod(0o1777)
    lock = sticky / "jinbao-deploy.lock"
    lock.write_text("")
    lock.chmod(0o666)
    os.chown(lock, 65534, 65534)  # nobody's: an earlier deploy by another account
    _kernel_sticky_rule(monkeypatch)
    with pytest.raises(PermissionError):  # the rule is in force here: what the old open did
        os.close(os.open(lock, os.O_RDWR | os.O_CREAT, 0o666))
    with deploy_lock("jinbao deploy", lock):
        assert lock.read_text().startswith("jinbao deploy (pid ")
    assert lock.stat().st_uid == 65534 and lock.read_text() == ""


def test_a_lock_file_created_meanwhile_by_another_process_is_opened(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Missing at the first open, created by someone else before ours (O_EXCL: EEXIST): theirs is opened, never
    an error and never a second file."""
    lock = tmp_path / "deploy.lock"
    real = os.open
    calls: list[int] = []

    def racing(path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        calls.append(flags)
        if flags & os.O_EXCL and len(calls) == 2:
            Path(path).write_text("")  # the other process wins the race
        return real(path, flags, mode, dir_fd=dir_fd)

    monkeypatch.setattr(os, "open", racing)
    with deploy_lock("jinbao deploy", lock):
        assert lock.read_text().startswith("jinbao deploy (pid ")
    assert [bool(f & os.O_CREAT) for f in calls] == [False, True, False]


def test_a_lock_path_that_cannot_be_opened_is_one_line_naming_it(tmp_path: Path) -> None:
    """A symlink planted at the lock's path (a world-writable directory) is never followed (the lock would
    truncate its target); a directory that does not exist is one line naming the path, as anything else."""
    target = tmp_path / "precious"
    target.write_text("keep me\n")
    link = tmp_path / "deploy.lock"
    link.symlink_to(target)
    for path in (link, tmp_path / "missing" / "deploy.lock", tmp_path):
        with pytest.raises(JinbaoError) as e, deploy_lock("jinbao deploy", path):
            pass
        msg = str(e.value)
        assert f"cannot open the deploy lock {path}: " in msg and "\n" not in msg
    assert target.read_text() == "keep me\n"
