"""Load the GB/T 2260 region table (regions.csv) plus local additions, rejecting duplicates."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from core.errors import JinbaoError
from inventory.model import Region
from inventory.naming import REGION_CODE_RE
from inventory.schema import ExtraRegionDoc

COLUMNS = ["code", "name_zh", "name_en", "level", "province"]
LEVELS = {"province", "municipality", "city", "county-city"}


def load_regions(path: Path, extra: Iterable[ExtraRegionDoc], extra_file: str) -> dict[str, Region]:
    regions: dict[str, Region] = {}
    try:
        fh = path.open(encoding="utf-8", newline="")
    except FileNotFoundError:
        raise JinbaoError("region table not found", file=str(path)) from None
    with fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header != COLUMNS:
            raise JinbaoError(f"header must be {','.join(COLUMNS)}", file=str(path), entry="line 1")
        for lineno, row in enumerate(reader, start=2):
            if len(row) != len(COLUMNS):
                raise JinbaoError(f"expected {len(COLUMNS)} columns, got {len(row)}",
                                  file=str(path), entry=f"line {lineno}")
            _add(regions, Region(*row), str(path), f"line {lineno}")
    for i, doc in enumerate(extra):
        _add(regions, Region(doc.code, doc.name_zh, doc.name_en, doc.level, doc.province),
             extra_file, f"regions.extra.{i}")
    for code, r in regions.items():
        if r.level in ("city", "county-city") and r.province not in regions:
            raise JinbaoError(f"region {code} names unknown province {r.province!r}", file=str(path))
    return regions


def _add(regions: dict[str, Region], r: Region, file: str, entry: str) -> None:
    if not REGION_CODE_RE.match(r.code):
        raise JinbaoError(f"region code {r.code!r} must be six digits", file=file, entry=entry)
    if r.level not in LEVELS:
        raise JinbaoError(f"region {r.code}: unknown level {r.level!r}", file=file, entry=entry)
    if r.code in regions:
        raise JinbaoError(f"duplicate region code {r.code}", file=file, entry=entry)
    if r.level in ("city", "county-city") and r.province[:2] != r.code[:2]:
        raise JinbaoError(f"region {r.code} lies outside its province {r.province}", file=file, entry=entry)
    regions[r.code] = r
