"""The registration record as NetBox (4.4) bulk-import CSVs, one file per object type, in import order.

NetBox's import is all-or-nothing per upload and resolves references by *name* (VRF, tenant, role), so the
objects a prefix points at must exist first and be named exactly as referenced. The files, in the order
an operator imports them (docs/ipplan.md has the procedure):

  1-tenants.csv       one tenant per province-level division and the ministry (who runs the addresses)
  2-sites.csv         every site in the record (a removed site: status retired)
  3-vrfs.csv          business, office, management, dmz (enforce_unique: NetBox refuses overlaps in a VRF)
  4-roles.csv         one prefix role per purpose (national pool, city aggregate, access LAN, reserved …)
  5-prefixes.csv      every block, unique per (vrf, prefix), with status, role, tenant, site scope, is_pool
  6-ip-addresses.csv  host allocations (loopbacks, gateways, management and zone hosts) as IP addresses

A prefix's site is its scope (`scope_type` dcim.site, `scope_id` the site's NetBox id). NetBox numbers
sites itself, so the ids are those a NetBox with no sites assigns when 2-sites.csv is imported (1, 2, …
in file order) unless a map exported from the NetBox at hand is given (`site_ids`).
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

from core.errors import JinbaoError
from inventory.model import Inventory
from ipplan.addr import BITS
from ipplan.allocator import is_container
from ipplan.keys import RESERVED_PREFIX
from ipplan.registry import Record, Registry

FILES = ("1-tenants.csv", "2-sites.csv", "3-vrfs.csv", "4-roles.csv", "5-prefixes.csv", "6-ip-addresses.csv")
# VRF per network: the business, office and management networks never share a routing table.
VRF = {"business": "business", "loopback": "business", "p2p": "business", "service": "business", "dmz": "dmz",
       "office": "office", "management": "management"}
VRF_DESCRIPTION = {"business": "business private network (business, loopback, link and service pools)",
                   "office": "office network (decision zones)", "management": "out-of-band management",
                   "dmz": "DMZ zones"}
PREFIX_STATUS = {"active": "active", "decommissioned": "deprecated", "reserved": "reserved"}
IP_STATUS = PREFIX_STATUS
RESERVED_ROLE = "reserved"
POOL_PURPOSES = ("management subnet", "p2p link")  # every address usable: NetBox's is_pool
MAX_DESCRIPTION = 200  # NetBox's description field


def _csv(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return out.getvalue()


def slug(text: str) -> str:
    s = "".join(c if c.isascii() and c.isalnum() else "-" for c in text.lower())
    return "-".join(p for p in s.split("-") if p)


def role_name(rec: Record) -> str:
    """The prefix role: the purpose without its detail; every reservation is role `reserved` (its note goes to
    the description, never into a role name)."""
    if rec.key.startswith(RESERVED_PREFIX):
        return RESERVED_ROLE
    return rec.purpose.split(" (")[0]


def _description(*parts: str) -> str:
    text = " ".join(p for p in parts if p)
    return text if len(text) <= MAX_DESCRIPTION else text[:MAX_DESCRIPTION - 1] + "…"


def _is_address(rec: Record) -> bool:
    return rec.plen == BITS[rec.af] and not rec.key.startswith(RESERVED_PREFIX)


class _Tenants:
    """One tenant per province-level division (and the ministry), named after its data centre's site."""

    def __init__(self, inv: Inventory) -> None:
        self.names: dict[str, str] = {}
        self.rows: list[list[str]] = []
        for s in inv.sites:
            if s.kind == "dc" and s.tier in ("ministry", "province", "municipality") and s.code == s.province:
                short = s.name_zh.removesuffix("数据中心") or s.name_zh
                name = f"{s.code} {short}"
                self.names[s.code] = name
                self.rows.append([name, f"jb-{s.code}", _description(s.name_en)])

    def of(self, site_id: str) -> str:
        code = site_id.split("-", 1)[0]
        return self.names.get(code) or self.names.get(code[:2] + "0000", "")


def netbox_files(reg: Registry, inv: Inventory, site_ids: Mapping[str, int] | None = None) -> dict[str, str]:
    """The six CSVs, as {file name: text}, in import order (FILES)."""
    tenants = _Tenants(inv)
    inv_sites = {s.id: s for s in inv.sites}
    recs = reg.sorted()

    # sites: the inventory's, then any site only the record still names (removed: retired)
    site_rows: list[list[str]] = []
    order: list[str] = []
    for s in inv.sites:
        order.append(s.id)
        site_rows.append([s.id, slug(s.id), "active", tenants.of(s.id), "Asia/Shanghai",
                          _description(s.name_zh, "/", s.name_en)])
    for sid in sorted({r.site for r in recs if r.site and r.site not in inv_sites}):
        order.append(sid)
        site_rows.append([sid, slug(sid), "retired", tenants.of(sid), "Asia/Shanghai",
                          "no longer in the inventory; its prefixes are kept, deprecated"])
    if site_ids is None:
        ids = {sid: i for i, sid in enumerate(order, start=1)}
    else:
        missing = [sid for sid in order if sid not in site_ids]
        if missing:
            raise JinbaoError(f"site {missing[0]} is not in the NetBox site list (+{len(missing) - 1} more); import"
                              " 2-sites.csv first, then export the site list again", entry="--netbox-sites")
        ids = dict(site_ids)

    prefixes: dict[tuple[str, str], list[Record]] = defaultdict(list)
    addresses: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for r in recs:
        if _is_address(r):
            addresses[(VRF[r.pool], r.prefix)].append(r)
        else:
            prefixes[(VRF[r.pool], r.prefix)].append(r)

    roles: dict[str, None] = {}
    prefix_rows: list[list[str]] = []
    for (vrf, prefix), group in prefixes.items():
        # one prefix per (vrf, prefix): an access site's aggregate is its only LAN; keep the most specific
        # record (the LAN: the deepest, it names what the block is for) and mention the others
        r = _most_specific(reg, group)
        container = is_container(r) and r.status == "active"
        status = "container" if container else PREFIX_STATUS[r.status]
        role = role_name(r)
        roles[role] = None
        others = [x.purpose for x in group if x is not r]
        also = "; also " + ", ".join(others) if others else ""
        note = r.purpose.removeprefix("reserved:").strip() if r.key.startswith(RESERVED_PREFIX) else r.purpose
        scope = ["dcim.site", str(ids[r.site])] if r.site else ["", ""]
        prefix_rows.append([prefix, vrf, tenants.of(r.site) if r.site else "", status, role, *scope,
                            "true" if r.purpose.startswith(POOL_PURPOSES) else "false", "false",
                            _description(r.site, note + also)])

    address_rows: list[list[str]] = []
    for group in addresses.values():
        # an access site's loopback aggregate is its router's only /32: one address, the router's
        r = _most_specific(reg, group)
        parent = reg.get(r.parent)
        # a host inside a LAN carries the LAN's length (NetBox's convention); a loopback its own /32 or /128
        plen = parent.plen if parent is not None and not is_container(parent) else r.plen
        address_rows.append([f"{r.prefix.split('/')[0]}/{plen}", VRF[r.pool], tenants.of(r.site),
                             IP_STATUS[r.status], "loopback" if r.pool == "loopback" else "",
                             _description(r.site, r.purpose, r.key.rsplit("/", 1)[-1])])

    vrfs = sorted(set(VRF.values()))
    return {
        FILES[0]: _csv(["name", "slug", "description"], tenants.rows),
        FILES[1]: _csv(["name", "slug", "status", "tenant", "time_zone", "description"], site_rows),
        FILES[2]: _csv(["name", "enforce_unique", "description"], [[v, "true", VRF_DESCRIPTION[v]] for v in vrfs]),
        FILES[3]: _csv(["name", "slug", "description"], [[n, slug(n), f"jinbao: {n}"] for n in sorted(roles)]),
        FILES[4]: _csv(["prefix", "vrf", "tenant", "status", "role", "scope_type", "scope_id", "is_pool",
                        "mark_utilized", "description"], prefix_rows),
        FILES[5]: _csv(["address", "vrf", "tenant", "status", "role", "description"], address_rows),
    }


def _most_specific(reg: Registry, group: list[Record]) -> Record:
    """Of records with the same block, the one NetBox gets: active first, then the deepest in the tree."""
    return min(group, key=lambda r: (0 if r.status == "active" else 1, -_depth(reg, r)))


def _depth(reg: Registry, r: Record) -> int:
    d = 0
    seen: set[str] = set()
    while r.parent and r.parent not in seen and (p := reg.get(r.parent)) is not None:
        seen.add(r.parent)
        r, d = p, d + 1
    return d


def write_netbox(reg: Registry, inv: Inventory, out_dir: Path, site_ids: Mapping[str, int] | None = None,
                 ) -> list[Path]:
    """Write the six files into `out_dir`, all or nothing: rendered in memory, written to a temporary
    directory beside it, then each renamed into place."""
    files = netbox_files(reg, inv, site_ids)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.netbox-", dir=out_dir.parent))
    try:
        for name, text in files.items():
            (tmp / name).write_text(text, encoding="utf-8")
        for name in files:
            os.replace(tmp / name, out_dir / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return [out_dir / n for n in files]


def read_site_ids(text: str, file: str) -> dict[str, int]:
    """A NetBox site list exported as CSV (Sites > Export: `ID` and `Name` columns, any case) as {name: id}."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise JinbaoError("empty site list", file=file)
    header = [h.strip().lower() for h in rows[0]]
    if "id" not in header or "name" not in header:
        raise JinbaoError("needs the columns ID and Name (NetBox: Sites > Export)", file=file, entry="line 1")
    i, n = header.index("id"), header.index("name")
    out: dict[str, int] = {}
    for lineno, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        try:
            out[row[n]] = int(row[i])
        except (IndexError, ValueError):
            raise JinbaoError("expected a numeric ID and a name", file=file, entry=f"line {lineno}") from None
    return out
