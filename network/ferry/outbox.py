"""Producers' side of the contract: put a batch into the outbox so the sender only ever sees it complete."""

from __future__ import annotations

import os
from pathlib import Path

from core.errors import JinbaoError
from core.fsutil import atomic_write_bytes
from network.ferry.journal import fsync_dir, now_iso
from network.ferry.manifest import MANIFEST_NAME, NAME_RE, build_manifest


class OutboxError(JinbaoError):
    """A batch cannot be staged (bad id, already staged, not a file); one line."""


def stage_batch(outbox: Path, batch_id: str, files: dict[str, bytes], source: str | None = None) -> Path:
    """Write the files, fsync them, then the manifest last (atomically): its presence means complete."""
    if not NAME_RE.match(batch_id):
        raise OutboxError(f"batch id {batch_id!r} is not 1-128 of [A-Za-z0-9._-]")
    d = outbox / batch_id
    if (d / MANIFEST_NAME).exists():
        raise OutboxError(f"{d}: batch already staged (batches are immutable once their manifest exists)")
    manifest = build_manifest(batch_id, now_iso(), files, source)  # checks every name before writing
    d.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        with open(d / name, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    fsync_dir(d)
    atomic_write_bytes(d / MANIFEST_NAME, manifest)
    return d


def stage_paths(outbox: Path, batch_id: str, paths: list[Path], source: str | None = None) -> Path:
    """Stage existing files (by their base names)."""
    files: dict[str, bytes] = {}
    for p in paths:
        if not p.is_file():
            raise OutboxError(f"{p}: not a regular file")
        if p.name in files:
            raise OutboxError(f"{p}: two files named {p.name!r}")
        files[p.name] = p.read_bytes()
    try:
        return stage_batch(outbox, batch_id, files, source)
    except ValueError as e:  # a bad file name: found before anything was written
        raise OutboxError(str(e)) from None
