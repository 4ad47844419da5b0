"""The port record: which physical port of a router each link uses, kept like the IP registration record.

Ports follow the same rule as addresses: once a link has a port it keeps it; a new link takes the lowest
port never used on that router; a removed link's port is marked decommissioned and not handed out again.
So adding an access site, a city or a router never moves a cable on any existing router (positional
numbering would). Written by `jinbao ipplan allocate` next to the IP registry, committed with it.
Firewalls have fixed ports (transit 1, production 2, exchange 3) and are not recorded here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from core.errors import JinbaoError
from core.records import RecordFormat, Report, TsvRecord, read_rows, render_rows
from inventory.model import Inventory, Link

PORTS_FILE = "port-registry.tsv"
HEADER = ("# jinbao port record: the port number of every router link (N in the platform's port name, e.g.\n"
          "# GigabitEthernet0/0/N, ethN). Written by `jinbao ipplan allocate`; do not edit by hand.\n")
COLUMNS = ("device", "port", "key", "status")
FORMAT = RecordFormat(PORTS_FILE, HEADER, COLUMNS)
STATUSES = ("active", "decommissioned")
UPLINK_ORDER = ("primary", "backup", "access", "dr")


@dataclass(slots=True)
class PortRecord:
    device: str
    port: int
    key: str
    status: str  # active | decommissioned


PortReport = Report  # the report every record uses (core.records)


class PortRegistry(TsvRecord):
    def __init__(self, records: dict[tuple[str, str], PortRecord] | None = None) -> None:
        self.records = records or {}

    def port(self, device: str, key: str) -> int:
        rec = self.records.get((device, key))
        if rec is None or rec.status != "active":
            raise JinbaoError(f"{device}: no port recorded for {key}; run `jinbao ipplan allocate`", file=PORTS_FILE)
        return rec.port

    def render(self) -> str:
        rows = sorted(self.records.values(), key=lambda r: (r.device, r.port))
        return render_rows(FORMAT, ((r.device, str(r.port), r.key, r.status) for r in rows))


def load_ports(path: Path) -> PortRegistry:
    rows = read_rows(Path(path), FORMAT)
    if rows is None:
        return PortRegistry()
    records: dict[tuple[str, str], PortRecord] = {}
    used: set[tuple[str, int]] = set()
    for lineno, cols in rows:
        if not cols[1].isascii() or not cols[1].isdigit() or cols[3] not in STATUSES or not cols[0] or not cols[2]:
            raise FORMAT.error(path, lineno, "expected device, port number, key, active|decommissioned")
        rec = PortRecord(cols[0], int(cols[1]), cols[2], cols[3])
        if (rec.device, rec.key) in records or (rec.device, rec.port) in used:
            raise FORMAT.error(path, lineno, f"{rec.device}: port {rec.port} or {rec.key} recorded twice")
        records[(rec.device, rec.key)] = rec
        used.add((rec.device, rec.port))
    return PortRegistry(records)


def home_links(inv: Inventory, ports: PortRegistry) -> Inventory:
    """The inventory with every line between sites where the port record says it is cabled.

    The inventory's rules place a new line (primary on WR01, backup on the second router, an access site on
    the router its number picks); once a line has ports it stays on those routers, so adding a router to a
    site moves no cable and renumbers no line: existing lines keep their routers, ports and /31s, and only
    new lines go to the new router. A line whose routers are gone falls back to the rules. A removed site's
    lines are remembered too (decommissioned rows), so re-adding the site brings back the same lines."""
    if not ports.records:
        return inv
    by_key: dict[str, list[PortRecord]] = {}
    for rec in ports.records.values():
        by_key.setdefault(rec.key, []).append(rec)
    routers: dict[str, list[str]] = {}
    for d in inv.devices:
        if d.is_router:
            routers.setdefault(d.site, []).append(d.hostname)
    links = tuple(_homed(lk, by_key, routers) if lk.a_site != lk.b_site else lk for lk in inv.links)
    if links == inv.links:
        return inv
    return dataclasses.replace(inv, links=links, _site_index={})


def _homed(link: Link, by_key: dict[str, list[PortRecord]], routers: dict[str, list[str]]) -> Link:
    uppers = set(routers.get(link.a_site, ()))
    lowers = routers.get(link.b_site, [])
    # the rules' own lower router first, then the site's others: a backup line may sit on any of them
    candidates = [link.b, *(x for x in lowers if x != link.b)] if link.kind == "backup" else [link.b]
    found: list[tuple[int, int, str, str]] = []
    for rank, low in enumerate(candidates):
        rows = by_key.get(f"{link.kind}:{low}", [])
        ends = {r.device: r.status for r in rows}
        if low not in ends:
            continue
        for r in rows:
            if r.device in uppers:
                live = ends[low] == "active" and r.status == "active"
                found.append((0 if live else 1, rank, r.device, low))
    if not found:
        return link
    _, _, up, low = min(found)
    return link if (up, low) == (link.a, link.b) else dataclasses.replace(link, a=up, b=low)


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
        lines = sorted(ups[d.hostname], key=lambda lk: UPLINK_ORDER.index(lk.kind))
        keys = [lk.id for lk in lines if lk.kind != "dr"]
        keys += internal[d.hostname]
        site = inv.site(d.site)
        if site.kind == "access":
            keys.append("lan")
        elif d.site in has_fw:
            keys.append("transit")
        # DR lines last, in the order they came: a DR centre's own line, then the provinces' lines to the
        # national DR centre (a new router is cabled the same way, so allocating from scratch gives the record)
        dr_downs = [k for k in downs[d.hostname] if k.startswith("dr:")]
        demand[d.hostname] = (keys + [k for k in downs[d.hostname] if k not in dr_downs]
                              + [lk.id for lk in lines if lk.kind == "dr"] + dr_downs)
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
