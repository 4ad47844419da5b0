"""Run the server playbooks (playbooks/*.yml) through ansible-runner and summarise the play recap.

I/O at the edge: ``run_playbook`` starts Ansible; ``recap_from_stats`` and ``limit_for_sites`` are pure.
Both a real network's inventory and a lab's come from the source-of-truth inventory plugin
(``inventory/jinbao.yml``; a lab's is the same configuration with the lab selected: lab/servers.py).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import playbooks
from core.errors import JinbaoError
from core.playbooks import ROOT

PLAYBOOKS = {"site": "site.yml", "servers": "servers.yml", "databases": "databases.yml",
             "dr-replication": "dr/replication.yml"}
COUNTERS = ("ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored")
# ansible-runner's stats keys for the recap's counters
_STATS = {"ok": "ok", "changed": "changed", "unreachable": "dark", "failed": "failures", "skipped": "skipped",
          "rescued": "rescued", "ignored": "ignored"}


@dataclass
class BuildResult:
    playbook: str
    status: str  # ansible-runner's: successful | failed | timeout | canceled
    rc: int
    seconds: float
    forks: int
    pipelining: bool
    recap: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def changed(self) -> int:
        return sum(h["changed"] for h in self.recap.values())

    @property
    def ok(self) -> bool:
        return self.rc == 0 and all(h["failed"] == 0 and h["unreachable"] == 0 for h in self.recap.values())

    def to_dict(self) -> dict[str, Any]:
        return {"playbook": self.playbook, "status": self.status, "rc": self.rc, "seconds": self.seconds,
                "forks": self.forks, "pipelining": self.pipelining, "ok": self.ok, "changed": self.changed,
                "recap": self.recap}


def recap_from_stats(stats: dict[str, dict[str, int]] | None) -> dict[str, dict[str, int]]:
    """ansible-runner's per-counter host maps -> one row of counters per host (the PLAY RECAP)."""
    stats = stats or {}
    hosts = sorted({h for key in _STATS.values() for h in (stats.get(key) or {})} | set(stats.get("processed") or {}))
    return {h: {name: int((stats.get(key) or {}).get(h, 0)) for name, key in _STATS.items()} for h in hosts}


def limit_for_sites(sites: Iterable[str]) -> str:
    """An Ansible --limit pattern for these sites' groups, named by the inventory plugin's own rule."""
    from plugins.hostvars import group_name

    return ":".join(group_name("site", s) for s in sorted(sites))


def format_recap(result: BuildResult) -> str:
    lines = [f"PLAY RECAP ({result.playbook}: {result.status}, {result.seconds:.1f} s, forks {result.forks}, "
             f"pipelining {'on' if result.pipelining else 'off'})"]
    for host, c in result.recap.items():
        lines.append(f"{host:<24} " + "  ".join(f"{k}={c[k]}" for k in COUNTERS))
    return "\n".join(lines)


def report(result: BuildResult, as_json: bool) -> bool:
    """Print the recap (JSON on stdout with ``as_json``); whether the run was clean."""
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=1) + "\n")
    else:
        print(format_recap(result))
    return result.ok


def run_playbook(
    playbook: str,
    inventory: Path,
    *,
    limit: str | None = None,
    check: bool = False,
    diff: bool = False,
    forks: int | None = None,
    pipelining: bool = True,
    vault_password_file: Path | None = None,
    progress: Callable[[str], None] | None = None,
    artifacts: Path | None = None,
    extra_vars: dict[str, Any] | None = None,
) -> BuildResult:
    """Run one of the project's playbooks (``site``, ``servers``, ``databases``) against ``inventory``."""
    if playbook not in PLAYBOOKS:
        raise JinbaoError(f"--playbook {playbook!r}: one of {', '.join(PLAYBOOKS)}")
    if not inventory.exists():
        raise JinbaoError("no Ansible inventory here", file=str(inventory))
    if vault_password_file is not None and not vault_password_file.is_file():
        raise JinbaoError("vault password file not found", file=str(vault_password_file))
    used_forks = forks or _cfg_forks()

    def on_event(event: dict[str, Any]) -> bool:
        if progress is not None:
            data = event.get("event_data", {})
            if event.get("event") == "playbook_on_task_start":
                progress(f"task: {data.get('task', '')}")
            elif event.get("event") in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors"):
                msg = str((data.get("res") or {}).get("msg", ""))[:300]
                progress(f"{event['event'].removeprefix('runner_on_')}: {data.get('host')}: {data.get('task')}: {msg}")
        return True

    started = time.monotonic()
    r = playbooks.run(ROOT / "playbooks" / PLAYBOOKS[playbook], inventory, event_handler=on_event,
                      extravars=extra_vars, limit=limit, forks=used_forks,
                      options=[*(["--check"] if check else []), *(["--diff"] if diff else [])],
                      vault_password_file=vault_password_file,
                      env={"ANSIBLE_PIPELINING": "True" if pipelining else "False"}, artifacts=artifacts)
    return BuildResult(PLAYBOOKS[playbook], r.status, r.rc, round(time.monotonic() - started, 1), used_forks,
                       pipelining, recap_from_stats(r.stats))


def _cfg_forks() -> int:
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "ansible.cfg")
    return cfg.getint("defaults", "forks", fallback=5)
