"""The IP plan's edges: read inventory, rules and registry from a directory; write the registry back."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from inventory.load import Loaded, load
from ipplan.allocator import Report, allocate
from ipplan.check import Finding, check_coverage, check_registry
from ipplan.config import PLAN_FILE, REGISTRY_FILE, PlanDoc, load_plan
from ipplan.demand import Request, build_demand
from ipplan.ports import PORTS_FILE, PortRegistry, PortReport, allocate_ports, load_ports, port_demand
from ipplan.registry import Registry, load_registry


@dataclass(frozen=True)
class PlanState:
    loaded: Loaded
    plan: PlanDoc
    registry: Registry
    demand: list[Request]
    ports: PortRegistry
    port_demand: dict[str, list[str]]

    @property
    def registry_path(self) -> Path:
        return self.loaded.directory / REGISTRY_FILE


def open_plan(directory: Path) -> PlanState:
    """Everything the IP plan needs, read from the directory (a command that also plans the network reads
    it once through `network.workspace.Workspace`)."""
    loaded = load(directory)
    plan = load_plan(directory)
    registry = load_registry(Path(directory) / REGISTRY_FILE)
    return plan_state(loaded, plan, registry, load_ports(Path(directory) / PORTS_FILE))


def plan_state(loaded: Loaded, plan: PlanDoc, registry: Registry, ports: PortRegistry) -> PlanState:
    """The IP plan's state from what is already loaded: the inventory's demand against the records."""
    inv = loaded.inventory
    return PlanState(loaded, plan, registry, build_demand(inv, plan), ports, port_demand(inv))


class Allocation(NamedTuple):
    registry: Registry
    report: Report
    ports: PortRegistry
    port_report: PortReport

    @property
    def changed(self) -> bool:
        return self.report.changed or self.port_report.changed


def allocate_and_save(state: PlanState) -> Allocation:
    """Allocate addresses and ports; write each record only if it changed (atomically), and neither unless
    both allocations succeeded, so a failed run or a rerun touches nothing."""
    reg, report = allocate(state.demand, state.registry, state.plan, str(state.loaded.directory / PLAN_FILE))
    ports, port_report = allocate_ports(state.port_demand, state.ports)
    if report.changed or not state.registry_path.exists():
        reg.save(state.registry_path)
    ports_path = state.loaded.directory / PORTS_FILE
    if port_report.changed or not ports_path.exists():
        ports.save(ports_path)
    return Allocation(reg, report, ports, port_report)


def port_findings(state: PlanState, ports: PortRegistry | None = None) -> list[Finding]:
    recorded = ports if ports is not None else state.ports
    return [Finding("unallocated", f"port/{dev}/{key}", "needed by the inventory but has no port")
            for dev, keys in state.port_demand.items() for key in keys
            if (rec := recorded.records.get((dev, key))) is None or rec.status != "active"]


def check(state: PlanState, registry: Registry | None = None, ports: PortRegistry | None = None) -> list[Finding]:
    reg = registry if registry is not None else state.registry
    return check_registry(reg, state.plan) + check_coverage(reg, state.demand) + port_findings(state, ports)
