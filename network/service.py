"""The network plan's edges: read inventory, IP registry and routing policy from a directory."""

from __future__ import annotations

from pathlib import Path

from inventory.load import load
from ipplan.config import REGISTRY_FILE, load_plan
from ipplan.registry import load_registry
from network.addressing import Addressing
from network.plan import PlanInput
from network.ports import PORTS_FILE, home_links, load_ports
from network.routing_config import load_routing


def open_network(directory: Path) -> PlanInput:
    directory = Path(directory)
    ports = load_ports(directory / PORTS_FILE)
    inv = home_links(load(directory).inventory, ports)  # lines where the port record has them cabled
    plan = load_plan(directory)
    registry = load_registry(directory / REGISTRY_FILE)
    return PlanInput(inv=inv, addr=Addressing(registry, str(directory / REGISTRY_FILE)),
                     routing=load_routing(directory),
                     mgmt_pools={4: plan.pools["management"].ipv4, 6: plan.pools["management"].ipv6},
                     ports=ports)
