"""The port record: which physical port of a router each link uses, kept like the IP registration record.

Ports follow the same rule as addresses: once a link has a port it keeps it; a new link takes the lowest
port never used on that router; a removed link's port is marked decommissioned and not handed out again.
So adding an access site, a city or a router never moves a cable on any existing router (positional
numbering would). Written by `jinbao ipplan allocate` next to the IP registry, committed with it.
Firewalls have fixed ports (transit 1, production 2, exchange 3) and are not recorded here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.errors import JinbaoError
from core.fsutil import atomic_write_text
from inventory.model import Inventory

PORTS_FILE = "port-registry.tsv"
HEADER = ("# jinbao port record: the port number of every router link (N in the platform's port name, e.g.\n"
          "# GigabitEthernet0/0/N, ethN). Written by `jinbao ipplan allocate`; do not edit by hand.\n")
COLUMNS = ("device", "port", "key", "status")
UPLINK_ORDER = ("primary", "backup", "access")


@dataclass(slots=True)
class PortRecord:
    device: str
    port: int
    key: str
    status: str  # active | decommissioned


@dataclass
class PortReport:
    added: list[str] = field(default_factory=list)
    reactivated: list[str] = field(default_factory=list)
    decommissioned: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.reactivated or self.decommissioned)


class PortRegistry:
    def __init__(self, records: dict[tuple[str, str], PortRecord] | None = None) -> None:
        self.records = records or {}

    def port(self, device: str, key: str) -> int:
        rec = self.records.get((device, key))
        if rec is None or rec.status != "active":
            raise JinbaoError(f"{device}: no port recorded for {key}; run `jinbao ipplan allocate`", file=PORTS_FILE)
        return rec.port

    def render(self) -> str:
        rows = sorted(self.records.values(), key=lambda r: (r.device, r.port))
        return HEADER + "\t".join(COLUMNS) + "\n" + "".join(
            f"{r.device}\t{r.port}\t{r.key}\t{r.status}\n" for r in rows)

    def save(self, path: Path) -> None:
        atomic_write_text(path, self.render())


def load_ports(path: Path) -> PortRegistry:
    path = Path(path)
    if not path.exists():
        return PortRegistry()
    records: dict[tuple[str, str], PortRecord] = {}
    used: set[tuple[str, int]] = set()
    header = False
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        if not header:
            if tuple(cols) != COLUMNS:
                raise JinbaoError(f"header must be {' '.join(COLUMNS)}", file=str(path), entry=f"line {lineno}")
            header = True
            continue
        if len(cols) != 4 or not cols[1].isdigit() or cols[3] not in ("active", "decommissioned"):
            raise JinbaoError("expected device, port number, key, active|decommissioned", file=str(path),
                              entry=f"line {lineno}")
        rec = PortRecord(cols[0], int(cols[1]), cols[2], cols[3])
        if (rec.device, rec.key) in records or (rec.device, rec.port) in used:
            raise JinbaoError(f"{rec.device}: port {rec.port} or {rec.key} recorded twice", file=str(path),
                              entry=f"line {lineno}")
        records[(rec.device, rec.key)] = rec
        used.add((rec.device, rec.port))
    return PortRegistry(records)


def port_demand(inv: Inventory) -> dict[str, list[str]]:
    """Per router, the keys needing a port, in the order a new router is cabled: uplinks (primary, backup),
    links inside the site, the site LAN (firewall transit or access LAN), then downlinks."""
    has_fw = {d.site for d in inv.devices if d.role == "FW"}
    demand: dict[str, list[str]] = {d.hostname: [] for d in inv.devices if d.is_router}
    ups: dict[str, list] = {h: [] for h in demand}
    internal: dict[str, list[str]] = {h: [] for h in demand}
    downs: dict[str, list[str]] = {h: [] for h in demand}
    for link in inv.links:
        if link.a_site == link.b_site:
            internal[link.a].append(link.id)
            internal[link.b].append(link.id)
        else:
            ups[link.b].append(link)
            downs[link.a].append(link.id)
    for d in inv.devices:
        if not d.is_router:
            continue
        keys = [lk.id for lk in sorted(ups[d.hostname], key=lambda lk: UPLINK_ORDER.index(lk.kind))]
        keys += internal[d.hostname]
        site = inv.site(d.site)
        if site.kind == "access":
            keys.append("lan")
        elif d.site in has_fw:
            keys.append("transit")
        demand[d.hostname] = keys + downs[d.hostname]
    return demand


def allocate_ports(demand: dict[str, list[str]], registry: PortRegistry) -> tuple[PortRegistry, PortReport]:
    """Pure: keep every recorded port, give new keys the lowest port never used on their router."""
    records = {k: PortRecord(r.device, r.port, r.key, r.status) for k, r in registry.records.items()}
    report = PortReport()
    used: dict[str, set[int]] = {}
    for r in records.values():
        used.setdefault(r.device, set()).add(r.port)
    wanted: set[tuple[str, str]] = set()
    for device, keys in demand.items():
        taken = used.setdefault(device, set())
        for key in keys:
            wanted.add((device, key))
            rec = records.get((device, key))
            if rec is None:
                port = next(n for n in range(1, len(taken) + 2) if n not in taken)
                taken.add(port)
                records[(device, key)] = PortRecord(device, port, key, "active")
                report.added.append(f"{device} {key}")
            elif rec.status != "active":
                rec.status = "active"
                report.reactivated.append(f"{device} {key}")
    for k, rec in records.items():
        if rec.status == "active" and k not in wanted:
            rec.status = "decommissioned"
            report.decommissioned.append(f"{rec.device} {rec.key}")
    return PortRegistry(records), report
