"""The service address during a drill (docs/dr.md): dr/announce.py's two phases pushed through the project's
deploy path (network.deploy: rendered from the intents, diffed, committed, post-checked, rolled back on a
failed check), on the lab's devices (`lab.fleet`) or the real ones (`network.fleet.real_fleet`), and on
nothing but the WAN routers and firewalls of the pair's two sites.

A phase deploys the devices whose static routes it changes with their whole intent in the new state; the
deploy's diff is then those routes alone. The drill keeps the state between the phases itself (the address
announced nowhere after the withdrawal), so nothing here reads or writes `dr-active.yaml`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import JinbaoError
from dr.announce import NOWHERE, Move, plan_move, service_of, site_intents, with_active
from ipplan import keys
from network.fleet import Fleet
from network.plan import PlanInput

if TYPE_CHECKING:
    from network.deploy import Staged
    from network.deploy.model import DeployTarget, DeviceResult

Progress = Callable[[str], None]
OK_STATUSES = ("committed", "unchanged")


@dataclass(frozen=True)
class ServiceNetwork:
    """Where a drill moves the service address, and how it reaches the devices."""

    plan: PlanInput  # the network plan, each service address where the drill's inventory records it
    platform: str | None  # "frr": the lab's routers and firewalls; None: each device's own platform
    fleet: Fleet  # hosts (management addresses), login and secrets; its intents are not used
    witness_netns: str | None = None  # where the witness writes from (lab: the site's exchange-zone server)
    client: str = "the control node"  # that place, in words, for the report
    lab: str | None = None  # the lab whose devices these are (its own deploy lock); None: the real network

    @property
    def where(self) -> str:
        return self.fleet.where

    def move(self, state: PlanInput, primary_site: str, to: str) -> Move:
        return plan_move(state, primary_site, to, self.platform)

    def prepare(self, state: PlanInput, sites: tuple[str, ...], hosts: set[str] | None) -> list[DeployTarget]:
        """The deploy targets (rendered, validated) of `state` on the WAN routers and firewalls of `sites`
        (only `hosts` of them when given). Pure but slow (rendering, validators): a drill prepares both phases
        before it stops writes, so only the deploys themselves fall in the outage window."""
        from network.fleet import fleet_targets

        intents = {}
        for site in sites:
            intents |= site_intents(state, site, self.platform)
        if hosts is not None:
            intents = {h: i for h, i in intents.items() if h in hosts}
        if not intents:
            return []
        return fleet_targets(dataclasses.replace(self.fleet, intents=intents))

    def push(self, state: PlanInput, sites: tuple[str, ...], hosts: set[str] | None, message: str,
             progress: Progress | None = None) -> tuple[bool, str]:
        """Deploy `state`'s intents to the WAN routers and firewalls of `sites` (only `hosts` of them when
        given). (ok, one line per device)."""
        return self.push_targets(self.prepare(state, sites, hosts), message, progress)

    def push_targets(self, targets: list[DeployTarget], message: str,
                     progress: Progress | None = None) -> tuple[bool, str]:
        """Deploy prepared targets, every device at once (the engine's threads). (ok, one line per device with
        its seconds per phase: where the outage window's time goes)."""
        from network.deploy import deploy

        if not targets:
            return True, "no device to change"
        # no commit-confirm timer: the phase is two static routes per device and the drill's RTO counts its
        # time; the post-checks still run and a failed one still rolls the device back at once
        results = deploy(targets, dry_run=False, confirm_seconds=None, message=message,
                         progress=(lambda h, m: progress(f"{h}: {m}")) if progress else None,
                         inventory_dir=self.fleet.inventory)
        return all(r.status in OK_STATUSES for r in results), _detail(results)

    def stage(self, targets: list[DeployTarget], message: str, progress: Progress | None = None,
              must_change: bool = False) -> Staged | None:
        """Connect to the targets' devices and diff now (in parallel); `push_staged` commits later on the same
        connections: a drill stages both phases while writes still flow. None: no device to change.
        `must_change` (an announcement): a device whose diff is empty is refused, as a JinbaoError: it already
        has the route the move would add, so the address would be announced by two sites once the other
        withdrew it late, or the move would change nothing the drill could measure."""
        from network.deploy import Staged

        if not targets:
            return None
        staged = Staged(targets, confirm_seconds=None, message=message, inventory_dir=self.fleet.inventory,
                        progress=(lambda h, m: progress(f"{h}: {m}")) if progress else None)
        try:
            staged.stage()
            if failed := staged.failed():  # found now, while nothing has moved, not half-way through the move
                raise JinbaoError("cannot reach the devices that move the service address: " + _detail(failed))
            if must_change and (same := sorted(h for h, d in staged.diffs().items() if not d)):
                raise JinbaoError(f"{', '.join(same)} already announce(s) the service address (the move would "
                                  "change nothing there): the devices disagree with the plan's record; nothing "
                                  "was changed")
        except BaseException:
            staged.close()
            raise
        return staged

    def push_staged(self, staged: Staged | None, deadline: float | None = None) -> tuple[bool, str]:
        """Commit a staged phase (post-checks, rollback of a device whose checks fail), every device at once; a
        device whose session dropped is reconnected until `deadline` (time.monotonic()) at most."""
        if staged is None:
            return True, "no device to change"
        results = staged.commit(deadline=deadline)
        return all(r.status in OK_STATUSES for r in results), _detail(results)


def _detail(results: list[DeviceResult]) -> str:
    return "; ".join(f"{r.hostname}: {r.status}{' (' + r.error + ')' if r.error else ''} {_timings(r.timings)}"
                     for r in results)


def _timings(t: dict[str, float]) -> str:
    return "[" + " ".join(f"{k} {v:.2f}s" for k, v in t.items()) + "]"


def active_in(plan: PlanInput, active: dict[str, str]) -> PlanInput:
    """The plan with the state record's entries (primary site -> where its database runs) applied."""
    for site, at in active.items():
        if any(sv.primary_site == site for sv in plan.services):
            plan = with_active(plan, site, at)
    return plan


def lab_network(lab_name: str, inventory_dir: Path, primary_site: str) -> ServiceNetwork | None:
    """The lab's routers and firewalls, or None when the lab has none (a server lab such as the DR lab
    jbdr). The witness writes from the primary site's exchange-zone server: the control node reaches the
    lab by its management network only, where no service address is routed."""
    from inventory.drpolicy import load_active
    from lab import names
    from lab.fleet import fleet_of, lab_plan
    from lab.servers import running_spec

    if not any(n.kind == "router" for n in running_spec(lab_name).nodes):
        return None
    lp, info = lab_plan(lab_name)
    plan = active_in(lp.plan, load_active(inventory_dir)[0])
    try:
        service_of(plan, primary_site)
    except JinbaoError:
        raise JinbaoError(f"lab {lab_name}: no service address for {primary_site}'s database (both sites of the"
                          f" pair must be in the {lp.slice} slice)", entry="--site") from None
    ex = next((d.hostname for d in plan.devices(primary_site) if d.role == "EX" and d.hostname in lp.nodes), None)
    netns = f"/run/netns/{names.node_netns(lab_name, lp.node(ex))}" if ex else None
    return ServiceNetwork(plan, "frr", fleet_of(lp, info, None), netns,
                          f"{ex} ({primary_site}'s exchange zone)" if ex else "the control node", lab=lab_name)


def real_network(inventory_dir: Path, primary_site: str, replica_site: str) -> ServiceNetwork:
    """The real WAN routers and firewalls of the pair's two sites (login from JINBAO_SSH_*, secrets from the
    vault or the environment), planned from the drill's inventory directory and its state record. The
    witness writes from the control node, which must reach the service address (e.g. a host in the site's
    exchange zone)."""
    from inventory.platforms import platform
    from ipplan.config import REGISTRY_FILE
    from ipplan.inventory_export import mgmt_address
    from network.fleet import real_fleet
    from network.secrets import secret_source
    from network.workspace import Workspace

    ws = Workspace(inventory_dir)
    plan = ws.network
    service_of(plan, primary_site)
    fleet = real_fleet(ws, primary_site, secret_source(False))
    hosts: dict[str, str] = {}
    for s in (primary_site, replica_site):
        for d in plan.devices(s):
            if d.role not in ("WR", "FW"):
                continue
            if platform(d.platform).deploy is None:
                # merge platforms (VRP, Comware) do withdraw: their adapters undo the static routes the intent
                # no longer has (network/deploy/platforms.py); a platform jinbao cannot deploy cannot move it
                raise JinbaoError(f"{d.hostname} is on platform {d.platform}, which jinbao cannot deploy: the drill "
                                  "could not move the service address there; move it by hand on that site",
                                  file=str(inventory_dir / "jinbao.yaml"), entry=d.hostname)
            ip = mgmt_address(plan.addr.reg, d.site, d.hostname)
            if not ip:  # refused before the drill starts: found at its phase, the address is already withdrawn
                raise JinbaoError(f"{d.hostname} has no management address ({keys.mgmt_host(4, d.site, d.hostname)})"
                                  ": the drill could not reach it to move the service address",
                                  file=str(inventory_dir / REGISTRY_FILE), entry=d.hostname)
            hosts[d.hostname] = ip
    return ServiceNetwork(plan, None, dataclasses.replace(fleet, hosts=hosts))


def active_site(plan: PlanInput, primary_site: str) -> str:
    """Which site announces the database's service address in `plan` (NOWHERE: none)."""
    return service_of(plan, primary_site).active


__all__ = ["NOWHERE", "ServiceNetwork", "active_in", "active_site", "lab_network", "real_network"]
