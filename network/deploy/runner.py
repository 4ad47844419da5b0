"""Nornir plumbing shared by deploy, backup and drift: a Nornir built from targets by the project's own
Nornir inventory plugin (JinbaoInventory), so deploy tasks see the same groups and data as anyone's script.

Nornir is used for what it is good at - a threaded runner, per-host connection plugins and their
lifecycle - with no inventory files: the hosts are exactly the targets the caller passes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from nornir import InitNornir
from nornir.core import Nornir
from nornir.core.task import Result, Task

from network.deploy.model import DeployTarget
from network.drivers import register


def check_unique(targets: Sequence[DeployTarget]) -> None:
    names = [t.hostname for t in targets]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"duplicate target hostnames: {dupes}")


def build_nornir(targets: Sequence[DeployTarget], workers: int, connect_timeout: float,
                 inventory_dir: str | Path | None = None) -> Nornir:
    """A Nornir whose hosts are exactly ``targets``, built by the project's Nornir inventory plugin
    (plugins/nornir_inventory.py, found by its registered name - an entry point: this layer does not import
    the layer above it but needs it at run time, the one such dependency tests/test_layers.py allows): each
    target's address, platform and credentials, with the groups and data the source of truth has for it.
    Threaded runner; Nornir's file log off."""
    check_unique(targets)
    # platform="frr" must resolve in napalm.get_network_driver before nornir-napalm opens a connection; here,
    # not on import: the driver imports napalm (seconds), which commands that never connect do not need
    register()
    return InitNornir(
        runner={"plugin": "threaded", "options": {"num_workers": max(1, min(workers, len(targets) or 1))}},
        inventory={"plugin": "JinbaoInventory", "options": {
            "inventory_dir": inventory_dir, "lab": "", "targets": list(targets), "connect_timeout": connect_timeout}},
        # Nornir logs to ./nornir.log by default: a library call must not litter the caller's directory.
        logging={"enabled": False})


def run_per_host(
    targets: Sequence[DeployTarget],
    work: Callable[[Task, DeployTarget], Any],
    *,
    workers: int,
    connect_timeout: float,
    on_crash: Callable[[DeployTarget, str], Any],
    inventory_dir: str | Path | None = None,
) -> list[Any]:
    """Run ``work(task, target)`` for every target in parallel; results in target order.

    ``work`` is expected to catch its own errors (one device failing never stops the others);
    whatever still escapes is turned into ``on_crash(target, message)``. Connections are closed
    at the end, also after errors.
    """
    if not targets:
        return []
    by_name = {t.hostname: t for t in targets}
    nr = build_nornir(targets, workers, connect_timeout, inventory_dir)

    def task_fn(task: Task) -> Result:
        return Result(host=task.host, result=work(task, by_name[task.host.name]))

    try:
        agg = nr.run(task=task_fn, name="jinbao", raise_on_error=False)
    finally:
        nr.close_connections(on_good=True, on_failed=True)
    out = []
    for t in targets:
        multi = agg.get(t.hostname)
        if multi is None or multi.failed or not multi:
            exc = multi[0].exception if multi else None
            out.append(on_crash(t, f"{type(exc).__name__}: {exc}" if exc else "task did not run"))
        else:
            out.append(multi[0].result)
    return out
