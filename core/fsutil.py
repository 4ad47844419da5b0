"""Atomic file writes: readers see the old file or the new one, never half of either."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from core.errors import JinbaoError

_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the file ordinary permissions
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def unwritable(path: Path, e: OSError, entry: str = "--out") -> JinbaoError:
    """An output path that cannot be written (missing or read-only directory, not a directory…), as the
    one-line error naming it."""
    where = f" ({e.filename})" if e.filename and Path(path).is_relative_to(e.filename) else ""
    return JinbaoError(f"cannot write here: {e.strerror or e}{where}", file=str(path), entry=entry)


def check_out_dir(path: Path, entry: str = "--out") -> None:
    """Fail before any work when an output directory cannot be one: it, or its nearest existing ancestor,
    is not a directory."""
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    if p.exists() and not p.is_dir():
        what = "exists and is not a directory" if p == Path(path) else f"{p} is not a directory"
        raise JinbaoError(what, file=str(path), entry=entry)
