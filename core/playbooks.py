"""Run one of the project's playbooks through ansible-runner: the one place that knows how (the server builds
and the DR drills both use it).

I/O at the edge. The project's ansible.cfg governs every run (inventory plugin path, facts, forks); the
virtualenv's bin directory goes first on PATH so Ansible's own helpers are the venv's.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    with tempfile.TemporaryDirectory(prefix="jinbao-runner-") as tmp:
        r = ansible_runner.run(
            private_data_dir=str(artifacts or tmp), project_dir=str(ROOT), playbook=str(playbook),
            inventory=str(inventory), limit=limit, extravars=extravars or {}, forks=forks,
            cmdline=" ".join(cmdline) or None, envvars=envvars, quiet=True, event_handler=event_handler,
            suppress_env_files=True)
        # read now: ansible-runner's `stats` re-reads the events from the artifact directory, gone after the `with`
        # (it would wait 60 s for it, then raise "events directory is missing")
        return PlaybookResult(r.rc, r.status, r.stats)
