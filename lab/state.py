"""The lab state file: every object ``up`` created, written before and after each step.

``/var/lib/jinbao/lab/<lab>/state.json`` (0600) is what ``down`` works from after a crash, so an
object is recorded *before* it is created (``down`` tolerates objects that never came to exist).
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lab import names


def load(lab: str) -> dict[str, Any] | None:
    path = names.state_file(lab)
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def save(lab: str, state: dict[str, Any]) -> None:
    path = names.state_file(lab)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    state["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(state, fh, indent=2, sort_keys=True)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.rename(tmp, path)


def new(lab: str, digest: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"lab": lab, "spec_digest": digest, "spec": spec, "phase": "building", "objects": [], "nodes": {}}


def record(lab: str, state: dict[str, Any], obj: dict[str, Any]) -> None:
    """Add one object (``{"kind": "netns"|"link"|"mount"|"process"|..., ...}``) and save at once."""
    if obj not in state["objects"]:
        state["objects"].append(obj)
        save(lab, state)


def forget(lab: str, state: dict[str, Any], obj: dict[str, Any]) -> None:
    if obj in state["objects"]:
        state["objects"].remove(obj)
        save(lab, state)


def objects(state: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [o for o in state["objects"] if o["kind"] == kind]


@contextmanager
def locked() -> Iterator[None]:
    """Serialise up/down of labs on this machine (flock on the state root directory)."""
    names.STATE_ROOT.mkdir(parents=True, exist_ok=True)
    fd = os.open(names.STATE_ROOT, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
