"""The lab as a deploy, backup or drift target: the slice recorded at `jinbao lab up`, its management
addresses, its LAB-ONLY key. Built from the same plan as the real fleet (`network.fleet`)."""

from __future__ import annotations

import json
from pathlib import Path

from core.errors import JinbaoError
from core.fsutil import atomic_write_text
from inventory.scope import hosts_in_scope
from lab import names, runtime
from lab.slice import MGMT_NET, SLICES, LabPlan, build_lab, parse_mgmt_net
from network.fleet import Fleet
from network.secrets import LabTestSecrets
from network.targets import Access

LAB_META = "jinbao-slice.json"


def lab_meta(slice_name: str, inventory_dir: Path, mgmt_net: str, production_bfd: bool = False) -> dict[str, str]:
    """What `jinbao lab up` records of a lab (read back by `read_lab_meta`)."""
    return {"slice": slice_name, "inventory": str(Path(inventory_dir).resolve()), "mgmt_net": mgmt_net,
            "bfd": "production" if production_bfd else "lab"}


def record_lab(lab_name: str, slice_name: str, inventory_dir: Path, mgmt_net: str,
               production_bfd: bool = False) -> None:
    atomic_write_text(names.lab_dir(lab_name) / LAB_META,
                      json.dumps(lab_meta(slice_name, inventory_dir, mgmt_net, production_bfd)) + "\n")


def recorded_production_bfd(lab_name: str) -> bool:
    """Whether a lab that is up was brought up with the production BFD timers: `lab up` again without saying
    keeps them (its routers were deployed with them)."""
    meta = names.lab_dir(lab_name) / LAB_META
    try:
        return meta.exists() and read_lab_meta(meta).get("bfd") == "production"
    except JinbaoError:
        return False  # unreadable: `lab up` rewrites it


def read_lab_meta(meta: Path) -> dict[str, str]:
    """What `jinbao lab up` recorded; anything unreadable or malformed is a one-line error naming the file."""
    again = f"run `jinbao lab up --name {meta.parent.name}` again to rewrite it"
    try:
        info = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise JinbaoError(f"unreadable lab metadata ({e}); {again}", file=str(meta)) from None
    if not isinstance(info, dict):
        raise JinbaoError(f"lab metadata must be a JSON object; {again}", file=str(meta))
    for key in ("slice", "inventory", "mgmt_net", "bfd"):
        if key in info and not isinstance(info[key], str):
            raise JinbaoError(f"must be a string, not {info[key]!r}; {again}", file=str(meta), entry=key)
    for key in ("slice", "inventory"):
        if key not in info:
            raise JinbaoError(f"missing; {again}", file=str(meta), entry=key)
    if info["slice"] not in SLICES:
        raise JinbaoError(f"unknown slice {info['slice']!r} (one of {', '.join(SLICES)}); {again}", file=str(meta),
                          entry="slice")
    if info.get("bfd", "lab") not in ("lab", "production"):
        raise JinbaoError(f"unknown BFD timers {info['bfd']!r} (lab or production); {again}", file=str(meta),
                          entry="bfd")
    if "mgmt_net" in info:
        try:
            parse_mgmt_net(info["mgmt_net"])
        except ValueError as e:
            raise JinbaoError(f"{info['mgmt_net']!r}: {e}; {again}", file=str(meta), entry="mgmt_net") from None
    return info


def lab_plan(lab_name: str) -> tuple[LabPlan, dict[str, str]]:
    """The plan of a lab that is up (as `jinbao lab up` recorded it) and that record."""
    meta = names.lab_dir(lab_name) / LAB_META
    if not meta.exists():
        raise JinbaoError(f"lab {lab_name!r} is not up (no {meta}); run `jinbao lab up --name {lab_name}` first")
    info = read_lab_meta(meta)
    return build_lab(Path(info["inventory"]), info["slice"], lab_name, info.get("mgmt_net", MGMT_NET),
                     info.get("bfd") == "production"), info


def lab_fleet(lab_name: str, scope: str | None) -> Fleet:
    return fleet_of(*lab_plan(lab_name), scope)


def fleet_of(lp: LabPlan, info: dict[str, str], scope: str | None) -> Fleet:
    """The fleet of a lab plan already built (`lab_plan`): for a caller that needs the plan too."""
    lab_name = lp.name
    keep = hosts_in_scope(lp.plan.inv, scope) & set(lp.intents)
    return Fleet({h: i for h, i in lp.intents.items() if h in keep}, lp.mgmt,
                 Access("root", runtime.ssh_key(lab_name), known_hosts=runtime.known_hosts(lab_name), lab=True),
                 LabTestSecrets(), f"lab {lab_name} ({info['slice']} slice)", Path(info["inventory"]),
                 lp.plan.service_prefixes())
