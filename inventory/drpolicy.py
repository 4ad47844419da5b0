"""Which DR centre backs each data centre: the one rule, read by the replication plan (dr/plan.py) and by
the inventory plugins (plugins/hostvars.py: jinbao_dr_site, jinbao_dr_partner).

It lives here, below both, because the plugins may not import dr/ (layers) and the two must never disagree.
Inputs: the inventory and the replication policy `inventory/dr.yaml` (typed below; per-site overrides).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.yamlio import parse_model, read_yaml
from inventory.model import Device, Inventory, Site

DR_FILE = "dr.yaml"
ACTIVE_FILE = "dr-active.yaml"  # which site runs each replicated database now (docs/dr.md); absent: the primaries
DB_ROLE = "DB"
Mode = Literal["async", "sync"]


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DefaultsDoc(_Doc):
    mode: Mode = "async"


class SiteDoc(_Doc):
    mode: Mode | None = None
    replica_site: str | None = Field(None, min_length=1)


class DrDoc(_Doc):
    version: Literal[1]
    defaults: DefaultsDoc = DefaultsDoc()
    sites: dict[str, SiteDoc] = {}


class ActiveDoc(_Doc):
    """`dr-active.yaml`: primary site -> the site that runs its database now and announces its service address.
    Written when a drill or a disaster moves a database; `jinbao deploy` then renders the routes there."""

    version: Literal[1]
    active: dict[str, str] = {}


def load_active(directory: Path) -> tuple[dict[str, str], Path]:
    """The state record of an inventory directory; a missing file means every database at its primary."""
    path = Path(directory) / ACTIVE_FILE
    if not path.exists():
        return {}, path
    return dict(parse_model(ActiveDoc, read_yaml(path), path).active), path


ACTIVE_HEADER = ("# Where each replicated production database runs now (docs/dr.md), written by `jinbao dr drill`\n"
                 "# after a promotion; absent entry: at its primary. Read by render, deploy and verify.\n")


def active_entries(current: dict[str, str], primary_site: str, now_at: str) -> dict[str, str]:
    """The record after a drill (pure): the database of `primary_site` now runs at `now_at`; back at its
    primary site, its entry goes (an absent entry means the primary)."""
    out = {k: v for k, v in current.items() if k != primary_site}
    if now_at != primary_site:
        out[primary_site] = now_at
    return dict(sorted(out.items()))


def record_active(directory: Path, primary_site: str, now_at: str) -> Path:
    """Write the state record of an inventory directory (atomic: temp file, then rename); with no entry
    left the file is removed, which means every database at its primary. Returns its path."""
    import yaml

    from core.fsutil import atomic_write_text

    current, path = load_active(directory)
    entries = active_entries(current, primary_site, now_at)
    if not entries:
        path.unlink(missing_ok=True)
        return path
    atomic_write_text(path, ACTIVE_HEADER + yaml.safe_dump({"version": 1, "active": entries}, sort_keys=False))
    return path


def load_dr_config(directory: Path) -> tuple[DrDoc, Path]:
    """The replication policy of an inventory directory; a missing file means the defaults."""
    path = Path(directory) / DR_FILE
    if not path.exists():
        return DrDoc(version=1), path
    return parse_model(DrDoc, read_yaml(path), path), path


def _ministry(inv: Inventory) -> str:
    return next(s.code for s in inv.sites if s.tier == "ministry" and s.kind == "dc")


def default_replica_site(inv: Inventory, site: Site) -> str | None:
    """Where a data centre's replica goes when dr.yaml says nothing: a city centre to its province's DR
    centre, everything else (and a city that hosts its province's DR centre, e.g. Datong: one disaster
    must not take both copies) to the national DR centre."""
    national = f"{_ministry(inv)}-DR"
    if site.tier == "city":
        own = f"{site.province}-DR"
        if inv.has_site(own) and inv.site(own).city != site.city:
            return own
    return national if inv.has_site(national) else None


def replica_site(inv: Inventory, doc: DrDoc, site: Site) -> str | None:
    """The DR centre holding this site's replica: dr.yaml's override, else the default rule. Only data
    centres have one (DR centres and access sites: None). Not validated here: the plan refuses bad ones."""
    if site.kind != "dc":
        return None
    over = doc.sites.get(site.id)
    return (over.replica_site if over else None) or default_replica_site(inv, site)


def first_db(devices: list[Device]) -> Device | None:
    """The site's production database server that is replicated (the lowest-numbered DB)."""
    dbs = sorted((d for d in devices if d.role == DB_ROLE), key=lambda d: d.index)
    return dbs[0] if dbs else None
