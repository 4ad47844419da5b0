"""Append-only JSON-lines journals: the sender's rounds sent, the receiver's deliveries and quarantines.

Each record is written with one write() and fsync'd before the action it records is considered done, so a
crash leaves at most one torn last line, which loading skips.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

_LOCK = threading.Lock()


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def append(path: Path, record: dict[str, Any]) -> None:
    line = (json.dumps({**record, "at": record.get("at") or now_iso()}, ensure_ascii=False) + "\n").encode()
    with _LOCK:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)


def load(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    records = []
    for line in path.read_bytes().splitlines():
        try:
            rec = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue  # a line torn by a crash mid-write: its action never counted as done
        if isinstance(rec, dict):
            records.append(rec)
    return records


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
