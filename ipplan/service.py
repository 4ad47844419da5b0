"""The IP plan's edges: read inventory, rules and registry from a directory; write the registry back."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from inventory.load import Loaded, load
from ipplan.allocator import Report, allocate
from ipplan.check import Finding, check_coverage, check_registry
from ipplan.config import PLAN_FILE, REGISTRY_FILE, PlanDoc, load_plan
from ipplan.demand import Request, build_demand
from ipplan.registry import Registry, load_registry


@dataclass(frozen=True)
class PlanState:
    loaded: Loaded
    plan: PlanDoc
    registry: Registry
    demand: list[Request]

    @property
    def registry_path(self) -> Path:
        return self.loaded.directory / REGISTRY_FILE


def open_plan(directory: Path) -> PlanState:
    loaded = load(directory)
    plan = load_plan(directory)
    registry = load_registry(Path(directory) / REGISTRY_FILE)
    return PlanState(loaded, plan, registry, build_demand(loaded.inventory, plan))


def allocate_and_save(state: PlanState) -> tuple[Registry, Report]:
    """Allocate; write the registry only if something changed (atomically), so reruns touch nothing."""
    reg, report = allocate(state.demand, state.registry, state.plan, str(state.loaded.directory / PLAN_FILE))
    if report.changed or not state.registry_path.exists():
        reg.save(state.registry_path)
    return reg, report


def check(state: PlanState, registry: Registry | None = None) -> list[Finding]:
    reg = registry if registry is not None else state.registry
    return check_registry(reg, state.plan) + check_coverage(reg, state.demand)
