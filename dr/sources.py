"""Where the DR commands get their pairs and their Ansible inventory (I/O edge).

- Pairs: ``--plan FILE`` (the JSON of ``jinbao dr plan --json``, e.g. reviewed and kept with a change), else the
  replication plan computed from the inventory directory.
- Ansible inventory: the lab's (generated from its state) with ``--lab NAME``, else the source-of-truth
  plugin's configuration ``inventory/jinbao.yml``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import JinbaoError
from core.playbooks import LAB_VAULT_PASSWORD, PLUGIN_INVENTORY
from dr.plan import Pair

if TYPE_CHECKING:
    from network.workspace import Workspace

FIELDS = set(Pair.__dataclass_fields__)
OPTIONAL = {"service_v4", "service_v6"}  # plans written before the service addresses existed lack them


def pairs_from_file(path: Path) -> list[Pair]:
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise JinbaoError(f"cannot read the plan: {e}", file=str(path)) from None
    rows = doc.get("pairs") if isinstance(doc, dict) else None
    if not isinstance(rows, list):
        raise JinbaoError("expected {\"pairs\": [...]} (jinbao dr plan --json)", file=str(path))
    out = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not FIELDS - OPTIONAL <= set(row) <= FIELDS:
            raise JinbaoError(f"a pair needs exactly {', '.join(sorted(FIELDS - OPTIONAL))}"
                              f" (and optionally {', '.join(sorted(OPTIONAL))})", file=str(path), entry=f"pairs[{i}]")
        if row["mode"] not in ("async", "sync"):
            raise JinbaoError(f"mode {row['mode']!r}: async or sync", file=str(path), entry=f"pairs[{i}]")
        out.append(Pair(**{k: str(v) for k, v in row.items()}))
    return out


def load_pairs(plan_file: Path | None, inventory_dir: Path) -> list[Pair]:
    if plan_file is not None:
        return pairs_from_file(plan_file)
    return plan_pairs(inventory_dir)


def plan_pairs(inventory_dir: Path, ws: Workspace | None = None) -> list[Pair]:
    """The replication plan of an inventory directory, each pair with its service addresses."""
    from dr.config import load_dr_config
    from dr.plan import replication_plan, with_service_addresses
    from network.workspace import Workspace

    ws = ws or Workspace(inventory_dir)
    doc, path = load_dr_config(inventory_dir)
    return with_service_addresses(replication_plan(ws.inventory, doc, str(path)), ws.network.addr)


def pair_of_site(pairs: list[Pair], site: str) -> Pair:
    for p in pairs:
        if p.primary_site == site:
            return p
    raise JinbaoError(f"no replication pair has its primary at {site!r}", entry="--site")


def ansible_inventory(lab: str | None, tmp: Path) -> Path:
    if lab:
        from lab.servers import running_spec, write_inventory

        return write_inventory(running_spec(lab), tmp / "inventory")
    if not PLUGIN_INVENTORY.exists():
        raise JinbaoError("the source-of-truth inventory plugin's configuration is missing (issue 12 item 1);"
                          " use --lab NAME for a lab", file=str(PLUGIN_INVENTORY))
    return PLUGIN_INVENTORY


def vault_file(lab: str | None, given: Path | None) -> Path | None:
    return given or (LAB_VAULT_PASSWORD if lab else None)
