"""The replication plan: every production database paired with its replica in a DR centre.

Pure: (inventory, policy) -> pairs. A city centre replicates to its province's DR centre (the national
DR centre when the province has none, or when that DR centre stands in the city itself); provinces,
municipalities and the ministry replicate to the national DR centre. A pair is refused when the replica
would stand in the primary's own city (one disaster takes both), when the replica's DR centre has no
WAN line of its own (losing the primary's data centre would cut the replica off too), and when overrides
make replication go round in a circle.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from core.errors import JinbaoError
from dr.config import DrDoc
from inventory.drpolicy import DB_ROLE, default_replica_site, first_db, replica_site
from inventory.model import Inventory, Site
from network.addressing import Addressing

__all__ = ["DB_ROLE", "Pair", "default_replica_site", "has_own_lines", "replication_plan", "slot_name",
           "with_service_addresses"]


@dataclass(frozen=True, slots=True)
class Pair:
    primary: str  # hostname of the production database server
    replica: str  # hostname of the DR centre's database server holding the standby
    mode: str  # async | sync
    primary_site: str
    replica_site: str
    slot: str  # replication slot and standby application_name on the primary (stable, per primary)
    # the service address (IP record, pool `service`): what clients are given; the active site announces it
    service_v4: str = ""
    service_v6: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def has_own_lines(inv: Inventory, dr_site: Site) -> bool:
    """A DR centre has a WAN line that does not end in the data centre it protects."""
    return any(lk.kind != "internal" and dr_site.id in (lk.a_site, lk.b_site)
               and dr_site.parent not in (lk.a_site, lk.b_site) for lk in inv.links)


def slot_name(hostname: str) -> str:
    """PostgreSQL slot names allow [a-z0-9_] only: derived from the primary's hostname."""
    return hostname.lower().replace("-", "_")


def replication_plan(inv: Inventory, doc: DrDoc, source: str = "dr.yaml") -> list[Pair]:
    devs = inv.devices_of()
    for sid in doc.sites:
        if not inv.has_site(sid):
            raise JinbaoError(f"unknown site {sid!r}", file=source, entry=f"sites.{sid}")
    pairs: list[Pair] = []
    for site in inv.sites:
        if site.kind != "dc":
            continue
        primary = first_db(devs[site.id])
        if primary is None:
            continue
        over = doc.sites.get(site.id)
        entry = f"sites.{site.id}" if over else "defaults"
        rsid = replica_site(inv, doc, site)  # the rule the inventory plugins show as jinbao_dr_site
        if rsid is None:
            raise JinbaoError(f"{site.id}: no DR centre to hold its replica (add one or set replica_site)",
                              file=source, entry=entry)
        if not inv.has_site(rsid):
            raise JinbaoError(f"replica site {rsid!r} is not in the inventory", file=source, entry=entry)
        rsite = inv.site(rsid)
        replica = first_db(devs[rsid])
        if replica is None:
            raise JinbaoError(f"replica site {rsid} has no database server", file=source, entry=entry)
        if rsite.city == site.city:
            hint = "" if over and over.replica_site else f" (set sites.{site.id}.replica_site)"
            raise JinbaoError(f"replica site {rsid} is in the same city ({site.city}) as its primary {site.id}"
                              f"{hint}", file=source, entry=entry)
        if rsite.kind == "dr" and not has_own_lines(inv, rsite):
            raise JinbaoError(f"DR centre {rsid} has no WAN line of its own: losing {rsite.parent} would cut"
                              f" off {site.id}'s replica too", file=source, entry=entry)
        mode = (over.mode if over and over.mode else None) or doc.defaults.mode
        pairs.append(Pair(primary.hostname, replica.hostname, mode, site.id, rsid, slot_name(primary.hostname)))
    _refuse_cycles(pairs, source)
    return pairs


def with_service_addresses(pairs: list[Pair], addr: Addressing) -> list[Pair]:
    """Each pair with its database's service address from the IP record (refused, naming the key, when
    `jinbao ipplan allocate` has not given it one)."""
    return [replace(p, service_v4=addr.service(p.primary_site, p.primary, 4),
                    service_v6=addr.service(p.primary_site, p.primary, 6)) for p in pairs]


def _refuse_cycles(pairs: list[Pair], source: str) -> None:
    """Replica sites that are themselves primaries must not lead back to where they started."""
    nxt = {p.primary_site: p.replica_site for p in pairs}
    for start in nxt:
        seen = [start]
        cur = nxt.get(start)
        while cur is not None:
            if cur == start:
                chain = " -> ".join([*seen, start])
                raise JinbaoError(f"replication goes round in a circle: {chain}", file=source,
                                  entry=f"sites.{start}")
            if cur in seen:
                break
            seen.append(cur)
            cur = nxt.get(cur)
