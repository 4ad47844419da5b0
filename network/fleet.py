"""Where a deploy, backup or drift run points: the real devices of the inventory (the lab's fleet, built
from the same plan, is `lab.fleet.lab_fleet`).

Real devices: management addresses from the IP registration record, credentials from the environment
(JINBAO_SSH_USER, JINBAO_SSH_KEY or JINBAO_SSH_PASSWORD, JINBAO_SSH_KNOWN_HOSTS), secrets from vault or
environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import JinbaoError
from inventory.scope import hosts_in_scope
from ipplan.inventory_export import mgmt_address
from network.deploy import DeployTarget
from network.intent_model import DeviceIntent
from network.plan import build_firewall_intents, build_intents
from network.secrets import SecretSource
from network.targets import Access, build_targets
from network.workspace import Workspace

if TYPE_CHECKING:
    from network.policy.zones import World


@dataclass(frozen=True)
class Fleet:
    intents: dict[str, DeviceIntent]
    hosts: dict[str, str]  # hostname -> management address
    access: Access
    secrets: SecretSource
    where: str  # "lab <name> (<slice>)" or the inventory directory
    inventory: Path | None = None  # the inventory the intents were planned from
    # site -> the service-address prefixes its devices may route (PlanInput.service_prefixes): on the merge
    # platforms a deploy removes a stale static route to one of them, never an operator's to anything else
    service_prefixes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def real_fleet(ws: Workspace, scope: str | None, secrets: SecretSource) -> Fleet:
    p = ws.network
    keep = hosts_in_scope(p.inv, scope)
    intents = build_intents(p, keep) | build_firewall_intents(p, keep)
    reg = p.addr.reg
    hosts = {h: mgmt_address(reg, i.site, h) or "" for h, i in intents.items()}
    user = os.environ.get("JINBAO_SSH_USER")
    if not user:
        raise JinbaoError("set JINBAO_SSH_USER (and JINBAO_SSH_KEY or JINBAO_SSH_PASSWORD) to reach real devices")
    access = Access(user, os.environ.get("JINBAO_SSH_KEY"), os.environ.get("JINBAO_SSH_PASSWORD"),
                    os.environ.get("JINBAO_SSH_KNOWN_HOSTS"))
    return Fleet(intents, hosts, access, secrets, str(ws.directory), ws.directory, p.service_prefixes())



def fleet_targets(fleet: Fleet, rulesets: bool = False, world: World | None = None,
                  prune_static_routes: bool = False) -> list[DeployTarget]:
    """What deploy, backup and drift act on: one target per device of the fleet; with `rulesets`, each
    linux_nftables firewall's zone ruleset as a second artifact (target `<hostname>:ruleset`), compiled on
    `world` when the caller holds the inventory's zone world already. `prune_static_routes`: a merge platform's
    deploy removes every static route its config lacks, not only those to the plan's destinations."""
    rs = None
    if rulesets and fleet.inventory is not None:
        from network.policy.service import firewall_rulesets

        rs = firewall_rulesets(fleet.inventory, fleet.intents, world)
    owned = {h: tuple(fleet.service_prefixes.get(i.site, ())) for h, i in fleet.intents.items()}
    return build_targets(fleet.intents, fleet.secrets, fleet.hosts, fleet.access, rs, owned_static=owned,
                         prune_static_routes=prune_static_routes)
