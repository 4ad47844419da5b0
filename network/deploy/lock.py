"""The control node's deploy lock: one change to devices at a time from this machine.

`jinbao deploy` (not a dry run) holds it while it pushes, and a DR drill that moves a service address holds it
from the stage of its phases to the end of the drill: a deploy planned from the state record before the drill
moved the address would otherwise put the route back at the old site between the two phases (the address at
two sites), or be undone by the drill's commit. Whoever comes second is refused at once, with who holds it,
rather than waiting behind a drill that can run for minutes. An advisory lock (flock) on one file: it goes
with the process that held it, a crash included.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from core.errors import JinbaoError

LOCK_ENV = "JINBAO_DEPLOY_LOCK"  # the lock file's path (tests; a control node with another runtime dir)
LOCK_NAME = "jinbao-deploy.lock"
_OPEN = os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC  # never through a symlink planted in a world-writable dir


def lock_path(lab: str | None = None) -> Path:
    """The lock file of one network: the real network's, or lab `lab`'s (each lab is a network of its own, and
    several can run on one machine side by side: their deploys never touch each other's devices).
    JINBAO_DEPLOY_LOCK, else /run/lock (shared by every user of the machine), else the temporary directory."""
    if env := os.environ.get(LOCK_ENV):
        return Path(env)
    name = f"jinbao-deploy-lab-{lab}.lock" if lab else LOCK_NAME
    run = Path("/run/lock")
    return run / name if os.access(run, os.W_OK) else Path(tempfile.gettempdir()) / name


@contextlib.contextmanager
def deploy_lock(holder: str, path: Path | None = None, lab: str | None = None) -> Iterator[None]:
    """Hold the deploy lock of the real network (or of lab `lab`) for the block, naming `holder` in the file; a
    JinbaoError naming the holder when another process has it."""
    path = path or lock_path(lab)
    fd = open_lock_file(path)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            who = os.pread(fd, 400, 0).decode(errors="replace").strip() or "another process"
            raise JinbaoError(f"devices are being changed by {who} (deploy lock {path}): run again when it "
                              "has ended") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{holder} (pid {os.getpid()})\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def open_lock_file(path: Path, attempts: int = 5) -> int:
    """A read-write descriptor of the lock file, created if missing (mode 0666: another user's deploy must be
    able to take it too).

    An existing file is opened without O_CREAT: in a sticky world-writable directory (/run/lock, /tmp) the kernel
    refuses an O_CREAT open of a file another user owns when fs.protected_regular is set (Debian with systemd: 1),
    root included, even though the file's mode allows it. A missing one is created with O_EXCL (never an open of
    someone else's file); losing that race to another process means the file now exists: open it again. Anything
    else is one line naming the path."""
    why = "it kept appearing and disappearing"
    for _ in range(attempts):
        try:
            fd = os.open(path, _OPEN)
        except FileNotFoundError:
            try:
                fd = os.open(path, _OPEN | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                continue  # created meanwhile by another process: open that one
            except OSError as e:
                why = e.strerror or str(e)
                break
            with contextlib.suppress(OSError):  # our umask narrowed it
                os.fchmod(fd, 0o666)
        except OSError as e:
            why = "it is a symbolic link" if e.errno == errno.ELOOP else (e.strerror or str(e))
            break
        if stat.S_ISREG(os.fstat(fd).st_mode):
            return fd
        os.close(fd)
        why = "it is not a regular file"
        break
    raise JinbaoError(f"cannot open the deploy lock {path}: {why} (set {LOCK_ENV} to a file every deploying user "
                      "can write)")
