"""Exports of the registration record: JSON (the contract other tools read), Markdown; NetBox in ipplan.netbox."""

from __future__ import annotations

import json
from collections import Counter

from ipplan.keys import RESERVED_PREFIX
from ipplan.registry import Registry

FORMATS = ("json", "netbox-csv", "markdown")
def to_json(reg: Registry) -> str:
    rows = [{"prefix": r.prefix, "pool": r.pool, "af": r.af, "site": r.site, "purpose": r.purpose,
             "status": r.status, "key": r.key, "parent": r.parent or None} for r in reg.sorted()]
    return json.dumps({"allocations": rows}, ensure_ascii=False, indent=1) + "\n"


def to_markdown(reg: Registry) -> str:
    recs = reg.sorted()
    lines = ["# IP registration record (IP地址备案)", "", summary_markdown(reg), "",
             "| prefix | pool | site | purpose | status |", "|---|---|---|---|---|"]
    lines += [f"| {r.prefix} | {r.pool} | {r.site} | {r.purpose} | {r.status} |" for r in recs]
    return "\n".join(lines) + "\n"


def utilisation(reg: Registry) -> list[dict]:
    """Per pool and family: how much of the national pool its direct children use."""
    used_by: Counter[str] = Counter()
    for c in reg.records.values():
        if c.parent:
            used_by[c.parent] += c.end - c.start
    rows = []
    for r in reg.sorted():
        if r.parent or r.key.startswith(RESERVED_PREFIX):
            continue
        used = used_by[r.key]
        rows.append({"pool": r.pool, "af": r.af, "prefix": r.prefix, "used": used, "size": r.end - r.start})
    return rows


def summary(reg: Registry) -> dict:
    status = Counter(r.status for r in reg.records.values())
    util = [dict(u, percent=round(100 * u["used"] / u["size"], 4)) for u in utilisation(reg)]
    return {"allocations": len(reg), "by_status": dict(sorted(status.items())), "pools": util}


def summary_markdown(reg: Registry) -> str:
    s = summary(reg)
    lines = [f"{s['allocations']} allocations ("
             + ", ".join(f"{n} {k}" for k, n in s["by_status"].items()) + ")", "",
             "| pool | family | national prefix | used |", "|---|---|---|---|"]
    lines += [f"| {u['pool']} | IPv{u['af']} | {u['prefix']} | {u['percent']:.2f}% |" for u in s["pools"]]
    return "\n".join(lines)


def render(reg: Registry, fmt: str) -> str:
    if fmt == "json":
        return to_json(reg)
    if fmt == "markdown":
        return to_markdown(reg)
    if fmt == "netbox-csv":
        raise ValueError("netbox-csv is several files: ipplan.netbox.netbox_files")
    raise ValueError(f"unknown export format {fmt!r} (one of {', '.join(FORMATS)})")


