"""One workspace per process: the inventory, the IP and port records, the IP plan rules, the routing policy
and the network plan built from them, each read from the inventory directory on first use and then shared.

`jinbao run` goes inventory -> allocate -> check -> plan -> render -> verify on one `Workspace`: the 9 MB
IP record is read once, and the plan is built on the records the allocation step just produced (the same
records it wrote to disk); its lab half (jinbao/pipeline.py `lab_steps`) plans on the same workspace.
Commands make one per invocation; nothing is cached across workspaces, so a test that edits an inventory and
opens a new workspace sees its edit.
"""

from __future__ import annotations

import dataclasses
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from inventory.drpolicy import DrDoc, load_active, load_dr_config
from inventory.load import Loaded, load
from inventory.model import Inventory
from ipplan.config import REGISTRY_FILE, PlanDoc, load_plan
from ipplan.ports import PORTS_FILE, PortRegistry, home_links, load_ports
from ipplan.registry import Registry, load_registry
from ipplan.service import Allocation, PlanState, allocate_and_save, plan_state
from network.addressing import Addressing
from network.plan import PlanInput, service_addresses
from network.routing_config import RoutingDoc, load_routing

if TYPE_CHECKING:
    from network.policy.zones import World


class Workspace:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    @cached_property
    def source(self) -> Loaded:
        """The inventory as its rules expand, before the port record re-homes its lines: what needs only its
        sites and devices (a lab run's preflight) reads this, without the records."""
        return load(self.directory)

    @cached_property
    def loaded(self) -> Loaded:
        """The inventory with its lines where the port record has them cabled (ipplan.ports.home_links)."""
        raw = self.source
        return dataclasses.replace(raw, inventory=home_links(raw.inventory, self.ports))

    @property
    def inventory(self) -> Inventory:
        return self.loaded.inventory

    @cached_property
    def ipplan(self) -> PlanDoc:
        return load_plan(self.directory)

    @cached_property
    def registry(self) -> Registry:
        return load_registry(self.directory / REGISTRY_FILE)

    @cached_property
    def ports(self) -> PortRegistry:
        return load_ports(self.directory / PORTS_FILE)

    @cached_property
    def routing(self) -> RoutingDoc:
        return load_routing(self.directory)

    @cached_property
    def dr(self) -> tuple[DrDoc, Path]:
        """The replication policy (inventory/dr.yaml; defaults when there is none) and its path."""
        return load_dr_config(self.directory)

    @cached_property
    def plan_state(self) -> PlanState:
        """The IP plan: demand of the inventory against the records as read."""
        return plan_state(self.loaded, self.ipplan, self.registry, self.ports)

    @cached_property
    def network(self) -> PlanInput:
        """What the network plan is built from (intents, render, verify, deploy)."""
        inv = self.inventory  # read in this order, so the first broken file is the one reported
        mgmt = self.ipplan.pools["management"]
        addr = Addressing(self.registry, str(self.directory / REGISTRY_FILE))
        active, active_file = load_active(self.directory)  # where a drill or a disaster left each database
        services = service_addresses(inv, self.dr[0], addr, active, str(active_file))
        return PlanInput(inv=inv, addr=addr, routing=self.routing, mgmt_pools={4: mgmt.ipv4, 6: mgmt.ipv6},
                         ports=self.ports, services=services)

    @cached_property
    def zone_world(self) -> World:
        """The zone policy's world (network/policy/zones.py) on this workspace's inventory and IP record: what
        `policy verify` proves and the lab's isolation check probes."""
        from network.policy.model import load_policy
        from network.policy.zones import build_world

        p = self.network
        return build_world(load_policy(self.directory), p.inv, p.addr.reg, self.dr[0])

    def allocate(self) -> Allocation:
        """Allocate and save the records (ipplan.service.allocate_and_save); later steps plan on the result."""
        done = allocate_and_save(self.plan_state)
        self.__dict__["registry"], self.__dict__["ports"] = done.registry, done.ports
        for stale in ("network", "zone_world"):  # built on the records before allocation: rebuild on next use
            self.__dict__.pop(stale, None)
        return done
