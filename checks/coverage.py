"""Metro-network coverage KPI: the share of agencies, street/community offices and rural townships connected,
per city and nationally, against the seeds' 90% / 70% / 50% targets.

Planned = access sites of that kind the inventory plans for the city; answering = those whose access
router answers SNMPv3 with its planned sysName; offices = how many exist (inventory/offices.yaml). Pure
functions on plain data; the CLI does the I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from core.errors import JinbaoError
from inventory.model import Site

KINDS = ("agency", "community", "township")


@dataclass(frozen=True)
class Offices:
    targets: dict[str, float]
    per_city: dict[str, int]
    overrides: dict[str, dict[str, int]]
    illustrative: bool = False  # the counts are placeholders, not a province's register
    source: str = ""

    def of(self, city: str) -> dict[str, int]:
        return {**self.per_city, **self.overrides.get(city, {})}


def load_offices(path: Path) -> Offices:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise JinbaoError(f"cannot read: {str(e).splitlines()[0]}", file=str(path)) from None
    if not isinstance(data, dict):
        raise JinbaoError("expected a mapping", file=str(path))
    for key in ("targets", "per_city"):
        block = data.get(key)
        if not isinstance(block, dict) or set(block) != set(KINDS):
            raise JinbaoError(f"needs exactly the kinds {', '.join(KINDS)}", file=str(path), entry=key)
    for key, block in [("targets", data["targets"]), ("per_city", data["per_city"]),
                       *((f"overrides.{c}", v) for c, v in (data.get("overrides") or {}).items())]:
        for kind, n in (block or {}).items():
            if kind not in KINDS or not isinstance(n, int | float) or n < 0 or (key == "targets" and n > 100):
                raise JinbaoError(f"{kind}: {n!r} is not a valid count/percentage for a known kind",
                                  file=str(path), entry=key)
    if not isinstance(data.get("illustrative"), bool):
        raise JinbaoError("`illustrative: true|false` is required: say whether the counts are a real register",
                          file=str(path), entry="illustrative")
    return Offices({k: float(v) for k, v in data["targets"].items()}, dict(data["per_city"]),
                   {str(c): dict(v) for c, v in (data.get("overrides") or {}).items()}, data["illustrative"],
                   str(path))


ILLUSTRATIVE_NOTE = ("the office counts (the denominator) are ILLUSTRATIVE placeholders, not a register: "
                     "these shares are not a real coverage figure until the file holds each province's register")


def _pct(n: int, d: int) -> float | None:
    return round(100.0 * n / d, 1) if d else None


def _row(offices: int, planned: int, answering: int | None, target: float) -> dict[str, Any]:
    # More access sites than offices (e.g. offices.yaml not updated) counts as full coverage, not > 100%.
    p = min(planned, offices)
    a = None if answering is None else min(answering, offices)
    pp, ap = _pct(p, offices), (None if a is None else _pct(a, offices))
    return {"offices": offices, "planned": planned, "planned_pct": pp, "answering": answering, "answering_pct": ap,
            "target_pct": target, "planned_ok": pp is not None and pp >= target,
            "answering_ok": None if ap is None else ap >= target}


def coverage(sites: Iterable[Site], offices: Offices, answering: Mapping[str, bool] | None = None,
             cities: Iterable[str] | None = None) -> dict[str, Any]:
    """Per city and national. `answering` = access site id -> its router answered (None: planned only)."""
    sites = list(sites)
    names = {s.code: s.name_en for s in sites if s.tier in ("city", "municipality")}
    wanted = sorted(set(cities) if cities is not None else set(names))
    count: dict[tuple[str, str], list[str]] = {}
    for s in sites:
        if s.tier == "access" and s.access_kind in KINDS:
            count.setdefault((s.city, s.access_kind), []).append(s.id)
    rows = []
    tot = {k: [0, 0, 0] for k in KINDS}  # offices, planned, answering
    for city in wanted:
        per = offices.of(city)
        kinds = {}
        for k in KINDS:
            ids = count.get((city, k), [])
            ans = None if answering is None else sum(bool(answering.get(i)) for i in ids)
            kinds[k] = _row(per[k], len(ids), ans, offices.targets[k])
            tot[k][0] += per[k]
            tot[k][1] += min(len(ids), per[k])
            tot[k][2] += min(ans or 0, per[k])
        rows.append({"city": city, "name": names.get(city, city), "kinds": kinds})
    national = {k: _row(o, p, None if answering is None else a, offices.targets[k]) for k, (o, p, a) in tot.items()}
    return {"targets": offices.targets, "cities": rows, "national": national,
            "source": "inventory" if answering is None else "inventory+network",
            "denominator": {"file": offices.source, "illustrative": offices.illustrative,
                            "note": ILLUSTRATIVE_NOTE if offices.illustrative else "office counts from a register"}}
