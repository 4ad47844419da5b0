"""The IP plan's edges: read inventory, rules and registry from a directory; write the registry back."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from core.errors import JinbaoError
from core.findings import Finding
from inventory.load import Loaded, load, refuse_package_write
from ipplan.allocator import Report, allocate
from ipplan.check import check_coverage, check_registry
from ipplan.config import PLAN_FILE, REGISTRY_FILE, PlanDoc, load_plan
from ipplan.demand import Request, build_demand
from ipplan.ports import PORTS_FILE, PortRegistry, PortReport, allocate_ports, home_links, load_ports, port_demand
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


def load_cabled(directory: Path, ports: PortRegistry | None = None) -> Loaded:
    """The inventory with its lines where the port record has them cabled (ipplan.ports.home_links)."""
    loaded = load(directory)
    if ports is None:
        ports = load_ports(Path(directory) / PORTS_FILE)
    return dataclasses.replace(loaded, inventory=home_links(loaded.inventory, ports))


def open_plan(directory: Path) -> PlanState:
    ports = load_ports(Path(directory) / PORTS_FILE)
    loaded = load_cabled(directory, ports)
    plan = load_plan(directory)
    registry = load_registry(Path(directory) / REGISTRY_FILE)
    return plan_state(loaded, plan, registry, ports)


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
    both allocations succeeded, so a failed run or a rerun touches nothing. A record that `ipplan check` rejects
    is refused first: adding rows on top of a corrupt record would bury the damage."""
    refuse_package_write(state.loaded.directory)
    # a changed pool is the plan's doing, not the record's: the allocator names the plan entry for it
    bad = [f for f in check_registry(state.registry, state.plan) if f.rule != "pool-changed"]
    if bad:
        f = bad[0]
        more = f" (+{len(bad) - 1} more)" if len(bad) > 1 else ""
        raise JinbaoError(f"the record fails its check, nothing allocated: {f.rule} {f.subject}: {f.message}{more};"
                          " see `jinbao ipplan check`", file=str(state.registry_path))
    reg, report = allocate(state.demand, state.registry, state.plan, str(state.loaded.directory / PLAN_FILE))
    ports, port_report = allocate_ports(state.port_demand, state.ports)
    ports_path = state.loaded.directory / PORTS_FILE
    for changed, record, path in ((report.changed, reg, state.registry_path), (port_report.changed, ports, ports_path)):
        if changed or not path.exists():
            try:
                record.save(path)
            except OSError as e:  # a read-only inventory, a full disk: one line, the record untouched
                raise JinbaoError(f"cannot write the record: {e.strerror or e}", file=str(path)) from None
    return Allocation(reg, report, ports, port_report)


def export_netbox(directory: Path, out_dir: Path, sites_file: Path | None = None) -> list[Path]:
    """The record as NetBox import CSVs in `out_dir` (ipplan.netbox); `sites_file` maps site names to the
    ids of the NetBox at hand (its exported site list)."""
    from ipplan.netbox import read_site_ids, write_netbox

    site_ids = None
    if sites_file is not None:
        try:
            text = Path(sites_file).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as e:
            raise JinbaoError(f"cannot read the NetBox site list: {e}", file=str(sites_file)) from None
        site_ids = read_site_ids(text, str(sites_file))
    return write_netbox(load_registry(Path(directory) / REGISTRY_FILE), load(directory).inventory, out_dir,
                        site_ids)


def port_findings(state: PlanState, ports: PortRegistry | None = None) -> list[Finding]:
    recorded = ports if ports is not None else state.ports
    return [Finding("unallocated", f"port/{dev}/{key}", "needed by the inventory but has no port")
            for dev, keys in state.port_demand.items() for key in keys
            if (rec := recorded.records.get((dev, key))) is None or rec.status != "active"]


def check(state: PlanState, registry: Registry | None = None, ports: PortRegistry | None = None) -> list[Finding]:
    reg = registry if registry is not None else state.registry
    return check_registry(reg, state.plan) + check_coverage(reg, state.demand) + port_findings(state, ports)
