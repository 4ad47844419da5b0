"""drift(): intended configuration versus what each device runs now.

The comparison is the platform's own where it has one, because a text diff of two FRR configs
reports ordering and defaulting differences FRR does not consider changes:

- frr: ``frr-reload.py --test`` with the intended config as candidate (the exact diff a deploy
  would apply); cisco_ios: napalm's replace compare_config (the device's own archive diff);
- huawei_vrp, h3c_comware: a unified text diff of running -> intended, ignoring blank lines,
  comment lines and trailing spaces.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from nornir.core.task import Task

from core.threads import serialised
from inventory.platforms import platform
from network.deploy.model import DeployTarget, DriftResult, Progress
from network.deploy.platforms import open_adapter, text_diff
from network.deploy.runner import run_per_host


def drift(
    targets: Sequence[DeployTarget],
    *,
    progress: Progress | None = None,
    workers: int = 20,
    connect_timeout: float = 10.0,
    inventory_dir: str | os.PathLike[str] | None = None,
) -> list[DriftResult]:
    """One DriftResult per target (in order): ``in_sync`` and the diff running -> intended."""
    say = serialised(progress)

    def work(task: Task, target: DeployTarget) -> DriftResult:
        try:
            adapter = open_adapter(task, target)
            facts = platform(target.platform)
            if facts.deploy is not None and facts.deploy.native_diff:
                diff, method = adapter.diff(target.config_text), adapter.method
            else:
                running = adapter.running()
                diff = text_diff(target.hostname, running, target.config_text, facts.comment)
                method = "text"
            say(target.hostname, "in sync" if not diff else "drift")
            return DriftResult(target.hostname, not diff, diff, None, method)
        except Exception as exc:
            say(target.hostname, f"drift check failed: {exc}")
            return DriftResult(target.hostname, None, "", f"{type(exc).__name__}: {exc}")

    def crashed(target: DeployTarget, error: str) -> DriftResult:
        return DriftResult(target.hostname, None, "", error)

    return run_per_host(targets, work, workers=workers, connect_timeout=connect_timeout, on_crash=crashed,
                        inventory_dir=inventory_dir)
